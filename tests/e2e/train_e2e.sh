#!/usr/bin/env bash
# End to end: `fedchain train` on 4 ranks, as a user runs it.
#   1. two runs of one job give the same state roots at every height (determinism), with
#      the BFT chain and without it, the second started by --resume on an empty folder; `fedchain verify` accepts the chain, and refuses it
#      (exit 3) once a byte of it is flipped; a rank with a flipped bit in its model
#      reports it and follows the committed chain;
#   2. a run stopped by SIGUSR1 on one rank checkpoints, exits 0, and --resume finishes it
#      with the same state roots as the uninterrupted run; so does a run killed with -9;
#   3. bad inputs exit 2 with a message that says what to do, and leave the run
#      directory as it was.
# Usage: train_e2e.sh FEDCHAIN DATASET_H5
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
work=$(mktemp -d /tmp/fedchain-e2e-XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$(realpath "$0")")/../support/e2e_lib.sh"
mpi=(mpirun -n 4 --oversubscribe)

cat >"$work/job.toml" <<JOB
[job]
rounds = 4
[data]
path = "$dataset"
train_limit = 4000
test_limit = 500
[model]
arch = "mlp"
hidden = [32]
[train]
local_steps = 20
[keys]
derive_from_seed = true
[checkpoint]
every = 2
JOB


echo "== 1. determinism: two runs, same state roots"
"${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/a" >"$work/a.log" 2>&1 ||
  { cat "$work/a.log"; fail "run a"; }
# Run b uses --resume on a folder that holds no run yet: it must start fresh (Slurm jobs
# pass --resume on their first start too).
"${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/b" --resume >"$work/b.log" 2>&1 ||
  { cat "$work/b.log"; fail "run b"; }
grep -q "holds no committed round yet; starting a fresh run" "$work/b.log" ||
  { cat "$work/b.log"; fail "--resume on an empty folder did not say it starts fresh"; }
[ "$(roots "$work/a" | wc -l)" -eq 4 ] || fail "expected 4 metrics rows"
diff <(roots "$work/a") <(roots "$work/b") || fail "two runs of one job differ"
"${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/plain" \
  --set consensus.protocol=none >"$work/plain.log" 2>&1 || { cat "$work/plain.log"; fail "run plain"; }
diff <(roots "$work/a") <(roots "$work/plain") || fail "the chain changed the model's state roots"
"$fedchain" verify "$work/a" || fail "verify refused an honest chain"
cp -r "$work/a" "$work/tampered"
log="$work/tampered/chain/blocks.log"
offset=$(($(stat -c %s "$log") * 2 / 3))
printf '\xff' | dd of="$log" bs=1 seek="$offset" conv=notrunc status=none
set +e
"$fedchain" verify "$work/tampered" >"$work/tampered.log" 2>&1
rc=$?
set -e
[ $rc -eq 3 ] || { cat "$work/tampered.log"; fail "verify of a tampered chain exited $rc, not 3"; }
grep -q "height" "$work/tampered.log" || fail "verify did not name the height at fault"

echo "== 1b. a flipped bit in one rank's model: it notices and takes the committed model"
"${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/flip" --set faults.flip_bit_rank=2 \
  --set faults.flip_bit_height=2 >"$work/flip.log" 2>&1 || { cat "$work/flip.log"; fail "run flip"; }
grep -q "rank 2 height 2: own state root .* differs from the committed" "$work/flip.log" ||
  { cat "$work/flip.log"; fail "the flipped rank did not report its divergence"; }
diff <(roots "$work/a") <(roots "$work/flip") || fail "a flipped bit changed the committed chain"

echo "== 2. stop by SIGUSR1 on one rank, then --resume"
# A slower job (more steps per round) so the signal lands mid-run.
"${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/c" --set train.local_steps=20 \
  >"$work/c.log" 2>&1 &
launcher=$!
for _ in $(seq 1 200); do grep -q "^round 1/" "$work/c.log" && break; sleep 0.05; done
pkill -USR1 -f "fedchain train $work/job.toml --run-dir $work/c" -n || true
wait $launcher || { cat "$work/c.log"; fail "the stopped run must exit 0"; }
if grep -q "stopped by signal" "$work/c.log"; then
  stopped_at=$(tail -n +2 "$work/c/metrics.csv" | wc -l)
  echo "stopped after $stopped_at rounds"
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/c" --resume >"$work/c2.log" 2>&1 ||
    { cat "$work/c2.log"; fail "resume"; }
else
  echo "the run finished before the signal arrived; resume must then be a no-op"
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/c" --resume >"$work/c2.log" 2>&1 ||
    { cat "$work/c2.log"; fail "resume"; }
fi
diff <(roots "$work/a") <(roots "$work/c") || fail "resumed run differs from the uninterrupted one"
"$fedchain" verify "$work/c" || fail "verify refused the resumed chain"

echo "== 2b. kill -9 every rank mid-run, then --resume"
"${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/k" >"$work/k.log" 2>&1 &
for _ in $(seq 1 400); do grep -q "^round 3/" "$work/k.log" && break; sleep 0.02; done
pkill -9 -f "fedchain train $work/job.toml --run-dir $work/k" || true
wait || true
"${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/k" --resume >"$work/k2.log" 2>&1 ||
  { cat "$work/k2.log"; fail "resume after kill -9"; }
diff <(roots "$work/a") <(roots "$work/k") || fail "run resumed after kill -9 differs"
"$fedchain" verify "$work/k" || fail "verify refused the chain resumed after kill -9"

echo "== 3. bad inputs: exit 2, clear message, nothing damaged"
expect_config_error() {  # expect_config_error PATTERN COMMAND...
  local pattern=$1
  shift
  set +e
  "$@" >"$work/err.log" 2>&1
  local rc=$?
  set -e
  [ $rc -eq 2 ] || { cat "$work/err.log"; fail "expected exit 2, got $rc: $*"; }
  grep -q -- "$pattern" "$work/err.log" || { cat "$work/err.log"; fail "message lacks '$pattern'"; }
}
expect_config_error "fedchain data prepare" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/d" --set data.path=/nonexistent.h5
expect_config_error "mpirun started 4 ranks" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/e" --set job.ranks=3
expect_config_error "did you mean 'aggregate.rule'" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/f" --set aggregate.rules=median
expect_config_error "'medain' is not one of fedavg" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/f2" --set aggregate.rule=medain
expect_config_error "needs n >= 2 \* krum_f + 3" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/g" --set aggregate.rule=krum \
  --set aggregate.krum_f=1
expect_config_error "not writable\|writable --run-dir" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/job.toml/run"
cp -r "$work/a" "$work/a.before"
expect_config_error "different job" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/a" --resume --set train.lr=0.5
expect_config_error "already holds a run" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/a"
diff -r "$work/a" "$work/a.before" >/dev/null || fail "a refused command changed the run directory"
# Killed after writing job.toml, before the chain existed: --resume starts round 1 there
# and reaches run a's state roots.
cp -r "$work/a" "$work/early"
rm -f "$work/early"/chain/* "$work/early"/checkpoints/* "$work/early"/metrics.* "$work/early"/logs/*
"${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/early" --resume \
  >"$work/early.log" 2>&1 || { cat "$work/early.log"; fail "resume of a run killed before its chain"; }
grep -q "holds no committed round yet; starting a fresh run" "$work/early.log" ||
  fail "resume of a run killed before its chain did not say it starts fresh"
[ "$(roots "$work/early")" = "$(roots "$work/a")" ] || fail "early-killed run: other state roots"

# A damaged newest checkpoint: refused with what to do, and nothing touched.
cp -r "$work/a" "$work/corrupt"
newest=$(ls "$work/corrupt"/checkpoints/*.h5 | tail -1)
head -c 200 /dev/urandom >"$newest"
cp -r "$work/corrupt" "$work/corrupt.before"
expect_config_error "move the damaged file aside" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/corrupt" --resume
# logs/ records the refused attempt; everything else must be as it was.
diff -r -x logs "$work/corrupt" "$work/corrupt.before" >/dev/null ||
  fail "resuming over a damaged checkpoint changed the run directory"
echo "train e2e: all checks passed"
