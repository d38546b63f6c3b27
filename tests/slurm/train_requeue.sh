#!/usr/bin/env bash
# slurm/train.sbatch under a real one-node Slurm, preempted and requeued:
#   1. an uninterrupted reference run of the job with mpirun;
#   2. the job submitted with `sbatch slurm/train.sbatch JOB RUN_DIR` (its first start uses
#      --resume on a folder that holds no run yet);
#   3. mid-run, USR1 to the batch step, as `--signal=B:USR1@120` sends before the time
#      limit: the ranks stop together and checkpoint, the script requeues the job;
#   4. the second start (SLURM_RESTART_COUNT=1) resumes from the chain and finishes, and
#      is not requeued again; `fedchain verify` accepts the chain, and its state root at
#      every height equals the reference run's;
#   5. a step whose rank is killed by a signal before any round (as Open MPI's start-up
#      race does) is retried once and finishes; one that is killed every time is retried
#      once, then the job fails and is not requeued.
# Usage: train_requeue.sh FEDCHAIN DATASET_H5 SBATCH_TEMPLATE
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
template=$(realpath "$3")
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d /tmp/fedchain-slurm-requeue-XXXXXX)
# Own deadline, inside ctest's TIMEOUT: a ctest timeout kills without running traps, and
# the daemons (and a queued job) would outlive the test.
deadline=$((SECONDS + 200))
cleanup() {
  "$here/slurm-local.sh" stop "$work/cluster" || true
  rm -rf "$work" || true
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted"; exit 1' INT TERM
fail() {
  echo "FAIL: $*"
  for f in "$work"/job-*.out; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done
  exit 1
}
# wait_for DESCRIPTION COMMAND...: polls until COMMAND succeeds or the deadline passes.
wait_for() {
  local what=$1
  shift
  until "$@"; do
    [ $SECONDS -lt $deadline ] || fail "timed out waiting for $what"
    sleep 0.2
  done
}

set +e
env_lines=$("$here/slurm-local.sh" start "$work/cluster")
rc=$?
set -e
[ $rc -eq 77 ] && exit 77
[ $rc -eq 0 ] || exit $rc
eval "$env_lines"

rounds=24
cat >"$work/job.toml" <<JOB
[job]
rounds = $rounds
ranks = 4
[data]
path = "$dataset"
train_limit = 4000
test_limit = 500
[model]
arch = "mlp"
hidden = [32]
[train]
local_steps = 30
[keys]
derive_from_seed = true
[checkpoint]
every = 0
JOB

# height and state_root of every metrics row, found by column name.
roots() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "state_root") c = i; next }
           { print $1, $c }' "$1/metrics.csv"
}
metrics_rows() { [ -f "$1/metrics.csv" ] && echo $(($(wc -l <"$1/metrics.csv") - 1)) || echo 0; }

echo "== reference: the same job, uninterrupted, with mpirun"
(
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1
  timeout 120 mpirun -n 4 --oversubscribe "$fedchain" train "$work/job.toml" \
    --run-dir "$work/reference" >"$work/reference.log" 2>&1
) || { cat "$work/reference.log"; fail "the reference run failed"; }
[ "$(metrics_rows "$work/reference")" -eq $rounds ] || fail "the reference run has no $rounds rows"

echo "== sbatch $template"
cd "$work"
job_id=$(FEDCHAIN=$fedchain sbatch --parsable --output="$work/job-%j.out" "$template" \
  "$work/job.toml" "$work/run")
job_id=${job_id%%;*}
echo "job $job_id"
out=$work/job-$job_id.out

mid_run() { [ "$(metrics_rows "$work/run")" -ge 2 ]; }
wait_for "two rounds of the first start" mid_run
scancel --batch --signal=USR1 "$job_id"
echo "USR1 sent to the batch step after $(metrics_rows "$work/run") rounds"

job_field() { scontrol show job "$job_id" -o | tr ' ' '\n' | sed -n "s/^$1=//p"; }
finished() {
  local state
  state=$(job_field JobState)
  case $state in
    COMPLETED) return 0 ;;
    FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE)
      fail "job $job_id ended $state" ;;
    *) return 1 ;;
  esac
}
wait_for "the requeued job to finish" finished
cat "$out"

