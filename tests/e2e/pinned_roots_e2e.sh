#!/usr/bin/env bash
# End to end: the state roots of two small jobs (fedavg over the allreduce exchange, the
# median over the allgather one), pinned in tests/e2e/pinned/. They were taken before the
# run-directory, hostile-peer and audit changes of the second wave and reproduced after
# them; a change that moves them changes what every existing run computes, so it must say
# why and update these files (docs/development.md). Re-pinned once when the CPU backend's
# dense and conv layers moved to oneDNN (its sums are ordered differently from Eigen's).
# Training bits depend on the instruction set, so the jobs run with the AVX2 kernels, which
# every x86-64-v3 machine runs the same (FEDCHAIN_CPU_LEVEL caps oneDNN too).
# Usage: pinned_roots_e2e.sh FEDCHAIN DATASET_H5
set -euo pipefail
export FEDCHAIN_CPU_LEVEL=x86-64-v3
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
pinned=$(dirname "$(realpath "$0")")/pinned
work=$(mktemp -d /tmp/fedchain-pinned-e2e-XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$(realpath "$0")")/../support/e2e_lib.sh"
mpi=(mpirun -n 3 --oversubscribe)

small_job "$dataset"
train fedavg
train median --set aggregate.rule=median --set aggregate.exchange=allgather
for rule in fedavg median; do
  diff "$pinned/small-job-$rule.roots" <(roots "$work/$rule") ||
    fail "the $rule job's state roots moved from tests/e2e/pinned/small-job-$rule.roots"
done
echo "PASS: pinned_roots_e2e"
