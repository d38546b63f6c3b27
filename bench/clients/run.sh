#!/usr/bin/env bash
# Clients apart from ranks, measured (docs/clients.md; results in docs/PERFORMANCE.md):
#   1. set-up cost per client: one rank trains N samples as M clients of N/M samples each,
#      against the same N samples as one client (same model, batch, threads, one epoch):
#      the ratio of a round's client work (its train and quantize columns: every per-client
#      step, from loading theta to q_k), interleaved, best of REPEATS;
#   2. memory per rank does not grow with the client count: peak RSS of each of 2 ranks at
#      K = 100 and K = 10,000 clients, 100 per round (fedavg, mlp).
# Usage: bench/clients/run.sh FEDCHAIN DATASET_H5 [REPEATS]
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
repeats=${3:-5}
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

# The median over rounds of train_s + quantize_s in RUN_DIR/metrics.csv.
client_seconds() {
  /usr/bin/python3 - "$1/metrics.csv" <<'PY'
import csv, statistics, sys
rows = csv.DictReader(open(sys.argv[1]))
print(statistics.median(float(r["train_s"]) + float(r["quantize_s"]) for r in rows))
PY
}

echo "# 1. one rank, as M clients against as one client (best of $repeats, interleaved)"
echo "| samples a round | clients | samples each | client s/round as M clients | as one client | ratio |"
echo "|---|---|---|---|---|---|"
# (samples a round, clients): 32,000 gives every client whole batches of 32, so both sides
# take the same steps; 60,000 as 100 is docs/RESULTS.md's Fashion-MNIST study on one rank,
# where each client's 600 samples take 18 batches of 32 and one of 24.
for shape in "32000 10" "32000 100" "60000 100"; do
  read -r n m <<<"$shape"
  job one 1 1 "$n"
  job many "$m" "$m" "$n"
  best_many=inf best_one=inf
  for r in $(seq 1 "$repeats"); do
    for name in many one; do  # interleaved
      rm -rf "$work/run"
      mpirun -n 1 "$fedchain" train "$work/$name.toml" --run-dir "$work/run" >/dev/null 2>&1
      s=$(client_seconds "$work/run")
      if [ "$name" = one ]; then
        best_one=$(/usr/bin/python3 -c "print(min(float('$best_one'), $s))")
      else
        best_many=$(/usr/bin/python3 -c "print(min(float('$best_many'), $s))")
      fi
    done
  done
  /usr/bin/python3 -c "print(f'| $n | $m | $((n / m)) | {$best_many:.3f} | {$best_one:.3f} | {$best_many / $best_one:.3f} |')"
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
