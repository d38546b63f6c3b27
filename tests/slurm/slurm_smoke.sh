#!/usr/bin/env bash
# Proves the local Slurm plumbing: a batch job runs an MPI test binary with
# `srun --mpi=pmix` on 4 tasks and exits 0. Usage: slurm_smoke.sh MPI_TEST_BINARY
set -euo pipefail
binary=$(realpath "$1")
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d /tmp/fedchain-slurm-XXXXXX)
trap '"$here/slurm-local.sh" stop "$work/cluster" || true; rm -rf "$work" || true' EXIT

set +e
env_lines=$("$here/slurm-local.sh" start "$work/cluster")
rc=$?
set -e
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || exit $rc
eval "$env_lines"

cat >"$work/job.sbatch" <<JOB
#!/usr/bin/env bash
#SBATCH -n 4
#SBATCH -o $work/job.out
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
srun --mpi=pmix -O -n 4 "$binary"
JOB
# --wait returns the job's exit code.
set +e
timeout 120 sbatch --wait "$work/job.sbatch"
rc=$?
set -e
cat "$work/job.out" || true
[ $rc -eq 0 ] || { echo "slurm job failed with $rc"; exit 1; }
grep -q "passed on all 4 ranks" "$work/job.out" || { echo "job output lacks the MPI summary"; exit 1; }
echo "slurm smoke: 4-task MPI job ran and passed under a real slurmctld"
