#!/usr/bin/env bash
# Fashion-MNIST accuracy against epsilon (docs/RESULTS.md, "Differential privacy"): the job
# jobs/fmnist-mlp-dp.toml at epsilon 1, 4 and 8 (delta 1e-5, after its 50 rounds) and
# without DP, on 2 ranks; each run verified; then the plots. The noise multipliers give
# each target after 50 rounds at q = 20/100 (fedchain's accountant; a multiplier too small
# for its target is refused at start by privacy.target_epsilon). --secure runs every job
# with privacy.secure_aggregation as well, into runs/results/privacy-secure: the same
# state roots as without (the masks cancel exactly).
# Usage: scripts/privacy-results.sh [--secure] [FEDCHAIN]   (from the repository root)
set -euo pipefail
extra=()
runs=runs/results/privacy
plots=docs/results/privacy
if [ "${1:-}" = --secure ]; then
  extra=(--set privacy.secure_aggregation=true)
  runs=runs/results/privacy-secure
  plots=docs/results/privacy-secure
  shift
fi
fedchain=${1:-build/release/src/cli/fedchain}
job=jobs/fmnist-mlp-dp.toml
mkdir -p "$runs"
[ -f data/fashion-mnist.h5 ] || "$fedchain" data prepare fashion-mnist --out data/fashion-mnist.h5
[ -d keys/fmnist-mlp-dp ] || "$fedchain" keygen --ranks 2 --out keys/fmnist-mlp-dp

run() {  # run NAME ARGS...
  local name=$1
  shift
  mpirun -n 2 "$fedchain" train "$job" --run-dir "$runs/$name" "${extra[@]}" "$@"
  "$fedchain" verify "$runs/$name"
}
run no-dp --set privacy.dp=false
run eps8 --set privacy.noise_multiplier=1.227 --set privacy.target_epsilon=8
run eps4 --set privacy.noise_multiplier=1.946 --set privacy.target_epsilon=4
run eps1 --set privacy.noise_multiplier=5.979 --set privacy.target_epsilon=1

/usr/bin/python3 scripts/plot-accuracy.py --out $plots-accuracy.png \
  --title "Fashion-MNIST, 100 clients, 20 per round, DP-FedAvg: test accuracy" \
  "no DP=$runs/no-dp" "epsilon 8=$runs/eps8" "epsilon 4=$runs/eps4" "epsilon 1=$runs/eps1"
/usr/bin/python3 scripts/plot-privacy.py --out $plots-epsilon.png \
  --baseline "$runs/no-dp" "$runs/eps1" "$runs/eps4" "$runs/eps8"
