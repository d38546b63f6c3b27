#!/usr/bin/env bash
# End to end: [privacy] (docs/privacy.md). Secure aggregation commits bitwise the state roots
# of the same job without masks, alone and with DP; a DP job's ranks agree on every root,
# replay the same noise after a stop and resume, write an epsilon column that is the chain
# state's voted epsilon at every height (inspect's and the report's, the same on 1 and 2
# ranks) and that verify recomputes from genesis, and verify recomputes every aggregate from the noisy
# archived updates; bad [privacy] input is exit 2 naming the key.
# Usage: privacy_e2e.sh FEDCHAIN DATASET_H5
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
work=$(mktemp -d /tmp/fedchain-privacy-e2e-XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$(realpath "$0")")/../support/e2e_lib.sh"

small_job "$dataset" "[clients]" "total = 8" "per_round = 4"
mpi=(mpirun -n 2 --oversubscribe)

verify_ok() {  # verify_ok RUN_DIR
  "$fedchain" verify "$1" >"$work/verify.log" 2>&1 || { cat "$work/verify.log"; fail "verify $1"; }
}
# epsilon_column RUN_DIR: "height epsilon" per row of metrics.csv.
epsilon_column() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "epsilon") c = i; next }
           { print $1, (c ? $c : "none") }' "$1/metrics.csv"
}

echo "== secure aggregation: the same roots as without masks"
train plain
train masked --set privacy.secure_aggregation=true
diff <(roots "$work/plain") <(roots "$work/masked") ||
  fail "masked partial sums gave another aggregate than plain ones"
verify_ok "$work/masked"
# Its transactions commit to masked updates: no update root is the plain run's.
"$fedchain" inspect "$work/plain" --txs --json >"$work/plain.json"
"$fedchain" inspect "$work/masked" --txs --json >"$work/masked.json"
/usr/bin/python3 - "$work/plain.json" "$work/masked.json" <<'PY' || fail "masked tx roots"
import json, sys
roots = [{(t["client"], b["height"]): t["update_root"] for b in json.load(open(f)) for t in b["txs"]}
         for f in sys.argv[1:]]
assert roots[0].keys() == roots[1].keys() and len(roots[0]) == 24, len(roots[0])
assert all(roots[0][k] != roots[1][k] for k in roots[0]), "a masked tx signs the plain update"
PY
grep -q "secure aggregation" "$work/verify.log" || { cat "$work/verify.log"; fail "no masks line"; }
! grep -q "epsilon" <(head -1 "$work/plain/metrics.csv") || fail "epsilon column without DP"

echo "== DP: noise moves the model, every aggregate recomputed from the archive"
dp=(--set privacy.dp=true --set privacy.noise_multiplier=1.0 --set privacy.clip=0.5)
train dp "${dp[@]}" --set ledger.archive_updates=true
! diff -q <(roots "$work/plain") <(roots "$work/dp") >/dev/null || fail "DP changed nothing"
# Each rank draws its clients' noise from its own secret; both computed every root alike.
[ -s "$work/dp/logs/rank-0.log" ] && [ -s "$work/dp/logs/rank-1.log" ] || fail "no rank logs"
! grep -rq "differs from the committed" "$work/dp/logs" ||
  fail "a DP rank computed another state root than the one committed"
verify_ok "$work/dp"
grep -q "aggregates *recomputed at 6 heights" "$work/verify.log" ||
  { cat "$work/verify.log"; fail "verify did not recompute the DP aggregates"; }
"$fedchain" inspect "$work/dp" --json >"$work/dp.json"
/usr/bin/python3 - "$work/dp/metrics.csv" "$work/verify.log" "$work/dp.json" <<'PY' ||
import csv, json, re, sys
rows = list(csv.DictReader(open(sys.argv[1])))
eps = [r["epsilon"] for r in rows]
assert len(eps) == 6 and all(float(b) > float(a) > 0 for a, b in zip(eps, eps[1:])), eps
m = re.search(r"epsilon ([0-9.]+) at delta 1e-05 after 6 rounds .*recomputed from genesis; "
              r"the chain state's voted value matches it", open(sys.argv[2]).read())
