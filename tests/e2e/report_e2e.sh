#!/usr/bin/env bash
# End to end: `fedchain report`, the one HTML page about a run (docs/running.md, "The run
# report").
#   1. two short runs (fedavg, and median under a sign-flip attack): the page of one,
#      compared with the other, holds every section, numbers from its metrics.csv and its
#      chain, both runs' names, a passing audit banner, and no privacy section;
#   2. it opens in headless Chromium with no console message, and its screenshot is not
#      blank and shows the green banner (skipped, exit 77, where chromium is not installed,
#      after every other check);
#   3. an epsilon column in metrics.csv gives the privacy section;
#   4. a damaged chain: the page is written with a failing banner naming the height, exit 3;
#   5. a running job: the report reads what is committed so far without taking run.lock,
#      says it runs, and the job stops cleanly; then the page of the job stopped early;
#   6. bad input: no run directory, no folder for --out, no python, a missing page writer
#      (exit 2, naming them).
# Usage: report_e2e.sh FEDCHAIN DATASET_H5
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
work=$(mktemp -d /tmp/fedchain-report-e2e-XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$(realpath "$0")")/../support/e2e_lib.sh"
mpi=(mpirun -n 2 --oversubscribe)
python=/usr/bin/python3

small_job "$dataset" "[ledger]
archive_updates = true"

# has FILE TEXT: FILE holds TEXT (fixed string).
has() { grep -qF -- "$2" "$1" || fail "$1 lacks '$2'"; }
# cell RUN_DIR HEIGHT COLUMN: that metrics.csv cell, as written.
cell() {
  awk -F, -v h="$2" -v col="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
                                  $1 == h { print $c }' "$1/metrics.csv"
}

echo "== 1. a run compared with another: sections, numbers, names, a passing banner"
train fedavg
train median --set aggregate.rule=median --set faults.attack=sign_flip \
  --set "faults.byzantine=[1]"
"$fedchain" report "$work/fedavg" --compare "$work/median" --out "$work/page.html" \
  >"$work/report.log" 2>&1 || { cat "$work/report.log"; fail "report"; }
page=$work/page.html
for section in "id=job" "id=metrics" "id=time" "id=chain" "id=contributions" "id=audit" \
  "Committee per epoch" "Jailed validators" "Equivocation evidence" "per client" \
  "Audit passed: OK: $work/fedavg verifies: 6 blocks" "# Resolved fedchain job"; do
  has "$page" "$section"
done
grep -q "Privacy spent" "$page" && fail "a privacy section without an epsilon column"
grep -q "Audit FAILED" "$page" && fail "a failing banner for runs that verify"
for h in 2 5; do
  for column in test_acc train_loss state_root; do has "$page" "<td>$(cell "$work/fedavg" $h $column)</td>"; done
done
# The chain: block hashes, and each rank's samples in the chain state at the tip.
"$fedchain" inspect --json --height 6 "$work/fedavg" >"$work/tip.json"
"$fedchain" inspect --json "$work/median" >"$work/median.json"
$python - "$work/tip.json" "$work/median.json" "$page" <<'PY' || fail "chain facts missing from the page"
import json, sys
tip, median, page = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), open(sys.argv[3]).read()
wanted = [tip["hash"][:16], median[2]["hash"][:16]]
wanted += [f"<td>{c['after']['samples_trained']}</td>" for c in tip["state_change"]["contributions"]]
missing = [w for w in wanted if w not in page]
sys.exit(f"missing: {missing}" if missing else 0)
PY
# Both runs by name in the plots' legends (matplotlib keeps each text as an SVG comment).
has "$page" "<!-- fedavg -->"
has "$page" "<!-- median -->"
grep -q "http" <(grep -o 'src="[^"]*"\|href="[^#"][^"]*"' "$page") &&
  fail "the page loads something from elsewhere"
[ -e "$page.facts.json" ] && fail "the facts file was left beside the page"

echo "== 3. an epsilon column gives the privacy section"
cp -r "$work/fedavg" "$work/dp"
awk -F, -v OFS=, 'NR == 1 { print $0, "epsilon"; next } { print $0, 0.25 * $1 }' \
  "$work/fedavg/metrics.csv" >"$work/dp/metrics.csv"
"$fedchain" report "$work/dp" >"$work/report.log" 2>&1 || { cat "$work/report.log"; fail "report dp"; }
has "$work/dp/report.html" "Privacy spent"
has "$work/dp/report.html" "<td>1.5</td>"

