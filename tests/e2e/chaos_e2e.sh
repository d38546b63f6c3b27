#!/usr/bin/env bash
# End to end: chaos. One run directory, interrupted TRIALS times at random moments (seeded,
# so a failure can be replayed with the same seed) by one of: kill -9 of one rank, kill -9
# of every rank, SIGTERM or SIGUSR1 to one rank. After each, `fedchain verify` must pass
# and `--resume` carries on; at the end the chain must hold every round, with the state
# roots of an uninterrupted run. Replicas are on, so restores from them are exercised too.
# Last, a metrics row lost between a checkpoint and its writing comes back on resume.
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
# Each trial interrupts within its first 16 rounds, so 400 rounds outlast 20 trials.
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
for trial in $(seq 1 "$trials"); do
  action=${actions[$((RANDOM % 4))]}
  victim=$((RANDOM % ranks))
  # One trial in four lands in the start-up (MPI, data, chain); the rest after 0 to 15
  # rounds of this start, 0 to 40 ms into the next.
  if [ $((RANDOM % 4)) -eq 0 ]; then
    rounds_in=-1 delay_ms=$((100 + RANDOM % 600))
  else
    rounds_in=$((RANDOM % 16)) delay_ms=$((RANDOM % 40))
  fi
  timeout 300 "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/chaos" --resume \
    >"$work/chaos.log" 2>&1 &
  launcher=$!
  if [ "$rounds_in" -ge 0 ]; then
    # Until the round is reached or the job ends: under load a start-up can take a while.
    for _ in $(seq 1 30000); do
      [ "$(rounds_done)" -ge "$rounds_in" ] && grep -q "^fedchain train: 3 ranks" "$work/chaos.log" &&
        break
      kill -0 "$launcher" 2>/dev/null || break
      sleep 0.01
    done
  fi
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  mapfile -t pids < <(pgrep -f -- "--run-dir $work/chaos" | grep -v "^$launcher$" || true)
  # pgrep also finds mpirun under timeout: keep the fedchain processes, the ranks.
  mapfile -t pids < <(for p in "${pids[@]}"; do
    [ "$(ps -o comm= -p "$p" 2>/dev/null)" = fedchain ] && echo "$p"; done)
  if [ "${#pids[@]}" -eq 0 ]; then
    set +e; wait "$launcher"; rc=$?; set -e
    grep -q "fedchain train: done" "$work/chaos.log" ||
      { cat "$work/chaos.log"; fail "trial $trial: the run ended (exit $rc) before the interruption"; }
    fail "trial $trial: the run finished before '$action': 400 rounds are too few"
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
  when=$([ "$rounds_in" -lt 0 ] && echo "${delay_ms} ms into the start-up" ||
    echo "${delay_ms} ms after round $rounds_in of this start")
  echo "trial $trial: $action $when: exit $rc, $(rounds_done) rounds printed"
  [ -e "$work/chaos/job.toml" ] || continue  # killed before the run directory existed
  [ -e "$work/chaos/chain/blocks.log" ] || continue  # before the chain existed
  verify_ok "$work/chaos" "trial $trial ($action)"
done
timeout 300 "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/chaos" --resume \
  >"$work/chaos.log" 2>&1 || { cat "$work/chaos.log"; fail "the last resume"; }
verify_ok "$work/chaos" "the last resume"
[ "$(($(records "$work/chaos/chain/blocks.log" | cut -d' ' -f1) - 1))" -eq 400 ] ||
  fail "the chain does not hold all 400 rounds"
diff <(roots "$work/ref") <(roots "$work/chaos") || fail "state roots differ from the uninterrupted run"
# A kill between the last round's checkpoint and its metrics row: the row is missing though
# the chain and the checkpoint hold the round. --resume starts below the missing row and
# replays the round, so metrics.csv is whole again.
sed -i '$d' "$work/chaos/metrics.csv"
timeout 300 "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/chaos" --resume \
  >"$work/chaos.log" 2>&1 || { cat "$work/chaos.log"; fail "the resume after a lost row"; }
grep -q "beyond metrics.csv's last row" "$work/chaos.log" ||
  { cat "$work/chaos.log"; fail "the resume used the checkpoint past the last row"; }
diff <(roots "$work/ref") <(roots "$work/chaos") || fail "the lost metrics row did not come back"
echo "PASS: chaos_e2e ($trials trials)"