assert m, "verify prints no epsilon, or not the chain state's"
assert m.group(1) == eps[-1], (m.group(1), eps[-1])
# The chain state's epsilon after each block is the metrics row's, to the millionth.
voted = [b["epsilon_micro"] for b in json.load(open(sys.argv[3]))]
assert voted == [int(e.replace(".", "")) for e in eps], (voted, eps)
PY
  fail "epsilon column"
"$fedchain" inspect "$work/dp" | grep -q "^privacy.dp: clip 0.5, noise multiplier 1, delta 1e-05, q = 4/8" ||
  fail "inspect names no mechanism"
# The report's privacy section gives the chain state's value after the last round.
"$fedchain" report "$work/dp" --out "$work/dp.html" >"$work/report.log" 2>&1 ||
  { cat "$work/report.log"; fail "report of a DP run"; }
grep -qF "<td>$(epsilon_column "$work/dp" | tail -1 | cut -d' ' -f2) (voted in the chain state after 6 rounds)</td>" \
  "$work/dp.html" || fail "the report does not give the chain state's epsilon"

echo "== DP on one rank: the same epsilon at every height as on two"
mpi=(mpirun -n 1)
train dp-one-rank "${dp[@]}"
mpi=(mpirun -n 2 --oversubscribe)
"$fedchain" inspect "$work/dp-one-rank" --json >"$work/dp-one-rank.json"
diff <(epsilon_column "$work/dp") <(epsilon_column "$work/dp-one-rank") ||
  fail "one rank reports another epsilon than two"
diff <(grep epsilon_micro "$work/dp.json") <(grep epsilon_micro "$work/dp-one-rank.json") ||
  fail "one rank's chain state voted another epsilon than two ranks'"

echo "== DP with masks: the same roots as DP alone"
train dp-masked "${dp[@]}" --set privacy.secure_aggregation=true
diff <(roots "$work/dp") <(roots "$work/dp-masked") || fail "masks changed a DP aggregate"

echo "== DP stopped at round 3 and resumed: the same noise, the same roots"
stop_at_round dp-resumed 3 "${dp[@]}" --set ledger.archive_updates=true
train dp-resumed --resume "${dp[@]}" --set ledger.archive_updates=true
diff <(roots "$work/dp") <(roots "$work/dp-resumed") || fail "a resumed DP run drew other noise"
diff <(epsilon_column "$work/dp") <(epsilon_column "$work/dp-resumed") ||
  fail "a resumed DP run reports another epsilon"
verify_ok "$work/dp-resumed"

echo "== bad input is exit 2 naming the key"
bad() {  # bad PATTERN ARGS...: exit 2 with PATTERN, nothing written
  local pattern=$1
  shift
  expect_exit 2 "$pattern" "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir \
    "$work/bad" "$@"
  [ ! -e "$work/bad/chain" ] || fail "a refused job left a chain behind: $*"
}
bad "privacy.clip" --set privacy.clip=0
bad "privacy.clip" --set privacy.clip=-1
bad "privacy.noise_multiplier" --set privacy.noise_multiplier=-0.5
bad "privacy.delta" --set privacy.delta=0
bad "privacy.delta" --set privacy.delta=1
bad "privacy.secure_aggregation = true" --set privacy.secure_aggregation=true \
  --set aggregate.rule=median
bad "privacy.secure_aggregation = true with ledger.archive_updates" \
  --set privacy.secure_aggregation=true --set ledger.archive_updates=true
bad "privacy.dp = true" --set privacy.dp=true --set aggregate.rule=trimmed_mean
bad "privacy.target_epsilon = 0.5: epsilon passes it at round" "${dp[@]}" \
  --set privacy.target_epsilon=0.5
bad "aggregate.clip" "${dp[@]}" --set aggregate.clip=0.6

echo "PASS: privacy_e2e"
