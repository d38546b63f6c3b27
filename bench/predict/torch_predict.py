#!/usr/bin/env python3
"""PyTorch CPU twin of fedchain_predict_bench: the same models (built by bench/train/torch_baseline.py
from the bench's layer lists, --layers FILE),
batch, thread counts and work (a forward pass and the softmax, eval mode, no autograd), the
same flags (--models and the shared -w/--warmup, -n/--iterations, --sizes for the batch,
--threads) and the same table; bench/predict/compare.sh runs the two side by side.

torch is not a fedchain dependency: Debian's python3-torch, or a throw-away venv.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
from torch_baseline import COLUMNS, ROW, counts, make_model  # noqa: E402

BATCH, SMALL_BATCH = 256, 8  # fedchain_predict_bench's Spec


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="logreg,mlp,cnn,lenet,cifar-cnn")
    parser.add_argument("--layers", required=True,
                        help="JSON of `fedchain_predict_bench --layers --models ...`")
    parser.add_argument("--sizes", default=str(BATCH), help="batches, a,b,c, or small")
    parser.add_argument("--threads", type=counts, default=[1, 2])
    parser.add_argument("-w", "--warmup", type=int, default=3)
    parser.add_argument("-n", "--iterations", type=int, default=20)
    args = parser.parse_args()
    with open(args.layers) as layers:
        described = json.load(layers)
    batches = [SMALL_BATCH] if args.sizes == "small" else counts(args.sizes)
    torch.manual_seed(1)
    print("# torch_predict.py: size = the batch; ratio = throughput / the same model and batch "
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
                model = make_model(described[arch]).eval()
                height, width, channels = described[arch]["input"]
                x = torch.rand(batch, channels, height, width)

                def step():
                    with torch.inference_mode():
                        torch.softmax(model(x), dim=1)

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
