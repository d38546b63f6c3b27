#!/usr/bin/env bash
# Inference throughput of fedchain (fedchain_predict_bench) against PyTorch
# (torch_predict.py) on the same models, batch and threads, interleaved in one run: the
# table and method of bench/train/compare.sh, whose loop this runs with the inference twin.
#
# usage: bench/predict/compare.sh BENCH_BINARY PYTHON [ROUNDS] [-- --models cnn,lenet
#        --threads 1,2 --sizes 256 -n 20]
# e.g.   bench/predict/compare.sh build/release/bench/predict/fedchain_predict_bench /usr/bin/python3
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
FEDCHAIN_TORCH_TWIN="$here/torch_predict.py" exec "$here/../train/compare.sh" "$@"