echo "== 4. a damaged chain: the page says where, exit 3"
cp -r "$work/fedavg" "$work/damaged"
chain=$work/damaged/chain/blocks.log
offset=$(($(record_offset "$chain" 4) + 40))
printf '\xff' | dd of="$chain" bs=1 seek="$offset" conv=notrunc status=none
expect_exit 3 "report: " "$fedchain" report "$work/damaged" --out "$work/damaged.html"
has "$work/damaged.html" "Audit FAILED: damaged: height 4"
has "$work/damaged.html" "<td>$(cell "$work/damaged" 3 test_acc)</td>"

echo "== 5. a running job: what is committed so far, run.lock left to the job"
train_in_background live 3 --set job.rounds=500
"$fedchain" report "$work/live" --out "$work/live.html" >"$work/report.log" 2>&1 ||
  { cat "$work/report.log"; kill "$launcher"; fail "report of a running job"; }
# The job still runs and holds its lock: a stop signal ends it cleanly, and it verifies.
kill -TERM "${ranks[-1]}"
wait "$launcher" || { cat "$work/live.log"; fail "the job did not stop cleanly after a report"; }
grep -q "another job\|run.lock" "$work/live.log" && { cat "$work/live.log"; fail "lock trouble"; }
"$fedchain" verify "$work/live" >/dev/null || fail "the reported running job does not verify"
has "$work/live.html" "Audit passed: OK: $work/live verifies"
has "$work/live.html" "<td>running (pid "
grep -q "<td>running" "$page" && fail "finished runs shown as running"
grep -q "<td>500 of 500</td>" "$work/live.html" && fail "the running job's page shows every round"
# Stopped early: the page of what it committed, the job no longer running.
"$fedchain" report "$work/live" >"$work/report.log" 2>&1 || { cat "$work/report.log"; fail "report of a stopped job"; }
has "$work/live/report.html" "<td>ended</td>"
grep -q "<td>500 of 500</td>" "$work/live/report.html" && fail "the stopped job's page shows every round"

echo "== 6. bad input"
expect_exit 2 "holds no run" "$fedchain" report "$work/nothing-here"
expect_exit 2 "the folder $work/no-folder does not exist" \
  "$fedchain" report "$work/fedavg" --out "$work/no-folder/page.html"
FEDCHAIN_PYTHON=$work/no-python expect_exit 2 "cannot run $work/no-python" \
  "$fedchain" report "$work/fedavg" --out "$work/no-python.html"
[ -e "$work/no-python.html" ] && fail "a page without a page writer"
FEDCHAIN_REPORT_SCRIPT=$work/none.py expect_exit 2 "FEDCHAIN_REPORT_SCRIPT names $work/none.py" \
  "$fedchain" report "$work/fedavg"

echo "== 2. the page in headless Chromium"
if ! command -v chromium >/dev/null; then
  echo "skipped: chromium is not installed (apt-get install chromium; scripts/setup-debian.sh)"
  exit 77
fi
# shot PAGE PNG: a screenshot of PAGE; fails on any console message (the page has no script,
# so a message is an error: a resource it could not load, markup it could not parse).
shot() {
  timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$work/chromium" --enable-logging=stderr --v=0 --window-size=1200,1600 \
    --screenshot="$2" "file://$1" >"$work/chromium.log" 2>&1 ||
    { cat "$work/chromium.log"; fail "chromium on $1"; }
  grep -q ":CONSOLE" "$work/chromium.log" && { cat "$work/chromium.log"; fail "console messages"; }
  [ -s "$2" ] || fail "no screenshot of $1"
}
# drawn PNG R G B: the screenshot has many colours, ink on a tenth of it, and the banner's
# background colour over a banner's area.
drawn() {
  $python - "$@" <<'PY'
import sys
from PIL import Image
image = Image.open(sys.argv[1]).convert("RGB")
colours = image.getcolors(maxcolors=1 << 24)
total = image.width * image.height
ink = sum(n for n, c in colours if c != (255, 255, 255))
banner = sum(n for n, c in colours if c == tuple(int(v) for v in sys.argv[2:5]))
print(f"{len(colours)} colours, {ink / total:.0%} ink, {banner} banner pixels")
sys.exit(0 if len(colours) > 64 and ink > total / 10 and banner > 5000 else 1)
PY
}
shot "$page" "$work/page.png"
drawn "$work/page.png" 223 243 223 || fail "the screenshot looks blank or lacks the green banner"
shot "$work/damaged.html" "$work/damaged.png"
drawn "$work/damaged.png" 251 224 224 || fail "the damaged run's screenshot lacks the red banner"
echo "PASS"
