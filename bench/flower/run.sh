#!/usr/bin/env bash
# fedchain against Flower's simulation of the same job (docs/RESULTS.md, "Clients apart from
# ranks"): jobs/fmnist-mlp-clients-100.toml, 100 clients, 10 a round, MLP 784-200-10, one
# local epoch of SGD, FedAvg, evaluated every round, on 2 CPUs: fedchain on 2 ranks of one
# thread each, with consensus.protocol = "none" and "bft"; Flower with 2 Ray actors of one
# CPU and one torch thread each. Interleaved, best of REPEATS; each run's figure is the
# median round time after WARMUP rounds (so neither MPI nor Ray start-up counts).
#
# Usage: bench/flower/run.sh FEDCHAIN DATASET_H5 FLOWER_PYTHON [REPEATS]
#   environment: PARTITION (iid | dirichlet | label_shards; default iid), WARMUP (5),
#   ROUNDS (timed rounds after the warm-up, 20), QUIET_WAIT (1: before each run wait, at
#   most 25 minutes, until no compiler or ctest runs and the 1-minute load is below 1).
# A run is marked "busy" when it started without the machine getting quiet, and "disturbed"
# when a compiler or ctest appeared while it ran (checked every 2 s); the best of each
# system is taken over its unmarked runs where it has any.
#
# Flower and torch are never a dependency of fedchain: FLOWER_PYTHON is a throw-away venv's
# python, for instance
#   /usr/bin/python3 -m venv /tmp/flwr-venv
#   /tmp/flwr-venv/bin/pip install torch "flwr[simulation]" h5py
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
flower_python=$3
repeats=${4:-3}
partition=${PARTITION:-iid}
warmup=${WARMUP:-5}
rounds=${ROUNDS:-20}
quiet_wait=${QUIET_WAIT:-1}
total=$((warmup + rounds))
work=$(mktemp -d /tmp/fedchain-flower-bench-XXXXXX)
trap '[ -z "${watcher:-}" ] || kill "$watcher" 2>/dev/null; rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1

"$fedchain" keygen --ranks 2 --out "$work/keys" >/dev/null

source "$repo/bench/common/quiet.sh"

# medians over the timed rounds of: seconds per round, training seconds, evaluation seconds;
# then the test accuracy at the last round. fedchain: rank 0's training (its 5 of the 10
# clients, on average); Flower: the cohort's training seconds summed over clients, divided
# by the 2 actors that train at once.
fedchain_figures() {
  /usr/bin/python3 - "$1/metrics.csv" "$warmup" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
timed = rows[int(sys.argv[2]):]
med = lambda key: statistics.median(float(r[key]) for r in timed)
print(f"{med('round_s'):.4f} {med('train_s'):.4f} {med('eval_s'):.4f} {float(rows[-1]['test_acc']):.4f}")
PY
}

flower_figures() {
  /usr/bin/python3 - "$1" "$warmup" <<'PY'
import json, statistics, sys
rows = json.load(open(sys.argv[1]))["rounds"]
timed = rows[int(sys.argv[2]):]
med = lambda f: statistics.median(f(r) for r in timed)
print(f"{med(lambda r: r['round_s']):.4f} {med(lambda r: r['client_train_s_sum'] / 2):.4f} "
      f"{med(lambda r: r['eval_s']):.4f} {rows[-1]['test_acc']:.4f}")
PY
}

run_fedchain() {  # run_fedchain PROTOCOL
  rm -rf "$work/run"
  mpirun -n 2 "$fedchain" train "$repo/jobs/fmnist-mlp-clients-100.toml" --run-dir "$work/run" \
    --set data.path="$dataset" --set data.partition="$partition" --set job.rounds="$total" \
    --set keys.dir="$work/keys" --set consensus.protocol="$1" >"$work/fedchain.log" 2>&1 ||
    { tail -20 "$work/fedchain.log" >&2; exit 1; }
  fedchain_figures "$work/run"
}

run_flower() {
  "$flower_python" "$here/flower_sim.py" --data "$dataset" --out "$work/flower.json" \
    --partition "$partition" --rounds "$total" --clients 100 --per-round 10 --hidden 200 \
    --lr 0.05 --batch 32 --epochs 1 --threads 1 --actors 2 --seed 42 >"$work/flower.log" 2>&1 ||
    { tail -20 "$work/flower.log" >&2; exit 1; }
  flower_figures "$work/flower.json"
}

echo "# $partition, 100 clients, 10 a round, rounds 1-$warmup warm-up, median of rounds $((warmup + 1))-$total; $(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs"
echo "| repeat | system | load at start | s/round | train s | eval s | test acc at round $total |"
echo "|---|---|---|---|---|---|---|"
for r in $(seq 1 "$repeats"); do
  for system in none bft flower; do  # interleaved
    load=$(wait_quiet)
    watch_start
    if [ "$system" = flower ]; then figures=$(run_flower); else figures=$(run_fedchain "$system"); fi
    watch_stop
    read -r s train eval acc <<<"$figures"
    if [ -e "$work/disturbed" ]; then load="$load (disturbed)"; fi
    case $system in none) name="fedchain, no chain" ;; bft) name="fedchain, bft" ;; flower) name="Flower" ;; esac
    echo "| $r | $name | $load | $s | $train | $eval | $acc |"
    note_run "$system" "$s" "$load"
  done
done
settle_best none bft flower
echo
echo "| system | s/round (best run) | quiet runs of $repeats | fedchain / Flower |"
echo "|---|---|---|---|"
for system in none bft flower; do
  case $system in none) name="fedchain, no chain" ;; bft) name="fedchain, bft" ;; flower) name="Flower" ;; esac
  ratio=$(/usr/bin/python3 -c "print(f'{${best[$system]} / ${best[flower]}:.2f}')")
  echo "| $name | ${best[$system]} | ${quiet[$system]:-0} | $ratio |"
done
