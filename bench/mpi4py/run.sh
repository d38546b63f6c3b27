#!/usr/bin/env bash
# fedchain against hand-written PyTorch + mpi4py FedAvg of the same job (issue 21; docs/
# PERFORMANCE.md, "Round time against PyTorch and mpi4py"): jobs/fmnist-mlp-8.toml on RANKS
# ranks (default 4), one client per rank, MLP 784-200-200-10, one local epoch of plain SGD
# at batch 32, fedavg, the test split evaluated every round; one thread per rank on both
# sides. fedchain runs with consensus.protocol = "none" and "bft" (signed updates, hashes,
# the vote, blocks on disk); the peer is bench/mpi4py/fedavg_mpi4py.py. Interleaved, best of
# REPEATS; each run's figure is the median round time after WARMUP rounds, so neither MPI's
# nor Python's start-up counts.
#
# Usage: bench/mpi4py/run.sh FEDCHAIN DATASET_H5 PYTHON [REPEATS]
#   environment: RANKS (4), WARMUP (3), ROUNDS (timed rounds after the warm-up, 10),
#   QUIET_WAIT (1: before each run wait, at most 25 minutes, for no compiler or ctest and a
#   1-minute load below 1).
# PYTHON is a throw-away venv's python with torch, mpi4py and h5py, for instance
#   /usr/bin/python3 -m venv /tmp/torch-venv
#   /tmp/torch-venv/bin/pip install torch mpi4py h5py
# torch and mpi4py are never a dependency of fedchain.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
python=$3
repeats=${4:-3}
ranks=${RANKS:-4}
warmup=${WARMUP:-3}
rounds=${ROUNDS:-10}
quiet_wait=${QUIET_WAIT:-1}
total=$((warmup + rounds))
work=$(mktemp -d /tmp/fedchain-mpi4py-bench-XXXXXX)
trap '[ -z "${watcher:-}" ] || kill "$watcher" 2>/dev/null; rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
mpi=(mpirun -n "$ranks" --oversubscribe)
source "$repo/bench/common/quiet.sh"

"$fedchain" keygen --ranks "$ranks" --out "$work/keys" >/dev/null

# median seconds per round and training seconds over the timed rounds, then the last test
# accuracy: from fedchain's metrics.csv (rank 0) or the peer's JSON.
figures() {
  /usr/bin/python3 - "$1" "$warmup" <<'PY'
import csv, json, statistics, sys
path, warmup = sys.argv[1], int(sys.argv[2])
rows = json.load(open(path))["rounds"] if path.endswith(".json") else list(csv.DictReader(open(path)))
timed = rows[warmup:]
med = lambda key: statistics.median(float(r[key]) for r in timed)
print(f"{med('round_s'):.4f} {med('train_s'):.4f} {float(rows[-1]['test_acc']):.4f}")
PY
}

run_fedchain() {  # run_fedchain PROTOCOL
  rm -rf "$work/run"
  "${mpi[@]}" "$fedchain" train "$repo/jobs/fmnist-mlp-8.toml" --run-dir "$work/run" \
    --set job.ranks="$ranks" --set data.path="$dataset" --set job.rounds="$total" \
    --set keys.dir="$work/keys" --set train.threads=1 --set consensus.protocol="$1" \
    >"$work/fedchain.log" 2>&1 || { tail -20 "$work/fedchain.log" >&2; exit 1; }
  figures "$work/run/metrics.csv"
}

run_peer() {
  "${mpi[@]}" "$python" "$here/fedavg_mpi4py.py" --data "$dataset" --out "$work/peer.json" \
    --rounds "$total" --hidden 200 200 --lr 0.05 --batch 32 --epochs 1 --threads 1 --seed 42 \
    >"$work/peer.log" 2>&1 || { tail -20 "$work/peer.log" >&2; exit 1; }
  figures "$work/peer.json"
}

echo "# $ranks ranks, jobs/fmnist-mlp-8.toml, rounds 1-$warmup warm-up, median of rounds $((warmup + 1))-$total; $(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs"
echo "| repeat | system | load at start | s/round | train s | test acc at round $total |"
echo "|---|---|---|---|---|---|"
systems=(none bft peer)
name_of() {
  case $1 in none) echo "fedchain, no chain" ;; bft) echo "fedchain, bft" ;; peer) echo "PyTorch + mpi4py" ;; esac
}
for r in $(seq 1 "$repeats"); do
  for system in "${systems[@]}"; do  # interleaved
    load=$(wait_quiet)
    watch_start
    if [ "$system" = peer ]; then result=$(run_peer); else result=$(run_fedchain "$system"); fi
    watch_stop
    read -r s train acc <<<"$result"
    if [ -e "$work/disturbed" ]; then load="$load (disturbed)"; fi
    echo "| $r | $(name_of "$system") | $load | $s | $train | $acc |"
    note_run "$system" "$s" "$load"
  done
done
settle_best "${systems[@]}"
echo
echo "| system | s/round (best run) | quiet runs of $repeats | peer / system (> 1: faster than the peer) |"
echo "|---|---|---|---|"
for system in "${systems[@]}"; do
  ratio=$(/usr/bin/python3 -c "print(f'{${best[peer]} / ${best[$system]}:.2f}')")
  echo "| $(name_of "$system") | ${best[$system]} | ${quiet[$system]:-0} | $ratio |"
done
