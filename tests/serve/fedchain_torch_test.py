"""python/fedchain_torch.py on architectures no preset has yet: pooling with a kernel and
stride, avgpool, dropout, groupnorm and a strided conv, as `model.layers` spells them
(docs/export.md). Each module's state_dict keys must be the fedchain names, its output
the class count, and a safetensors file written here (numpy, the export's layout) must load
through `load` with the same output as the module it came from. Exit 77 without torch.
"""
import json
import os
import struct
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError as missing:
    print(f"skipped: /usr/bin/python3 lacks {missing.name} (Debian's python3-torch)")
    sys.exit(77)

sys.path.insert(0, sys.argv[1])
import fedchain_torch  # noqa: E402

ARCH = {
    "arch": "custom",
    "input": {"channels": 3, "height": 32, "width": 32, "scale": 1 / 255},
    "classes": 10,
    "layers": [
        {"type": "conv2d", "name": "conv1", "out": 8, "kernel": 3, "stride": 2, "padding": 1},
        {"type": "groupnorm", "name": "norm1", "groups": 4},
        {"type": "relu"},
        {"type": "maxpool", "kernel": 3, "stride": 2},
        {"type": "conv2d", "name": "conv2", "out": 16, "kernel": 3, "padding": 1},
        {"type": "relu"},
        {"type": "avgpool", "kernel": 2},
        {"type": "flatten"},
        {"type": "dropout", "rate": 0.5},
        {"type": "dense", "name": "fc1", "out": 32},
        {"type": "relu"},
        {"type": "dense", "name": "fc2", "out": 10},
    ],
    "normalization": {"mean": [0.5, 0.4, 0.3], "std": [0.2, 0.25, 0.3]},
}
# conv1: 32 -> 16; maxpool 3/2: 16 -> 7; avgpool 2: 7 -> 3; 16 x 3 x 3 = 144 inputs to fc1.
EXPECTED = {"conv1.weight": (8, 3, 3, 3), "conv1.bias": (8,), "norm1.weight": (8,),
            "norm1.bias": (8,), "conv2.weight": (16, 8, 3, 3), "conv2.bias": (16,),
            "fc1.weight": (32, 144), "fc1.bias": (32,), "fc2.weight": (10, 32), "fc2.bias": (10,)}


def write_safetensors(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name, value in tensors.items():
        blob = np.ascontiguousarray(value, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(value.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


torch.manual_seed(0)
module = fedchain_torch.build_module(ARCH)
shapes = {name: tuple(value.shape) for name, value in module.state_dict().items()}
if shapes != EXPECTED:
    sys.exit(f"state_dict {shapes} is not {EXPECTED}")
module.eval()
images = np.random.default_rng(1).integers(0, 256, size=(5, 3, 32, 32), dtype=np.uint8)
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "custom.safetensors")
    state = {name: value.numpy() for name, value in module.state_dict().items()}
    write_safetensors(path, state, {"format": "fedchain-export/1", "chain_id": "00" * 32,
                                    "height": "0", "state_root": "00" * 32,
                                    "architecture": json.dumps(ARCH)})
    loaded = fedchain_torch.load(path)
    x = fedchain_torch.prepare(loaded, images)
    with torch.no_grad():
        expected, got = module(x), loaded(x)
if tuple(got.shape) != (5, 10):
    sys.exit(f"output shape {tuple(got.shape)}, expected (5, 10)")
if not torch.equal(expected, got):
    sys.exit("the loaded module does not reproduce the one it was written from")
mean = torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)
std = torch.tensor([0.2, 0.25, 0.3]).view(1, 3, 1, 1)
if not torch.allclose(x, (torch.as_tensor(images).float() / 255 - mean) / std, atol=1e-5):
    sys.exit("prepare does not normalise per channel")
print("custom layers: state_dict names and shapes, load and prepare agree")
