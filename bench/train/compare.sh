#!/usr/bin/env bash
# Training throughput of fedchain's CPU backend against PyTorch's CPU path, interleaved:
# fedchain, PyTorch, fedchain, PyTorch, ... (ROUNDS of each, same models, batch, threads and
# step), then the best of each side per (model, batch, threads), so that both sides see the
# same machine state on a shared machine. Both print the benches' shared table
# (bench/common/bench_flags.hpp); this prints one table of them side by side:
#
#   samples/s   best over the rounds of the table's throughput (batch / time per iteration)
#   cpu ms      best over the rounds of the table's CPU time per iteration (process CPU time,
#               less disturbed by other jobs than wall time; at 1 thread it equals the wall
#               time per step on a quiet machine)
#   ratio       fedchain samples/s / PyTorch samples/s (target, issue 5: >= 1.0)
#   cpu ratio   PyTorch cpu ms / fedchain cpu ms
#
# usage: bench/train/compare.sh BENCH_BINARY PYTHON [ROUNDS] [-- args for both: --models and
#        the shared -w, -n, --sizes (the batch) and --threads, e.g. --models cnn,cifar-cnn
#        --threads 1,2 -n 20]
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 BENCH_BINARY PYTHON [ROUNDS] [-- bench args]" >&2
  exit 2
fi
bench=$1
python=$2
shift 2
rounds=3
if [[ $# -gt 0 && $1 != "--" ]]; then
  rounds=$1
  shift
fi
[[ $# -gt 0 && $1 == "--" ]] && shift
here=$(cd "$(dirname "$0")" && pwd)
# The PyTorch side: training here; bench/predict/compare.sh sets its inference twin.
twin=${FEDCHAIN_TORCH_TWIN:-$here/torch_baseline.py}
results=$(mktemp)
layers=$(mktemp)
trap 'rm -f "$results" "$layers"' EXIT
# PyTorch builds its networks from the bench's layer lists (--layers): the same stacks on both
# sides.
"$bench" --layers "$@" >"$layers"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((round = 1; round <= rounds; ++round)); do
  # Table columns: benchmark (the model), size (the batch), threads, time/iter us,
  # cpu/iter us, throughput, unit, ratio; header lines start with '#'.
  "$bench" "$@" | awk '!/^#/ { print "fedchain", $1, $2, $3, $6, $5 / 1000 }' >>"$results"
  "$python" "$twin" --layers "$layers" "$@" 2>/dev/null |
    awk '!/^#/ { print "pytorch", $1, $2, $3, $6, $5 / 1000 }' >>"$results"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Columns of $results: side model batch threads samples/s cpu_ms
awk -v rounds="$rounds" '
  {
    key = $2 " " $3 " " $4
    if (!(key in order)) { order[key] = ++keys; names[keys] = key }
    if ($5 > rate[$1, key]) rate[$1, key] = $5
    if (!(($1, key) in cpu) || $6 < cpu[$1, key]) cpu[$1, key] = $6
  }
  END {
    printf "best of %d interleaved rounds\n", rounds
    printf "%-8s %6s %8s %12s %12s %7s %12s %12s %9s\n", "model", "batch", "threads",
           "fedchain/s", "pytorch/s", "ratio", "fedchain ms", "pytorch ms", "cpu ratio"
    for (i = 1; i <= keys; ++i) {
      key = names[i]
      split(key, part, " ")
      f = rate["fedchain", key]; p = rate["pytorch", key]
      fc = cpu["fedchain", key]; pc = cpu["pytorch", key]
      printf "%-8s %6s %8s %12.1f %12.1f %7.2f %12.3f %12.3f %9.2f\n", part[1], part[2], part[3],
             f, p, (p > 0 ? f / p : 0), fc, pc, (fc > 0 ? pc / fc : 0)
    }
  }' "$results"
