#!/usr/bin/env bash
# End to end: ranks that train with different kernels (docs/training.md, "Ranks with
# different kernels"). On an AVX-512 machine one rank is capped at AVX2 with
# FEDCHAIN_CPU_LEVEL, so the two ranks' oneDNN kernels differ: the run goes on, rank 0 warns
# naming each rank's kernels, and both ranks vote the same roots. A run with one cap on
# every rank says nothing. (A GPU and a CPU rank in one job are refused; node_round_test
# checks that verdict, a GPU node is needed to run it.)
# Usage: mixed_kernels_e2e.sh FEDCHAIN DATASET_H5
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
if ! grep -q -w avx512f /proc/cpuinfo; then
  echo "SKIP: this CPU has no AVX-512, so every rank runs the same (AVX2) kernels"
  exit 77
fi
unset FEDCHAIN_CPU_LEVEL
work=$(mktemp -d /tmp/fedchain-mixed-kernels-e2e-XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$(realpath "$0")")/../support/e2e_lib.sh"
small_job "$dataset"

run() {  # run NAME RANK0_LEVEL RANK1_LEVEL ("" = the CPU's own)
  local name=$1 level0=$2 level1=$3 env0=() env1=()
  [ -n "$level0" ] && env0=(-x "FEDCHAIN_CPU_LEVEL=$level0")
  [ -n "$level1" ] && env1=(-x "FEDCHAIN_CPU_LEVEL=$level1")
  mpirun --oversubscribe -n 1 "${env0[@]}" "$fedchain" train "$work/job.toml" \
    --run-dir "$work/$name" : -n 1 "${env1[@]}" "$fedchain" train "$work/job.toml" \
    --run-dir "$work/$name" >"$work/$name.log" 2>&1 || { cat "$work/$name.log"; fail "run $name"; }
}

run mixed x86-64-v3 ""
if grep -q "backend cpu with eigen" "$work/mixed.log"; then
  echo "SKIP: built without oneDNN, so every rank runs Eigen's kernels whatever its CPU"
  exit 77
fi
grep -q '\[rank 0\] \[warning\] the ranks train with different kernels (rank 0 "cpu with onednn avx2"; rank 1 "cpu with onednn avx512' "$work/mixed.log" || {
  cat "$work/mixed.log"
  fail "rank 0 did not warn, naming each rank's kernels"
}
[ "$(roots "$work/mixed" | wc -l)" = 6 ] || fail "the mixed run did not commit its 6 rounds"
# Each block needs both ranks' votes on its root (small_job runs BFT), and verify recomputes
# every aggregate from the chain.
"$fedchain" verify "$work/mixed" >"$work/verify.log" 2>&1 || { cat "$work/verify.log"; fail "verify"; }

run uniform x86-64-v3 x86-64-v3
if grep -q "different kernels" "$work/uniform.log"; then
  cat "$work/uniform.log"
  fail "a run with the same kernels on every rank warned"
fi
echo "PASS: mixed_kernels_e2e"
