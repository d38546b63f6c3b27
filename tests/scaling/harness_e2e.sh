#!/usr/bin/env bash
# End to end: bench/scaling/run.sh on a tiny real job (logreg, 2 rounds, 1 and 2 ranks,
# strong and weak), as a user runs it. Checks the run directories (each chain verifies),
# the summary CSV (points, samples per rank, efficiency of the base point), the PNGs and
# the cost-model report; that a second run reuses the finished points; and that bad
# arguments exit 2 with a message saying what is wrong.
# Usage: harness_e2e.sh FEDCHAIN DATASET_H5
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
harness="$here/../../bench/scaling/run.sh"
for module in matplotlib numpy h5py; do
  if ! /usr/bin/python3 -c "import $module" 2>/dev/null; then
    echo "SKIP: /usr/bin/python3 lacks $module (apt-get install python3-matplotlib python3-h5py)"
    exit 77
  fi
done
work=$(mktemp -d /tmp/fedchain-scaling-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cat >"$work/job.toml" <<JOB
[job]
rounds = 2
[data]
path = "$dataset"
train_limit = 200
test_limit = 100
[model]
arch = "logreg"
[checkpoint]
every = 0
JOB

out="$work/out"
"$harness" --job "$work/job.toml" --out "$out" --ranks 1,2 --fedchain "$fedchain" \
  --set train.batch_size=20 >"$work/run.log" 2>&1 || { cat "$work/run.log"; fail "run.sh"; }

for point in strong/n1 strong/n2 weak/n1 weak/n2; do
  [ "$(tail -n +2 "$out/$point/metrics.csv" | wc -l)" -eq 2 ] || fail "$point: expected 2 rounds"
  "$fedchain" verify "$out/$point" >/dev/null || fail "$point: fedchain verify refused its chain"
done
grep -q "^train_limit = 400$" "$out/weak/n2/job.toml" || fail "weak n2 must train on 2 * 200 samples"

summary="$out/summary.csv"
# mode,ranks,samples_per_rank,efficiency for every point, found by column name.
fields() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
           { print $c["mode"], $c["ranks"], $c["samples_per_rank"], $c["params"], $c["efficiency"] }' "$1"
}
fields "$summary" >"$work/fields.txt"
cat "$work/fields.txt"
[ "$(wc -l <"$work/fields.txt")" -eq 4 ] || fail "summary must hold 4 points"
grep -qx "strong 1 200 7850 1" "$work/fields.txt" || fail "strong n1: 200 samples, 7850 params, efficiency 1"
grep -q "^strong 2 100 7850 " "$work/fields.txt" || fail "strong n2 must train 100 samples per rank"
grep -qx "weak 1 200 7850 1" "$work/fields.txt" || fail "weak n1: efficiency 1"
grep -q "^weak 2 200 7850 " "$work/fields.txt" || fail "weak n2 must train 200 samples per rank"
for png in phases efficiency consensus; do
  [ "$(head -c 4 "$out/plots/$png.png" | od -An -c | tr -d ' ')" = "211PNG" ] ||
    fail "$png.png is not a PNG"
done
grep -q "## Check: predicted vs measured" "$out/cost-model.txt" || fail "cost-model.txt lacks the check"
grep -q "| 4,096 |" "$out/cost-model.txt" || fail "cost-model.txt lacks the 4,096-rank prediction"

echo "== a second run reuses every finished point"
cp "$out/strong/n2/chain/blocks.log" "$work/blocks.before"
"$harness" --job "$work/job.toml" --out "$out" --ranks 1,2 --fedchain "$fedchain" \
  --set train.batch_size=20 >"$work/rerun.log" 2>&1 || { cat "$work/rerun.log"; fail "rerun"; }
[ "$(grep -c "already complete" "$work/rerun.log")" -eq 4 ] || { cat "$work/rerun.log"; fail "points were run again"; }
cmp -s "$out/strong/n2/chain/blocks.log" "$work/blocks.before" || fail "a rerun changed a finished chain"

echo "== bad arguments exit 2 and say what is wrong"
expect_usage_error() {  # expect_usage_error PATTERN ARGS...
  local pattern=$1
  shift
  set +e
  "$harness" "$@" >"$work/err.log" 2>&1
  local rc=$?
  set -e
  [ $rc -eq 2 ] || { cat "$work/err.log"; fail "expected exit 2, got $rc: $*"; }
  grep -q -- "$pattern" "$work/err.log" || { cat "$work/err.log"; fail "message lacks '$pattern'"; }
}
expect_usage_error "'0' is not a positive rank count" --job "$work/job.toml" --out "$work/bad" \
  --ranks 1,0 --fedchain "$fedchain"
expect_usage_error "does not exist" --job "$work/none.toml" --out "$work/bad" --fedchain "$fedchain"
expect_usage_error "--mode must be" --job "$work/job.toml" --out "$work/bad" --mode fast \
  --fedchain "$fedchain"
expect_usage_error "unknown key" --job "$work/job.toml" --out "$work/bad" --fedchain "$fedchain" \
  --set train.learning_rate=0.1
[ ! -e "$work/bad" ] || fail "a refused sweep created its output root"
rm "$out/weak/n1/metrics.csv"
set +e
"$harness" --report-only "$out" >"$work/report.log" 2>&1
rc=$?
set -e
[ $rc -eq 2 ] && grep -q "weak/n1/metrics.csv: missing" "$work/report.log" ||
  { cat "$work/report.log"; fail "a point without metrics.csv must exit 2 naming the file"; }
echo "scaling harness e2e: all checks passed"
