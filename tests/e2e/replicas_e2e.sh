#!/usr/bin/env bash
# End to end: chain replicas (ledger.replicas, docs/formats.md "Replicas").
#   1. the default on one machine ("per-node") writes no replica; "all" gives every other
#      rank one, and verify finds each agreeing with the primary;
#   2. rank 0's last append lost (the primary cut back one block after kill -9): --resume
#      restores that block from a replica, brings a deleted and a stale replica up to the
#      primary, and reaches the uninterrupted run's state roots;
#   3. a replica of another run (exit 2) or a damaged one (exit 3, as a damaged primary) is
#      refused before anything is written; so is a lost primary while replicas remain.
# Usage: replicas_e2e.sh FEDCHAIN DATASET_H5
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
work=$(mktemp -d /tmp/fedchain-replicas-e2e-XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$(realpath "$0")")/../support/e2e_lib.sh"
mpi=(mpirun -n 4 --oversubscribe)

small_job "$dataset"

verify_ok() {  # verify_ok RUN_DIR
  "$fedchain" verify "$1" >"$work/verify.log" 2>&1 || { cat "$work/verify.log"; fail "verify $1"; }
}
replica() { echo "$work/$1/chain/replicas/rank-$(printf %04d "$2")/blocks.log"; }

echo "== 1. per-node on one machine writes none; all writes one per other rank"
train default
[ ! -e "$work/default/chain/replicas" ] || fail "per-node on one machine wrote replicas"
train all --set ledger.replicas=all
for r in 1 2 3; do
  [ -s "$(replica all $r)" ] || fail "rank $r wrote no replica"
  [ "$(records "$(replica all $r)" | cut -d' ' -f1)" -eq 7 ] || fail "rank $r's replica lacks blocks"
done
diff <(roots "$work/default") <(roots "$work/all") || fail "replicas changed the state roots"
verify_ok "$work/all"
[ "$(grep -c "agrees" "$work/verify.log")" -eq 3 ] ||
  { cat "$work/verify.log"; fail "verify did not find 3 agreeing replicas"; }

echo "== 2. the primary's last block lost: --resume restores it from a replica"
kill_at_round k 3 --set ledger.replicas=all
read -r count last < <(records "$work/k/chain/blocks.log")
# kill -9 can land after the primary appended a block and before rank 2 did: then cut back
# to the last block replica 2 holds (the files hold the same records at the same offsets).
read -r replica_count replica_last < <(records "$(replica k 2)")
if [ "$replica_count" -lt "$count" ]; then
  count=$replica_count
  last=$replica_last
  rm -f "$work/k/checkpoints/height-$(printf %08d "$count").h5"
fi
height=$((count - 1))
[ "$height" -ge 1 ] || fail "the killed run committed nothing"
echo "killed at height $height; cutting the primary back to $((height - 1))"
truncate -s "$last" "$work/k/chain/blocks.log"
rm -f "$work/k/checkpoints/height-$(printf %08d "$height").h5"
rm "$(replica k 1)"                          # a lost replica is written again
truncate -s "$(records "$(replica k 3)" | cut -d' ' -f2)" "$(replica k 3)"  # and a stale one
# Ranks append on their own, so a replica can also be a block ahead of the primary: the
# resume restores up to the longest surviving replica.
top=$(for r in 2 3; do records "$(replica k $r)" | cut -d' ' -f1; done | sort -n | tail -1)
top=$((top - 1))
train k --resume --set ledger.replicas=all
grep -q "blocks.log ended at height $((height - 1)); heights $height to $top restored from" \
  "$work/k/logs/rank-0.log" || { cat "$work/k/logs/rank-0.log"; fail "no block restored"; }
diff <(roots "$work/all") <(roots "$work/k") || fail "the restored run's state roots differ"
for r in 1 2 3; do
  [ "$(records "$(replica k $r)" | cut -d' ' -f1)" -eq 7 ] || fail "replica $r not brought up"
done
verify_ok "$work/k"
[ "$(grep -c "agrees" "$work/verify.log")" -eq 3 ] ||
  { cat "$work/verify.log"; fail "verify did not find 3 agreeing replicas after resume"; }

echo "== 3. a foreign or damaged replica, or a lost primary: refused, nothing written"
cp -r "$work/all" "$work/foreign"
cp "$(replica k 2)" "$(replica foreign 2)"  # same job, another genesis time: another chain
sum_before=$(sha256sum "$work/foreign/chain/blocks.log")
expect_exit 2 "rank-0002/blocks.log differs from .* at height 0" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/foreign" --resume --set ledger.replicas=all
[ "$(sha256sum "$work/foreign/chain/blocks.log")" = "$sum_before" ] || fail "the primary was changed"
cp -r "$work/all" "$work/damaged"
printf 'X' | dd of="$(replica damaged 3)" bs=1 seek=40 conv=notrunc status=none
expect_exit 3 "rank-0003/blocks.log: height 0, byte 12: checksum mismatch .* it is a replica: move it aside" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/damaged" --resume \
  --set ledger.replicas=all
cp -r "$work/all" "$work/lost"
rm "$work/lost/chain/blocks.log"
expect_exit 2 "blocks.log is missing but 3 replica(s) of it exist" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/lost" --resume \
  --set ledger.replicas=all
echo "replicas e2e: all checks passed"
