#!/usr/bin/env bash
# One GPU session's checks (issue 22; docs/training.md, "CUDA backend"), prepared here and
# run once on the GPU machine, which has the CUDA runtime, cuBLAS and NCCL but no compiler,
# MPI or HDF5 packages:
#   bash scripts/gpu-session.sh bundle        here: build (preset ci) and copy the GPU tests
#                                             and benches with their libraries to
#                                             build/gpu-bundle (about 55 MB, within the
#                                             device tool's 64 MiB carry)
#   bash scripts/gpu-session.sh run OUT       there, from the repository root with
#                                             build/gpu-bundle carried: every gpu test,
#                                             compute-sanitizer memcheck over them, the GPU
#                                             benches, and PyTorch on the same GPU where a
#                                             python with CUDA torch is found
# `run` goes on past a failure: OUT/summary.txt lists each step with its exit status and
# OUT/*.log hold the outputs, so one session shows everything that needs a rerun.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bundle=$here/build/gpu-bundle

case ${1:-} in
bundle)
  set -e
  cmake --preset ci >/dev/null
  cmake --build --preset ci -j"$(nproc)"
  rm -rf "$bundle"
  "$here/scripts/bundle-binaries.sh" "$bundle" "$here"/build/ci/tests/kernels/gpu_*_test \
    "$here/build/ci/bench/train/fedchain_train_bench" \
    "$here/build/ci/bench/crypto/gpu_merkle_bench" \
    "$here/build/ci/bench/aggregate/gpu_aggregate_bench"
  ;;
run)
  out=${2:?usage: gpu-session.sh run OUT}
  mkdir -p "$out"
  [ -d "$bundle/bin" ] || { echo "no $bundle: run 'gpu-session.sh bundle' first" >&2; exit 2; }
  cublas_dir=$(dirname "$(find / -name 'libcublasLt.so.13*' -print -quit 2>/dev/null)")
  export LD_LIBRARY_PATH=$bundle/lib:/usr/local/cuda/lib64:$cublas_dir
  summary=$out/summary.txt
  : >"$summary"
  step() {  # step NAME COMMAND...: runs it, output to OUT/NAME.log, a line in the summary
    local name=$1
    shift
    local start=$SECONDS
    "$@" >"$out/$name.log" 2>&1
    local rc=$?
    printf '%-40s rc %-3s %4ss\n' "$name" "$rc" "$((SECONDS - start))" | tee -a "$summary"
  }
  step device nvidia-smi
  for test in "$bundle"/bin/gpu_*_test; do
    step "$(basename "$test")" "$test"
  done
  if command -v compute-sanitizer >/dev/null || [ -x /usr/local/cuda/bin/compute-sanitizer ]; then
    sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
    for test in "$bundle"/bin/gpu_*_test; do
      # Death tests abort on purpose; memcheck would report their exits.
      step "memcheck-$(basename "$test")" "$sanitizer" --tool memcheck --error-exitcode 9 \
        "$test" --gtest_filter=-*DeathTest*
    done
  fi
  step gpu_merkle_bench "$bundle/bin/gpu_merkle_bench"
  step gpu_aggregate_bench "$bundle/bin/gpu_aggregate_bench"
  step train_bench_cuda "$bundle/bin/fedchain_train_bench" --device cuda \
    --models mlp,cnn,lenet,cifar-cnn --sizes 32,64,256 -n 50
  for python in python3 /usr/bin/python3; do
    if "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' \
      2>/dev/null; then
      step train_vs_pytorch_cuda "$here/bench/train/compare.sh" \
        "$bundle/bin/fedchain_train_bench" "$python" 3 -- --device cuda \
        --models mlp,cnn,lenet --sizes 64 --threads 1 -n 50
      break
    fi
  done
  cat "$summary"
  ;;
*)
  echo "usage: gpu-session.sh bundle | run OUT" >&2
  exit 2
  ;;
esac
