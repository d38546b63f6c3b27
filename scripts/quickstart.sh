#!/usr/bin/env bash
# The quickstart, from a fresh checkout: install dependencies (apt, idempotent), build
# fedchain, prepare Fashion-MNIST, and run jobs/quickstart.toml on 4 MPI ranks on the CPU.
#   bash scripts/quickstart.sh            # a new run directory under runs/
#   RUN_DIR=runs/mine bash scripts/quickstart.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup-debian.sh
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# 4 ranks on fewer cores: let waiting ranks yield the CPU instead of spinning.
export OMPI_MCA_mpi_yield_when_idle=1

echo "quickstart: build (release preset)"
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target fedchain
fedchain=build/release/src/cli/fedchain

if [ ! -f data/fashion-mnist.h5 ]; then
  "$fedchain" data prepare fashion-mnist --out data/fashion-mnist.h5
fi

# The validators' keys (jobs/quickstart.toml names this directory); kept across runs.
if [ ! -f runs/quickstart-keys/public-keys.txt ]; then
  "$fedchain" keygen --ranks 4 --out runs/quickstart-keys
fi

run_dir=${RUN_DIR:-runs/quickstart-$(date +%Y%m%d-%H%M%S)}
echo "quickstart: mpirun -n 4 $fedchain train jobs/quickstart.toml --run-dir $run_dir"
mpirun -n 4 --oversubscribe "$fedchain" train jobs/quickstart.toml --run-dir "$run_dir"
echo "quickstart: $fedchain verify $run_dir"
"$fedchain" verify "$run_dir"

echo
echo "quickstart: done. The run directory is $run_dir:"
echo "  $run_dir/chain/          the chain: one block per round (fedchain inspect $run_dir)"
echo "  $run_dir/metrics.csv     one row per round: times per phase, loss, accuracy, state root"
echo "  $run_dir/checkpoints/    the model every 5 rounds (HDF5)"
echo "  $run_dir/logs/           one log per rank"
