#!/usr/bin/env python3
"""PyTorch CPU twin of fedchain_train_bench: the same models, batch, thread counts and step
(forward, cross-entropy, backward, SGD with momentum), printing the same table.

torch is not a fedchain dependency; install it only for this comparison, e.g.
  python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch
Columns as in train_bench.cpp: samples/s = batch * iterations / seconds; cpu ms/step = the
process's CPU time (every thread) / iterations.
"""
import argparse
import time

import torch
from torch import nn


def make_model(arch):
    if arch == "logreg":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    if arch == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 200), nn.ReLU(), nn.Linear(200, 200),
                             nn.ReLU(), nn.Linear(200, 10))
    if arch == "cnn":  # McMahan et al. 2017, 'same' padding
        return nn.Sequential(nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(3136, 512), nn.ReLU(), nn.Linear(512, 10))
    if arch == "lenet":
        return nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5),
                             nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 120),
                             nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    raise ValueError(arch)


FORWARD_MACS = {
    "logreg": 784 * 10,
    "mlp": 784 * 200 + 200 * 200 + 200 * 10,
    "cnn": 28 * 28 * 32 * 25 + 14 * 14 * 64 * 800 + 3136 * 512 + 5120,
    "lenet": 24 * 24 * 6 * 25 + 8 * 8 * 16 * 150 + 256 * 120 + 120 * 84 + 840,
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="logreg,mlp,cnn,lenet")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("-w", type=int, default=3)
    parser.add_argument("-n", type=int, default=20)
    args = parser.parse_args()
    torch.manual_seed(1)
    print(f"{'model':<8} {'batch':>6} {'threads':>8} {'ms/step':>10} {'samples/s':>12} "
          f"{'GFLOP/s':>9} {'cpu ms/step':>12}")
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for arch in args.models.split(","):
            model = make_model(arch)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
            x = torch.rand(args.batch, 1, 28, 28)
            y = torch.randint(0, 10, (args.batch,))

            def step():
                optimizer.zero_grad(set_to_none=True)
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                optimizer.step()

            for _ in range(args.w):
                step()
            start = time.perf_counter()
            cpu_start = time.process_time()
            for _ in range(args.n):
                step()
            seconds = time.perf_counter() - start
            cpu_seconds = time.process_time() - cpu_start
            rate = args.batch * args.n / seconds
            print(f"{arch:<8} {args.batch:>6} {threads:>8} {seconds / args.n * 1e3:>10.3f} "
                  f"{rate:>12.1f} {6 * FORWARD_MACS[arch] * rate / 1e9:>9.2f} "
                  f"{cpu_seconds / args.n * 1e3:>12.3f}", flush=True)


if __name__ == "__main__":
    main()
