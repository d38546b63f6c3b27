#!/usr/bin/env bash
# Clients apart from ranks, measured (docs/clients.md; results in docs/PERFORMANCE.md):
#   1. what a client costs beyond its samples: one rank trains N samples as M clients of N/M
#      samples each, against the same N samples as one client (same model, batch, threads,
#      one epoch), interleaved in one process (fedchain_clients_bench), at three shapes;
#   2. memory per rank does not grow with the client count: peak RSS of each of 2 ranks at
#      K = 100 and K = 10,000 clients, 100 per round (fedavg, mlp), whole `fedchain train` runs.
# Usage: bench/clients/run.sh BUILD_DIR DATASET_H5 [ITERATIONS]
set -euo pipefail
build=$(realpath "$1")
fedchain=$build/src/cli/fedchain
clients_bench=$build/bench/clients/fedchain_clients_bench
dataset=$(realpath "$2")
iterations=${3:-20}
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

echo "# 1. one rank, N samples a round as M clients against as one client"
# 32,000 gives every client whole batches of 32 (100 or 10 a client), so both sides take the
# same steps; 60,000 as 100 is docs/RESULTS.md's Fashion-MNIST study on one rank, where each
# client's 600 samples take 18 batches of 32 and one of 24.
"$clients_bench" --data "$dataset" --samples 32000 --sizes 10,100 --iterations "$iterations"
"$clients_bench" --data "$dataset" --samples 60000 --sizes 100 --iterations "$iterations" |
  grep -v '^#'
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