echo "== checks"
[ "$(job_field Restarts)" = 1 ] || fail "job restarted $(job_field Restarts) times, expected 1"
grep -q "start 1 (restart count 0)" "$out" || fail "no first start in the job output"
grep -q "start 2 (restart count 1)" "$out" || fail "no second start (SLURM_RESTART_COUNT=1)"
grep -q "holds no committed round yet; starting a fresh run" "$out" ||
  fail "the first start's --resume did not start a fresh run"
grep -q "SIGUSR1 received" "$out" || fail "the batch script did not see USR1"
stopped_at=$(sed -n 's/^fedchain train: stopped by signal after round \([0-9]*\);.*/\1/p' "$out")
[ -n "$stopped_at" ] || fail "the ranks did not stop on the signal"
[ "$stopped_at" -lt $rounds ] || fail "stopped at $stopped_at, not mid-run"
[ -f "$work/run/checkpoints/height-$(printf %08d "$stopped_at").h5" ] ||
  fail "no checkpoint at the stop height $stopped_at"
grep -q "requeueing job $job_id" "$out" || fail "the script did not requeue"
grep -q "resume: from checkpoint .*height-$(printf %08d "$stopped_at").h5" "$out" ||
  fail "the second start did not resume from the stop checkpoint"
grep -q "fedchain train: done, $rounds rounds" "$out" || fail "the resumed run did not finish"
grep -q "the run is finished; not requeued" "$out" || fail "the finished run was not left alone"
[ "$(grep -c "requeueing job" "$out")" -eq 1 ] || fail "requeued more than once"
"$fedchain" verify "$work/run" || fail "fedchain verify refused the requeued run's chain"
diff <(roots "$work/reference") <(roots "$work/run") ||
  fail "the requeued run's state roots differ from the uninterrupted run's"
chain_roots() { "$fedchain" inspect "$1" --json | grep -o '"state_root": "[0-9a-f]*"'; }
diff <(chain_roots "$work/reference") <(chain_roots "$work/run") ||
  fail "the chains' block state roots differ"
echo "slurm requeue: stopped after round $stopped_at, requeued, resumed and finished;" \
  "$rounds state roots equal the uninterrupted run's"

# A fedchain that dies by SIGSEGV before MPI_Init: the first rank to start in a step when
# $1 is "once" (a marker directory says it happened), every rank when $1 is "always".
crashing_fedchain() {
  cat >"$work/fedchain-$1" <<SCRIPT
#!/usr/bin/env bash
if [ "$1" = always ] || mkdir "$work/crashed-$1" 2>/dev/null; then kill -SEGV \$\$; fi
exec "$fedchain" "\$@"
SCRIPT
  chmod +x "$work/fedchain-$1"
}
sed -i 's/^rounds = .*/rounds = 3/' "$work/job.toml"
for mode in once always; do
  crashing_fedchain $mode
  job_id=$(FEDCHAIN=$work/fedchain-$mode sbatch --parsable --output="$work/job-%j.out" \
    "$template" "$work/job.toml" "$work/crash-$mode")
  job_id=${job_id%%;*}
  out=$work/job-$job_id.out
  ended() { [ -n "$(job_field JobState | grep -Ev 'PENDING|RUNNING|CONFIGURING|COMPLETING')" ]; }
  wait_for "the $mode-crashing job to end" ended
  cat "$out"
  [ "$(grep -c "before finishing a round; retrying the step once" "$out")" -eq 1 ] ||
    fail "the $mode-crashing step was not retried exactly once"
  if [ $mode = once ]; then
    [ "$(job_field JobState)" = COMPLETED ] || fail "the retried job ended $(job_field JobState)"
    grep -q "fedchain train: done, 3 rounds" "$out" || fail "the retried step did not finish"
    "$fedchain" verify "$work/crash-once" || fail "fedchain verify refused the retried run"
  else
    [ "$(job_field JobState)" = FAILED ] || fail "the always-crashing job ended $(job_field JobState)"
    grep -q "not requeued" "$out" || fail "the always-crashing job did not say it stops"
    [ "$(job_field Restarts)" = 0 ] || fail "the always-crashing job was requeued"
  fi
done
echo "slurm start-up crash: retried once and finished; a repeated crash fails without a requeue"
