#!/usr/bin/env bash
# End to end: chaos. One run directory, interrupted TRIALS times at random moments (seeded,
# so a failure can be replayed with the same seed) by one of: kill -9 of one rank, kill -9
# of every rank, SIGTERM or SIGUSR1 to one rank. After each, `fedchain verify` must pass
# and `--resume` carries on; at the end the chain must hold every round, with the state
# roots of an uninterrupted run. Replicas are on, so restores from them are exercised too.
# Usage: chaos_e2e.sh FEDCHAIN DATASET_H5 [TRIALS [SEED]]
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
trials=${3:-20}
RANDOM=${4:-20261202}
work=$(mktemp -d /tmp/fedchain-chaos-e2e-XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$(realpath "$0")")/../support/e2e_lib.sh"
mpi=(mpirun -n 3 --oversubscribe)
ranks=3

small_job "$dataset" '[ledger]' 'replicas = "all"'
# Rounds of about 0.05 s after a start-up of 1 to 2 s: enough rounds that 20 interruptions
# land before the end, at every phase of a round.
sed -i 's/^rounds = 6$/rounds = 400/; s/^every = 2$/every = 7/' "$work/job.toml"

verify_ok() {  # verify_ok RUN_DIR WHAT
  "$fedchain" verify "$1" >"$work/verify.log" 2>&1 ||
    { cat "$work/chaos.log" "$work/verify.log"; fail "verify after $2"; }
}
rounds_done() { grep -c "^round " "$work/chaos.log" || true; }

echo "== the uninterrupted run"
train ref
verify_ok "$work/ref" "the reference run"

echo "== $trials interruptions"
actions=("kill -9 one rank" "kill -9 every rank" "SIGTERM one rank" "SIGUSR1 one rank")
finished=0
for trial in $(seq 1 "$trials"); do
  action=${actions[$((RANDOM % 4))]}
  victim=$((RANDOM % ranks))
  delay_ms=$((300 + RANDOM % 3000))  # some land in the start-up
  timeout 300 "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/chaos" --resume \
    >"$work/chaos.log" 2>&1 &
  launcher=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  mapfile -t pids < <(pgrep -f -- "--run-dir $work/chaos" | grep -v "^$launcher$" || true)
  # pgrep also finds mpirun under timeout: keep the fedchain processes, the ranks.
  mapfile -t pids < <(for p in "${pids[@]}"; do
    [ "$(ps -o comm= -p "$p" 2>/dev/null)" = fedchain ] && echo "$p"; done)
  if [ "${#pids[@]}" -eq 0 ]; then
    set +e; wait "$launcher"; rc=$?; set -e
    grep -q "fedchain train: done" "$work/chaos.log" ||
      { cat "$work/chaos.log"; fail "trial $trial: the run ended (exit $rc) before the interruption"; }
    finished=1
    echo "trial $trial: the run finished before '$action'"
    break
  fi
  target=${pids[$((victim % ${#pids[@]}))]}
  case $action in
    "kill -9 one rank") kill -9 "$target" 2>/dev/null || true ;;
    "kill -9 every rank") kill -9 "${pids[@]}" 2>/dev/null || true ;;
    "SIGTERM one rank") kill -TERM "$target" 2>/dev/null || true ;;
    "SIGUSR1 one rank") kill -USR1 "$target" 2>/dev/null || true ;;
  esac
  set +e; wait "$launcher"; rc=$?; set -e
  [ $rc -ne 124 ] || { cat "$work/chaos.log"; fail "trial $trial: the job hung after '$action'"; }
  case $action in
    SIG*) [ $rc -eq 0 ] || { cat "$work/chaos.log"; fail "trial $trial: '$action' exited $rc"; } ;;
  esac
  echo "trial $trial: $action after ${delay_ms} ms: exit $rc, $(rounds_done) rounds printed"
  [ -e "$work/chaos/job.toml" ] || continue  # killed before the run directory existed
  [ -e "$work/chaos/chain/blocks.log" ] || continue  # before the chain existed
  verify_ok "$work/chaos" "trial $trial ($action)"
done
if [ $finished -eq 0 ]; then
  timeout 300 "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/chaos" --resume \
    >"$work/chaos.log" 2>&1 || { cat "$work/chaos.log"; fail "the last resume"; }
fi
verify_ok "$work/chaos" "the last resume"
[ "$(($(records "$work/chaos/chain/blocks.log" | cut -d' ' -f1) - 1))" -eq 400 ] ||
  fail "the chain does not hold all 400 rounds"
diff <(roots "$work/ref") <(roots "$work/chaos") || fail "state roots differ from the uninterrupted run"
echo "PASS: chaos_e2e ($trials trials)"
