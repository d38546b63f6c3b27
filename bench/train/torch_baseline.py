#!/usr/bin/env python3
"""PyTorch twin of fedchain_train_bench: the same models, batch, thread counts and step
(forward, cross-entropy, backward, SGD with momentum), the same flags (--models, --device
and the shared -w/--warmup, -n/--iterations, --sizes for the batch, --threads) and the same
table (bench/common/bench_flags.hpp); bench/train/compare.sh runs the two side by side.
On a GPU (--device cuda) both sides compute in full fp32, as fedchain's CUDA backend does
(TF32 off); cuDNN may pick its fastest algorithms, as a tuned PyTorch job would, and each
timed stretch ends with a synchronize.

The networks are built from fedchain's own architectures (--layers FILE, the JSON that
`fedchain_train_bench --layers --models ...` prints, read by python/fedchain_torch.py as
an export's metadata), so both sides train the same stack:
nn.Conv2d, MaxPool2d, AvgPool2d, ReLU, Flatten, Linear, Dropout and GroupNorm in the same
order and sizes, in training mode (dropout on).

torch is not a fedchain dependency; install it only for this comparison, e.g.
  python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch
"""
import argparse
import json
import os
import sys
import time

import torch

# The network builder of the export's loader: the same reading of fedchain's architecture.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from fedchain_torch import build_module  # noqa: E402


# fedchain_train_bench's Spec: the default and the smoke-test (--sizes small) batch.
BATCH, SMALL_BATCH = 64, 8
COLUMNS = "{:<28} {:>12} {:>7} {:>14} {:>14} {:>12} {:<10} {:>7}"
ROW = "{:<28} {:>12} {:>7} {:>14.1f} {:>14.1f} {:>12.2f} {:<10} {:>7.2f}"


def counts(text):
    return [int(part) for part in text.split(",")]


def run_bench(program, batch, make_step):
    """The twins' shared main: flags, the table, and one row per (threads, batch, model),
    timed over make_step(model, x, y, classes), the step for one batch of that model."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="logreg,mlp,cnn,lenet,cifar-cnn")
    parser.add_argument("--layers", required=True,
                        help="JSON of the fedchain bench's `--layers --models ...`")
    parser.add_argument("--sizes", default=str(batch), help="batches, a,b,c, or small")
    parser.add_argument("--threads", type=counts, default=[1, 2])
    parser.add_argument("-w", "--warmup", type=int, default=3)
    parser.add_argument("-n", "--iterations", type=int, default=20)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    sync = torch.cuda.synchronize if args.device == "cuda" else (lambda: None)
    with open(args.layers) as layers:
        described = json.load(layers)
    batches = [SMALL_BATCH] if args.sizes == "small" else counts(args.sizes)
    torch.manual_seed(1)
    print(f"# {program}: size = the batch; ratio = throughput / the same model and batch "
          "at the first of --threads, in the same run")
    print(f"# {args.warmup} warm-up and {args.iterations} timed iterations per row; times are the "
          "mean per iteration")
    print(COLUMNS.format("# benchmark", "size", "threads", "time/iter us", "cpu/iter us",
                         "throughput", "unit", "ratio"))
    first = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        for size in batches:
            for arch in args.models.split(","):
                shape = described[arch]["input"]
                classes = described[arch]["classes"]
                x = torch.rand(size, shape["channels"], shape["height"], shape["width"])
                y = torch.randint(0, classes, (size,))
                step = make_step(build_module(described[arch]).to(device), x.to(device),
                                 y.to(device))
                for _ in range(args.warmup):
                    step()
                sync()
                start = time.perf_counter()
                cpu_start = time.process_time()
                for _ in range(args.iterations):
                    step()
                sync()
                seconds = (time.perf_counter() - start) / args.iterations
                cpu_seconds = (time.process_time() - cpu_start) / args.iterations
                rate = size / seconds
                baseline = first.setdefault((arch, size), rate)
                print(ROW.format(arch, size, threads, seconds * 1e6, cpu_seconds * 1e6, rate,
                                 "samples/s", rate / baseline), flush=True)


def training_step(model, x, y):
    """One SGD-with-momentum step on the batch, as fedchain_train_bench times it."""
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()

    return step


def main():
    run_bench("torch_baseline.py", BATCH, training_step)


if __name__ == "__main__":
    main()
