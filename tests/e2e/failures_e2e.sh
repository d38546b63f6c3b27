#!/usr/bin/env bash
# End to end: failures end the job promptly, saying what went wrong (docs/running.md, "When
# things go wrong"). Each command runs under `timeout`: a hang fails the test.
#   1. an error on rank 0 alone (its metrics.csv unparseable on resume) ends every rank
#      with that error and its exit code, where the others used to wait in a collective;
#   2. a non-finite local update: with fedavg every rank stops at once naming the round and
#      ranks; with a robust rule that rank is left out of the round and the chain verifies;
#   3. SIGTERM to one rank while every rank waits in consensus stops the job cleanly;
#   4. train.batch_size far above the shards sizes nothing: the job runs in a small address
#      space, and a job that cannot fit is refused before training, naming the numbers.
# Usage: failures_e2e.sh FEDCHAIN DATASET_H5
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
work=$(mktemp -d /tmp/fedchain-failures-e2e-XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$(realpath "$0")")/../support/e2e_lib.sh"
mpi=(timeout 60 mpirun -n 2 --oversubscribe)

small_job "$dataset"

echo "== 1. rank 0 alone fails: every rank ends, with its message and exit code"
train m
echo "not,a,height" >>"$work/m/metrics.csv"
expect_exit 2 "rank 0: .*metrics.csv: line 8 does not start with a height ('not,a,height')" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/m" --resume

echo "== 2a. non-finite with fedavg: every rank stops, naming the round and the clients"
expect_exit 1 "round 1: local training went non-finite .* on client(s) 0, 1; .*lower train.lr" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/nan" --set train.lr=1e8

echo "== 2b. non-finite with a robust rule: that client is left out, the chain verifies"
mpi=(timeout 60 mpirun -n 3 --oversubscribe)
train robust --set aggregate.rule=median --set ledger.archive_updates=true \
  --set faults.byzantine=[1] --set faults.attack=scaling --set faults.scaling_factor=1e39
[ "$(grep -c "^round [0-9]*: client(s) 1 went non-finite" "$work/robust.log")" -eq 6 ] ||
  { cat "$work/robust.log"; fail "client 1's non-finite updates were not reported"; }
"$fedchain" verify "$work/robust" >"$work/verify.log" 2>&1 ||
  { cat "$work/verify.log"; fail "the chain with left-out updates does not verify"; }
grep -q "6 blocks, 12 txs" "$work/verify.log" || { cat "$work/verify.log"; fail "client 1 counted"; }

echo "== 3. SIGTERM to rank 0 while every rank waits in consensus"
# Rank 2 flips a bit of its model at height 1 and refuses the block the others propose:
# with 3 ranks no block reaches a quorum, so height 1 waits.
"${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/stall" \
  --set faults.flip_bit_rank=2 --set faults.flip_bit_height=1 >"$work/stall.log" 2>&1 &
launcher=$!
# Rank 0's process, once set up; a second later every rank waits for the first block.
rank0=""
for _ in $(seq 1 1500); do
  if grep -qsE "ranks, [0-9]+ clients" "$work/stall/logs/rank-0.log"; then
    for pid in $(pgrep -f -- "--run-dir $work/stall" || true); do
      tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=0" &&
        rank0=$pid
    done
  fi
  [ -n "$rank0" ] && break
  sleep 0.02
done
[ -n "$rank0" ] || { kill "$launcher"; cat "$work/stall.log"; fail "rank 0 did not start"; }
sleep 1
kill -TERM "$rank0"
set +e
wait "$launcher"
rc=$?
set -e
[ $rc -eq 0 ] || { cat "$work/stall.log"; fail "stopped in consensus: exit $rc, expected 0"; }
grep -q "stopped by signal after round 0" "$work/stall.log" ||
  { cat "$work/stall.log"; fail "no stop message"; }

echo "== 4. train.batch_size = 1048576 on 1,000-sample shards, in 3 GiB of address space"
mpi=(timeout 60 mpirun -n 2 --oversubscribe)
(ulimit -v 3145728 && train big --set train.batch_size=1048576)
expect_exit 2 "a rank needs about .* batches of 20000 samples (train.batch_size = 20000)" \
  bash -c 'ulimit -v 3145728 && exec "$@"' - "${mpi[@]}" "$fedchain" train "$work/job.toml" \
  --run-dir "$work/refused" --set model.arch=cnn --set data.train_limit=20000 \
  --set train.batch_size=20000
[ ! -e "$work/refused/chain" ] || fail "a refused job started its chain"
echo "failures e2e: all checks passed"
