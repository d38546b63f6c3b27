#!/usr/bin/env bash
# slurm/submit-scaling.sh:
#   dry-run: the printed keygen and sbatch commands cover every point of both sweeps with
#            the right rank count, training-set size, keys and run directory, and nothing
#            is written; bad arguments exit 2 naming the problem;
#   cluster: a real 1- and 2-rank sweep on a one-node Slurm fills OUT/strong/n<R>/ and
#            OUT/weak/n<R>/ with finished, verifiable runs.
# Usage: submit_scaling.sh dry-run|cluster FEDCHAIN DATASET_H5 SUBMIT_SCRIPT
set -euo pipefail
mode=$1
fedchain=$(realpath "$2")
dataset=$(realpath "$3")
submit=$(realpath "$4")
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d /tmp/fedchain-slurm-scaling-XXXXXX)
# Inside ctest's TIMEOUT, which kills without running traps (see train_requeue.sh).
deadline=$((SECONDS + 150))
cleanup() {
  [ "$mode" = cluster ] && { "$here/slurm-local.sh" stop "$work/cluster" || true; }
  rm -rf "$work" || true
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted"; exit 1' INT TERM
fail() {
  echo "FAIL: $*"
  exit 1
}
export FEDCHAIN=$fedchain

cat >"$work/job.toml" <<JOB
[job]
rounds = 2
[data]
path = "$dataset"
test_limit = 300
[model]
arch = "logreg"
[train]
local_steps = 5
[keys]
derive_from_seed = true
JOB

# expect_usage_error PATTERN ARGS...: exit 2 and PATTERN in the message.
expect_usage_error() {
  local pattern=$1
  shift
  set +e
  "$submit" "$@" >"$work/err.log" 2>&1
  local rc=$?
  set -e
  [ $rc -eq 2 ] || { cat "$work/err.log"; fail "expected exit 2, got $rc: $*"; }
  grep -q -- "$pattern" "$work/err.log" || { cat "$work/err.log"; fail "message lacks '$pattern'"; }
}

dry_run() {
  local out=$work/sweep
  "$submit" --dry-run --ranks 1,2,4 --strong-samples 6000 --weak-samples 500 \
    --partition debug --time 10 --set train.lr=0.05 "$work/job.toml" "$out" >"$work/plan.txt"
  cat "$work/plan.txt"
  [ ! -e "$out" ] || fail "--dry-run wrote $out"
  [ "$(grep -c '^sbatch ' "$work/plan.txt")" -eq 6 ] || fail "expected 6 sbatch commands"
  [ "$(grep -c ' keygen --ranks ' "$work/plan.txt")" -eq 3 ] || fail "expected 3 keygen commands"
  local r sweep limit line
  for r in 1 2 4; do
    grep -q " keygen --ranks $r --out $out/keys/n$r\$" "$work/plan.txt" || fail "no keygen for $r ranks"
    for sweep in strong weak; do
      if [ $sweep = strong ]; then limit=6000; else limit=$((r * 500)); fi
      line=$(grep "^sbatch .* $out/$sweep/n$r " "$work/plan.txt") || fail "no $sweep point at $r ranks"
      for want in "--ntasks=$r " "--partition=debug " "--time=10 " "--output=$out/$sweep/n$r/" \
        "$work/job.toml $out/$sweep/n$r " "--set job.ranks=$r " "--set data.train_limit=$limit " \
        "--set keys.dir=$out/keys/n$r " "--set train.lr=0.05"; do
        [[ $line == *"$want"* ]] || fail "the $sweep point at $r ranks lacks '$want': $line"
      done
    done
  done
  "$submit" --dry-run --only weak --ranks 8 "$work/job.toml" "$out" >"$work/weak.txt"
  [ "$(grep -c '^sbatch ' "$work/weak.txt")" -eq 1 ] || fail "--only weak gave other points"
  grep -q -- "--nodes=2 --ntasks=8 --ntasks-per-node=4 " "$work/weak.txt" ||
    fail "8 ranks at 4 per node should take 2 nodes"

  expect_usage_error "'x' is not a positive integer" --dry-run --ranks 1,x "$work/job.toml" "$out"
  expect_usage_error "does not exist" --dry-run "$work/missing.toml" "$out"
  expect_usage_error "needs 120000 samples" --dry-run --ranks 1,80 "$work/job.toml" "$out"
  expect_usage_error "unknown option '--bogus'" --bogus "$work/job.toml" "$out"
  mkdir -p "$out/weak/n2" && cp "$work/job.toml" "$out/weak/n2/job.toml"
  expect_usage_error "$out/weak/n2 already holds a run" --dry-run --ranks 2 "$work/job.toml" "$out"
  echo "submit-scaling dry run: 6 points, their keys, sizes and folders as expected"
}

cluster() {
  set +e
  env_lines=$("$here/slurm-local.sh" start "$work/cluster")
  local rc=$?
  set -e
  [ $rc -eq 77 ] && exit 77
  [ $rc -eq 0 ] || exit $rc
  eval "$env_lines"
  local out=$work/sweep
  "$submit" --ranks 1,2 --strong-samples 1000 --weak-samples 400 "$work/job.toml" "$out" |
    tee "$work/submitted.txt"
  local ids
  ids=$(sed -n 's/^submitted 4 jobs: //p' "$work/submitted.txt")
  [ -n "$ids" ] || fail "the submitter did not report 4 job ids"
  all_done() {
    local states
    states=$(squeue -h -j "$ids" -o %T 2>/dev/null || true)
    [ -z "$states" ]
  }
  until all_done; do
    [ $SECONDS -lt $deadline ] || fail "timed out waiting for jobs $ids"
    sleep 1
  done
  local r sweep run limit id
  for id in ${ids//,/ }; do
    scontrol show job "$id" -o | grep -q "JobState=COMPLETED" ||
      { cat "$out"/*/n*/slurm-*.out; fail "job $id did not complete"; }
  done
  for r in 1 2; do
    for sweep in strong weak; do
      run=$out/$sweep/n$r
      [ "$(tail -n +2 "$run/metrics.csv" | wc -l)" -eq 2 ] || fail "$run/metrics.csv lacks 2 rows"
      if [ $sweep = strong ]; then limit=1000; else limit=$((r * 400)); fi
      grep -q "^train_limit = $limit\$" "$run/job.toml" || fail "$run ran with another train_limit"
      grep -q "^ranks = $r\$" "$run/job.toml" || fail "$run ran with another job.ranks"
      grep -q "^dir = '$out/keys/n$r'\$" "$run/job.toml" || fail "$run did not use its keys"
      "$fedchain" verify "$run" >/dev/null || fail "verify refused $run"
    done
  done
  echo "submit-scaling on Slurm: strong and weak points at 1 and 2 ranks finished and verify"
}

case $mode in
  dry-run) dry_run ;;
  cluster) cluster ;;
  *) fail "mode must be dry-run or cluster" ;;
esac
