#!/usr/bin/env bash
# End to end: ledger.archive_updates and `fedchain verify` recomputing every aggregate.
#   1. fedavg over the allreduce exchange and median over the allgather exchange, 4 ranks:
#      verify recomputes every height from the archive and passes;
#   2. one flipped value in one archived update, or a missing one: verify exits 3 naming
#      the height and the rank;
#   3. kill -9 of every rank mid-run: the chain verifies with its archive before --resume
#      (the archive is never behind the chain); --resume removes what the chain never
#      committed, archives again an update lost at a replayed height, reaches the
#      uninterrupted run's state roots, and verifies;
#   4. configuration errors exit 2: an archive without the chain, verify without the dataset.
# Usage: archive_e2e.sh FEDCHAIN DATASET_H5
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
work=$(mktemp -d /tmp/fedchain-archive-e2e-XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$(realpath "$0")")/../support/e2e_lib.sh"
mpi=(mpirun -n 4 --oversubscribe)

small_job "$dataset" "[ledger]
archive_updates = true"

verify_ok() {  # verify_ok RUN_DIR HEIGHTS
  "$fedchain" verify "$1" >"$work/verify.log" 2>&1 || { cat "$work/verify.log"; fail "verify $1"; }
  grep -q "aggregates   recomputed at $2 heights" "$work/verify.log" ||
    { cat "$work/verify.log"; fail "verify $1 did not recompute $2 heights"; }
}
# flip_value FILE INDEX: xor the low bit of value INDEX of the file's /q dataset, in place.
flip_value() {
  local offset
  offset=$(h5dump -p -H -d /q "$1" | awk '/OFFSET/ { print $2 }')
  [ -n "$offset" ] || fail "no /q dataset offset in $1"
  offset=$((offset + 4 * $2))
  local byte
  byte=$(od -An -tu1 -j "$offset" -N1 "$1" | tr -d ' ')
  printf "\\x$(printf %02x $((byte ^ 1)))" | dd of="$1" bs=1 seek="$offset" conv=notrunc status=none
}

echo "== 1. fedavg (allreduce) and median (allgather): verify recomputes every height"
train a
[ "$(find "$work/a/updates" -name 'height-*.h5' | wc -l)" -eq 24 ] || fail "expected 4 x 6 files"
verify_ok "$work/a" 6
train m --set aggregate.rule=median
grep -q "rule median" "$work/m/logs/rank-0.log" || fail "the median run did not use the median"
verify_ok "$work/m" 6

echo "== 2. a flipped value or a missing update: exit 3 naming height and rank"
cp -r "$work/a" "$work/flipped"
flip_value "$work/flipped/updates/client-0002/height-00000003.h5" 100
expect_exit 3 "height 3: client 2's archived update .* was altered" "$fedchain" verify "$work/flipped"
grep -q "archive-update-root" "$work/err.log" || fail "no reason code for a flipped value"
cp -r "$work/m" "$work/missing"
rm "$work/missing/updates/client-0001/height-00000004.h5"
expect_exit 3 "height 4: client 1's update for height 4 is not archived" \
  "$fedchain" verify "$work/missing"

echo "== 3. kill -9 mid-run: verifies before and after --resume"
kill_at_round k 2
echo "killed after $(tail -n +2 "$work/k/metrics.csv" | wc -l) rounds"
"$fedchain" verify "$work/k" >"$work/verify.log" 2>&1 ||
  { cat "$work/verify.log"; fail "the killed run's chain and archive do not verify"; }
# What a run killed between archiving and committing leaves: a height above the tip and a
# temp file. --resume removes both.
cp "$work/k/updates/client-0001/height-00000001.h5" "$work/k/updates/client-0001/height-00000099.h5"
echo "torn" >"$work/k/updates/client-0001/height-00000099.h5.tmp.12345"
"$fedchain" verify "$work/k" >"$work/verify.log" 2>&1 || { cat "$work/verify.log"; fail "verify"; }
grep -Eq "[1-9][0-9]* archived updates are for heights after the tip" "$work/verify.log" ||
  { cat "$work/verify.log"; fail "verify did not count the uncommitted update"; }
# Without checkpoints --resume replays every committed height: a replayed round keeps the
# update already archived, and archives again one that went missing.
rm -f "$work/k"/checkpoints/*.h5 "$work/k/updates/client-0000/height-00000001.h5"
train k --resume
grep -q "height 1: client 0's update for height 1 is not archived .*; archiving the replayed update" \
  "$work/k/logs/rank-0.log" || { cat "$work/k/logs/rank-0.log"; fail "no replayed update archived"; }
[ ! -e "$work/k/updates/client-0001/height-00000099.h5" ] || fail "resume kept an uncommitted update"
[ ! -e "$work/k/updates/client-0001/height-00000099.h5.tmp.12345" ] || fail "resume kept a temp file"
diff <(roots "$work/a") <(roots "$work/k") || fail "the resumed run's state roots differ"
verify_ok "$work/k" 6

echo "== 4. configuration errors: exit 2"
expect_exit 2 'archive_updates = true needs consensus.protocol = "bft"' \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/none" --set consensus.protocol=none
[ ! -e "$work/none" ] || fail "a refused job created its run directory"
expect_exit 2 "pass --data FILE" "$fedchain" verify "$work/a" --data /nonexistent.h5
"$fedchain" verify "$work/a" --data "$dataset" >/dev/null || fail "verify --data"
echo "archive e2e: all checks passed"
