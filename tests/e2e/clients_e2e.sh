#!/usr/bin/env bash
# End to end: clients apart from ranks (docs/clients.md). The same job of K = 20 clients,
# C = 10 sampled per round, commits bitwise the same state roots on 1, 2, 4 and 5 ranks,
# for fedavg (int64 partial sums per rank) and the median (client updates in client order);
# a run stopped mid-way and resumed commits them too; each chain
# verifies, recomputing every aggregate from the per-client update archive; clients.csv
# and `inspect --txs` say who trained; bad [clients] input is exit 2 naming the key.
# Usage: clients_e2e.sh FEDCHAIN DATASET_H5
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
work=$(mktemp -d /tmp/fedchain-clients-e2e-XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$(realpath "$0")")/../support/e2e_lib.sh"

small_job "$dataset" "[clients]" "total = 20" "per_round = 10" "sampling = \"by_samples\""
sed -i 's/^partition = .*//; s/^\[data\]$/[data]\npartition = "dirichlet"\nalpha = 0.5/' \
  "$work/job.toml"
sed -i 's/^archive_updates = .*//; s/^\[keys\]$/[ledger]\narchive_updates = true\n[keys]/' \
  "$work/job.toml"

verify_ok() {  # verify_ok RUN_DIR
  "$fedchain" verify "$1" >"$work/verify.log" 2>&1 || { cat "$work/verify.log"; fail "verify $1"; }
}

for rule in fedavg median; do
  extra=()
  [ "$rule" = median ] && extra=(--set aggregate.rule=median --set aggregate.exchange=allgather)
  for n in 1 2 4 5; do
    echo "== $rule on $n ranks"
    mpi=(mpirun -n "$n" --oversubscribe)
    train "$rule-$n" "${extra[@]}"
    verify_ok "$work/$rule-$n"
    grep -q "^round 6/6 | clients 10/20" "$work/$rule-$n.log" ||
      { cat "$work/$rule-$n.log"; fail "the progress line does not say 10 of 20 clients"; }
    [ "$n" = 1 ] && continue
    diff <(roots "$work/$rule-1") <(roots "$work/$rule-$n") ||
      fail "$rule: the state roots on $n ranks differ from those on 1 rank"
  done
done

echo "== clients.csv and inspect --txs say who trained"
/usr/bin/python3 - "$work/fedavg-2/clients.csv" <<'PY' || fail "clients.csv does not add up"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 20, len(rows)
assert sum(int(r["rounds"]) for r in rows) == 60, "6 rounds of 10 clients"
assert all(int(r["updates_accepted"]) == int(r["rounds"]) for r in rows), "fedavg keeps all"
PY
"$fedchain" inspect "$work/fedavg-2" --txs >"$work/inspect.log"
[ "$(grep -c " client " "$work/inspect.log")" -eq 60 ] ||
  { cat "$work/inspect.log"; fail "inspect --txs does not list 60 transactions"; }
grep -q "20 clients (10 per round, by_samples)" "$work/inspect.log" ||
  { cat "$work/inspect.log"; fail "inspect does not name the clients"; }

echo "== stopped on 4 ranks at round 3, resumed"
# The ranks are the chain's validators, fixed in genesis: a run resumes on its rank count.
mpi=(mpirun -n 4 --oversubscribe)
stop_at_round resumed 3
train resumed --resume
diff <(roots "$work/fedavg-1") <(roots "$work/resumed") ||
  fail "a resumed run commits other roots than the one on 1 rank"
verify_ok "$work/resumed"

echo "== bad input is exit 2 naming the key"
mpi=(mpirun -n 2 --oversubscribe)
expect_exit 2 "clients.per_round = 30 is more than the 20 clients" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/bad" --set clients.per_round=30
[ ! -e "$work/bad/chain" ] || fail "a refused job left a chain behind"

echo "PASS: clients_e2e"
