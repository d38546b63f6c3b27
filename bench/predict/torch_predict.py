#!/usr/bin/env python3
"""PyTorch CPU twin of fedchain_predict_bench: the same models (built by bench/train/torch_baseline.py
from the bench's layer lists, --layers FILE),
batch, thread counts and work (a forward pass and the softmax, eval mode, no autograd), the
same flags (--models and the shared -w/--warmup, -n/--iterations, --sizes for the batch,
--threads) and the same table; bench/predict/compare.sh runs the two side by side.

torch is not a fedchain dependency: Debian's python3-torch, or a throw-away venv.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "train"))
from torch_baseline import run_bench  # noqa: E402

BATCH = 256  # fedchain_predict_bench's Spec


def inference_step(model, x, _labels):
    """A forward pass and the softmax in eval mode without autograd, as fedchain predicts."""
    model.eval()

    def step():
        with torch.inference_mode():
            torch.softmax(model(x), dim=1)

    return step


if __name__ == "__main__":
    run_bench("torch_predict.py", BATCH, inference_step)
