#!/usr/bin/env bash
# Clients apart from ranks, measured (docs/clients.md; results in docs/PERFORMANCE.md):
#   1. set-up cost per client: one rank trains N samples as M clients of N/M samples each,
#      against the same N samples as one client (same model, batch, threads, one epoch):
#      the ratio of training seconds per round, interleaved, best of REPEATS;
#   2. memory per rank does not grow with the client count: peak RSS of each of 2 ranks at
#      K = 100 and K = 10,000 clients, 100 per round (fedavg, mlp).
# Usage: bench/clients/run.sh FEDCHAIN DATASET_H5 [REPEATS]
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
repeats=${3:-3}
work=$(mktemp -d /tmp/fedchain-clients-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1

job() {  # job NAME CLIENTS PER_ROUND TRAIN_LIMIT: writes $work/NAME.toml
  cat >"$work/$1.toml" <<JOB
[job]
rounds = 6
seed = 42
[clients]
total = $2
per_round = $3
[data]
path = "$dataset"
train_limit = $4
test_limit = 1000
[model]
arch = "mlp"
hidden = [200]
[train]
local_epochs = 1
batch_size = 32
threads = 1
[consensus]
protocol = "none"
JOB
}

# The median over rounds of train_s in RUN_DIR/metrics.csv.
train_seconds() {
  /usr/bin/python3 - "$1/metrics.csv" <<'PY'
import csv, statistics, sys
print(statistics.median(float(r["train_s"]) for r in csv.DictReader(open(sys.argv[1]))))
PY
}

echo "# 1. one rank, 32,000 samples a round (whole batches of 32 for every client): as M clients against as one client (best of $repeats)"
echo "| clients per rank | train s/round as M clients | as one client | ratio |"
echo "|---|---|---|---|"
job one 1 1 32000
for m in 10 100; do
  job "many$m" "$m" "$m" 32000
  best_many=inf best_one=inf
  for r in $(seq 1 "$repeats"); do
    for name in "many$m" one; do  # interleaved
      rm -rf "$work/run"
      mpirun -n 1 "$fedchain" train "$work/$name.toml" --run-dir "$work/run" >/dev/null 2>&1
      s=$(train_seconds "$work/run")
      if [ "$name" = one ]; then
        best_one=$(/usr/bin/python3 -c "print(min(float('$best_one'), $s))")
      else
        best_many=$(/usr/bin/python3 -c "print(min(float('$best_many'), $s))")
      fi
    done
  done
  ratio=$(/usr/bin/python3 -c "print(f'{$best_many / $best_one:.3f}')")
  echo "| $m | $best_many | $best_one | $ratio |"
done

echo
echo "# 2. peak RSS per rank, 2 ranks, 100 clients per round"
echo "| clients | rank 0 peak RSS MB | rank 1 peak RSS MB |"
echo "|---|---|---|"
for k in 100 10000; do
  job "k$k" "$k" 100 0
  rm -rf "$work/run"
  mpirun -n 2 --oversubscribe /usr/bin/time -f "peak-rss-kb %M" "$fedchain" train "$work/k$k.toml" \
    --run-dir "$work/run" >"$work/k$k.log" 2>&1
  mapfile -t rss < <(grep -o "peak-rss-kb [0-9]*" "$work/k$k.log" | awk '{printf "%.0f\n", $2 / 1024}')
  echo "| $k | ${rss[0]} | ${rss[1]} |"
done
