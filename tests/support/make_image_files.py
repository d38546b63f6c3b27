#!/usr/bin/env python3
"""Writes small image-classification sets in the exact published and user formats, for the
data tests: CIFAR-10 binaries (data_batch_1..5.bin, test_batch.bin: one label byte, then
1,024 red, 1,024 green, 1,024 blue bytes per record) and .npy arrays (format 1.0) with
client ids. Plain Python, no numpy, so any python3 runs it.

Each class k has its own colour, (k * 25, 255 - k * 25, (k * 70) % 256), plus noise, and a
bright square whose corner moves with k, so a small CNN or MLP can learn it.

Usage: make_image_files.py OUT_DIR [PER_BATCH] [SIDE]
  OUT_DIR/cifar/*.bin        5 x PER_BATCH train and PER_BATCH test records, 32 x 32
  OUT_DIR/npy/x.npy y.npy c.npy  5 x PER_BATCH images (N, 3, SIDE, SIDE) uint8, int64 labels,
                                 int32 client ids 10 + (i mod 4)
"""
import os
import random
import struct
import sys


def image(k, side, rng):
    colour = (k * 25, 255 - k * 25, (k * 70) % 256)
    square = max(1, side // 4)
    corner = (k * 3) % max(1, side - square)
    planes = []
    for c in range(3):
        plane = bytearray()
        for y in range(side):
            for x in range(side):
                v = colour[c] + rng.randint(-30, 30)
                if corner <= y < corner + square and corner <= x < corner + square:
                    v = 255 - v
                plane.append(max(0, min(255, v)))
        planes.append(bytes(plane))
    return b"".join(planes)


def npy(path, descr, shape, payload):
    header = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, "".join("%d, " % d for d in shape).rstrip(" "))
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
        f.write(payload)


def main():
    out = sys.argv[1]
    per_batch = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    side = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    rng = random.Random(17)
    os.makedirs(os.path.join(out, "cifar"), exist_ok=True)
    os.makedirs(os.path.join(out, "npy"), exist_ok=True)
    names = ["data_batch_%d.bin" % b for b in range(1, 6)] + ["test_batch.bin"]
    for name in names:
        with open(os.path.join(out, "cifar", name), "wb") as f:
            for _ in range(per_batch):
                k = rng.randrange(10)
                f.write(bytes([k]) + image(k, 32, rng))
    n = 5 * per_batch
    labels = [rng.randrange(10) for _ in range(n)]
    pixels = b"".join(image(k, side, rng) for k in labels)
    npy(os.path.join(out, "npy", "x.npy"), "|u1", (n, 3, side, side), pixels)
    npy(os.path.join(out, "npy", "y.npy"), "<i8", (n,), struct.pack("<%dq" % n, *labels))
    clients = [10 + i % 4 for i in range(n)]
    npy(os.path.join(out, "npy", "c.npy"), "<i4", (n,), struct.pack("<%di" % n, *clients))


if __name__ == "__main__":
    main()
