#!/usr/bin/env bash
# End to end: aggregate.transport = "nccl" (docs/aggregation.md, "Transport").
#   - Where no GPU answers (or the build has no CUDA): the job is refused, exit 2, naming
#     aggregate.transport and why, and the run directory is not created.
#   - Where one does: one rank over NCCL commits the state roots of the same job over MPI,
#     with fedavg (the int64 allreduce) and with the median (the updates' allgather). More
#     ranks need a GPU each; on a node with several, run this with FEDCHAIN_NCCL_RANKS=N.
# Usage: nccl_e2e.sh FEDCHAIN DATASET_H5
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
work=$(mktemp -d /tmp/fedchain-nccl-e2e-XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$(realpath "$0")")/../support/e2e_lib.sh"
ranks=${FEDCHAIN_NCCL_RANKS:-1}
mpi=(mpirun -n "$ranks" --oversubscribe)
small_job "$dataset"

if ! "$fedchain" devices | grep -q '^cuda:.*self-test ok'; then
  expect_exit 2 'aggregate.transport = "nccl"' \
    "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/refused" \
    --set aggregate.transport=nccl
  [ ! -e "$work/refused/chain" ] || fail "a refused NCCL job left a chain behind"
  echo "PASS: nccl_e2e (no GPU here: checked the refusal only; the roots need a GPU)"
  exit 0
fi
for rule in fedavg median; do
  train "mpi-$rule" --set aggregate.rule=$rule
  train "nccl-$rule" --set aggregate.rule=$rule --set aggregate.transport=nccl
  grep -rq "rule $rule over nccl" "$work/nccl-$rule" || fail "the $rule run's log does not say nccl"
  diff <(roots "$work/mpi-$rule") <(roots "$work/nccl-$rule") ||
    fail "$rule over NCCL committed other roots than over MPI"
done
echo "PASS: nccl_e2e"
