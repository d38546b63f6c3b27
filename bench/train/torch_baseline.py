#!/usr/bin/env python3
"""PyTorch CPU twin of fedchain_train_bench: the same models, batch, thread counts and step
(forward, cross-entropy, backward, SGD with momentum), the same flags (--models and the
shared -w/--warmup, -n/--iterations, --sizes for the batch, --threads) and the same table
(bench/common/bench_flags.hpp); bench/train/compare.sh runs the two side by side.

torch is not a fedchain dependency; install it only for this comparison, e.g.
  python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch
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


# fedchain_train_bench's Spec: the default and the smoke-test (--sizes small) batch.
BATCH, SMALL_BATCH = 64, 8
COLUMNS = "{:<28} {:>12} {:>7} {:>14} {:>14} {:>12} {:<10} {:>7}"
ROW = "{:<28} {:>12} {:>7} {:>14.1f} {:>14.1f} {:>12.2f} {:<10} {:>7.2f}"


def counts(text):
    return [int(part) for part in text.split(",")]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="logreg,mlp,cnn,lenet")
    parser.add_argument("--sizes", default=str(BATCH), help="batches, a,b,c, or small")
    parser.add_argument("--threads", type=counts, default=[1, 2])
    parser.add_argument("-w", "--warmup", type=int, default=3)
    parser.add_argument("-n", "--iterations", type=int, default=20)
    args = parser.parse_args()
    batches = [SMALL_BATCH] if args.sizes == "small" else counts(args.sizes)
    torch.manual_seed(1)
    print("# torch_baseline.py: size = the batch; ratio = throughput / the same model and batch "
          "at the first of --threads, in the same run")
    print(f"# {args.warmup} warm-up and {args.iterations} timed iterations per row; times are the "
          "mean per iteration")
    print(COLUMNS.format("# benchmark", "size", "threads", "time/iter us", "cpu/iter us",
                         "throughput", "unit", "ratio"))
    first = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        for batch in batches:
            for arch in args.models.split(","):
                model = make_model(arch)
                optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
                x = torch.rand(batch, 1, 28, 28)
                y = torch.randint(0, 10, (batch,))

                def step():
                    optimizer.zero_grad(set_to_none=True)
                    loss = nn.functional.cross_entropy(model(x), y)
                    loss.backward()
                    optimizer.step()

                for _ in range(args.warmup):
                    step()
                start = time.perf_counter()
                cpu_start = time.process_time()
                for _ in range(args.iterations):
                    step()
                seconds = (time.perf_counter() - start) / args.iterations
                cpu_seconds = (time.process_time() - cpu_start) / args.iterations
                rate = batch / seconds
                baseline = first.setdefault((arch, batch), rate)
                print(ROW.format(arch, batch, threads, seconds * 1e6, cpu_seconds * 1e6, rate,
                                 "samples/s", rate / baseline), flush=True)


if __name__ == "__main__":
    main()
