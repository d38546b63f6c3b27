#!/usr/bin/env bash
# faults.consensus end to end: `fedchain train` with 4 ranks (logreg on a slice of
# Fashion-MNIST) and one Byzantine rank in the vote. With "equivocate" the run finishes, the
# chain verifies, and `fedchain inspect` shows the committed evidence against that rank;
# with "silent" the rank never proposes a committed block. Job check refuses a behaviour on
# no rank and more Byzantine ranks than f, with exit 2. A resumed run replays rounds across
# the jailing to the same state roots.
# Usage: consensus_faults_e2e.sh FEDCHAIN DATASET_H5 JOB
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
job=$(realpath "$3")
work=$(mktemp -d /tmp/fedchain-faults-XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$(realpath "$0")")/../support/e2e_lib.sh"
small=(--set "data.path=$dataset" --set data.train_limit=2000 --set data.test_limit=500
       --set model.arch=logreg --set job.rounds=6 --set train.local_steps=10
       --set keys.derive_from_seed=true --set "keys.dir=''")

# Refused before any rank starts: exit 2 and a message naming the key.
set +e
out=$("$fedchain" job check "$job" "${small[@]}" --set faults.consensus=equivocate 2>&1)
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "a behaviour on no rank: exit $rc, expected 2 ($out)"
grep -q "faults.byzantine lists no rank" <<<"$out" || fail "unclear message: $out"
set +e
out=$("$fedchain" job check "$job" "${small[@]}" --set faults.consensus=silent \
      --set "faults.byzantine=[1,2]" 2>&1)
rc=$?
set -e
[ "$rc" -eq 2 ] || fail "2 Byzantine of 4 ranks: exit $rc, expected 2 ($out)"
grep -q "at most f = 1" <<<"$out" || fail "unclear message: $out"

# equivocate on rank 1: evidence committed, rank 1 jailed, the run ends normally.
mpirun -n 4 --oversubscribe "$fedchain" train "$job" --run-dir "$work/equivocate" "${small[@]}" \
  --set faults.consensus=equivocate --set "faults.byzantine=[1]" \
  >"$work/equivocate.log" 2>&1 || { cat "$work/equivocate.log"; fail "equivocate run"; }
"$fedchain" verify "$work/equivocate" | tee "$work/verify.txt"
grep -q "jailed: 1" "$work/verify.txt" || fail "the equivocating rank is not jailed"
"$fedchain" inspect "$work/equivocate" | tee "$work/inspect.txt"
grep -q "^evidence in block [0-9]*: validator 1 signed two" "$work/inspect.txt" ||
  fail "inspect shows no evidence against rank 1"
evidence=$("$fedchain" inspect --json "$work/equivocate" |
  python3 -c 'import json,sys; print(sum(len(b["evidence"]) for b in json.load(sys.stdin)))')
[ "$evidence" -ge 1 ] || fail "no evidence in inspect --json"
grep -q "misbehaves in the vote" "$work/equivocate/logs/rank-1.log" ||
  fail "rank 1's log does not say it misbehaves"

# Resume across the jailing: with its checkpoints gone, a resumed run replays all 6 rounds
# from the initial model against the chain, and must count each round's updates as its
# block did (the jailed rank's left out) to reproduce every committed state root.
cp -r "$work/equivocate" "$work/replay"
rm -f "$work/replay"/checkpoints/*.h5
mpirun -n 4 --oversubscribe "$fedchain" train "$job" --run-dir "$work/replay" "${small[@]}" \
  --set faults.consensus=equivocate --set "faults.byzantine=[1]" --resume \
  >"$work/replay.log" 2>&1 || { cat "$work/replay.log"; fail "resume across a jailing"; }
"$fedchain" verify "$work/replay" >/dev/null || fail "the replayed run does not verify"

# Consensus traffic per round in metrics.csv: every round sent some consensus messages.
python3 - "$work/equivocate/metrics.csv" <<'PY' || fail "consensus columns in metrics.csv"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 6, rows
for row in rows:
    assert int(row["consensus_messages"]) > 0 and int(row["consensus_bytes"]) > 0, row
PY

# silent on rank 2: it trains and exchanges updates but sends no vote and no proposal.
mpirun -n 4 --oversubscribe "$fedchain" train "$job" --run-dir "$work/silent" "${small[@]}" \
  --set faults.consensus=silent --set "faults.byzantine=[2]" \
  >"$work/silent.log" 2>&1 || { cat "$work/silent.log"; fail "silent run"; }
"$fedchain" verify "$work/silent"
"$fedchain" inspect --json "$work/silent" | python3 -c '
import json, sys
blocks = json.load(sys.stdin)
assert len(blocks) == 6, len(blocks)
assert all(b["proposer"] != 2 for b in blocks), "a block proposed by the silent rank"
assert all(len(b["txs"]) == 4 for b in blocks), "the silent rank must still contribute its update"
' || fail "silent run's chain"
echo "consensus faults e2e: passed"
