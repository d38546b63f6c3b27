#!/usr/bin/env bash
# jobs/byzantine-8.toml on a slice of Fashion-MNIST: with 2 of 8 ranks sending sign-flipped,
# scaled updates, the coordinate-wise median keeps learning while fedavg collapses, and
# the chain of the robust run verifies. Usage: byzantine_e2e.sh FEDCHAIN DATASET_H5 JOB
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
job=$(realpath "$3")
work=$(mktemp -d /tmp/fedchain-byz-XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$(realpath "$0")")/../support/e2e_lib.sh"
small=(--set "data.path=$dataset" --set data.train_limit=8000 --set data.test_limit=1000
       --set job.rounds=5 --set train.local_steps=25 --set keys.derive_from_seed=true
       --set "keys.dir=''")
final_accuracy() { tail -1 "$1/metrics.csv" | awk -F, -v c="$(head -1 "$1/metrics.csv" | tr ',' '\n' | grep -n '^test_acc$' | cut -d: -f1)" '{print $c}'; }

mpirun -n 8 --oversubscribe "$fedchain" train "$job" --run-dir "$work/median" "${small[@]}" \
  >"$work/median.log" 2>&1 || { cat "$work/median.log"; exit 1; }
mpirun -n 8 --oversubscribe "$fedchain" train "$job" --run-dir "$work/fedavg" "${small[@]}" \
  --set aggregate.rule=fedavg --set aggregate.exchange=allreduce \
  >"$work/fedavg.log" 2>&1 || { cat "$work/fedavg.log"; exit 1; }
robust=$(final_accuracy "$work/median")
plain=$(final_accuracy "$work/fedavg")
echo "final test accuracy with 2 attackers: median $robust, fedavg $plain"
awk -v a="$robust" 'BEGIN { exit !(a >= 0.6) }' || { echo "FAIL: median should stay accurate"; exit 1; }
awk -v a="$plain" 'BEGIN { exit !(a <= 0.3) }' || { echo "FAIL: fedavg should be ruined"; exit 1; }
"$fedchain" verify "$work/median"
echo "byzantine e2e: passed"
