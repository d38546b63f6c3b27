#!/usr/bin/env bash
# End to end on a test cluster of network namespaces (cluster_lib.sh; docs/slurm.md,
# "Multi-node"): Open MPI over TCP between "nodes" that share nothing but a bridge.
# One case per call:
#   cleanup   the harness leaves nothing behind: not after a run, not when it is stopped
#             by a signal, and what a SIGKILLed harness left is reaped by the next one;
#   verify    a small chain job on 3 nodes x 2 ranks: it runs, and `fedchain verify` passes;
#   committee a committee of 3 of 8 ranks on 4 nodes, elected every 2 heights: the chain
#             verifies, and the followers take one message a height (the certified block);
#   replicas  ledger.replicas = "per-node": the first rank of every node but rank 0's keeps
#             the chain, each copy agrees with the primary, no other rank writes one;
#   linkdown  a node's link cut after some blocks: the job ends within 60 s naming that
#             node's ranks (no hang), the chain verifies, and once the link is back
#             `--resume` completes with the state roots of an uninterrupted run;
#   slurm     one slurmd per node (cluster_slurm.sh): slurm/train.sbatch as a 3-node job of
#             2 ranks a node finishes, verifies, keeps per-node replicas, and reaches the
#             state roots of the same job on one node;
#   slurm_linkdown  the same with node 2's link cut after round 4: the batch script goes
#             on within 60 s, the error names ranks 4 and 5, the chain verifies.
# Exit 77 (skipped) with the reason where namespaces cannot be made.
# Usage: cluster_e2e.sh CASE FEDCHAIN DATASET_H5
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
case_name=$1
fedchain=$(realpath "$2")
dataset=$(realpath "$3")
here=$(dirname "$(realpath "$0")")
work=$(mktemp -d "/tmp/fedchain-cluster-$case_name-XXXXXX")
# shellcheck source=cluster_lib.sh
source "$here/cluster_lib.sh"
# shellcheck source=../support/e2e_lib.sh
source "$here/../support/e2e_lib.sh"
trap 'cluster_down; rm -rf "$work"' EXIT
# shellcheck disable=SC2034 # read by cluster_mpirun
cluster_timeout=60  # a hang fails the case (exit 124), within ctest's TIMEOUT
# ctest's timeout kills without running traps: end first, so the trap cleans up.
trap 'echo "FAIL: interrupted"; exit 1' INT TERM

# cluster_job NAME NODES PER_NODE JOB [ARGS...]: JOB (a job file) run on a fresh NODES-node
# cluster with PER_NODE ranks on each, into $work/NAME, ARGS (--set ...) passed to train;
# it must finish, spread over every node, and verify. One more kind of job (a committee)
# is one more call.
cluster_job() {
  local name=$1 nodes=$2 per_node=$3 job=$4
  shift 4
  cluster_up "$work/cluster-$name" "$nodes"
  cluster_mpirun $((nodes * per_node)) --npernode "$per_node" --display-map \
    "$fedchain" train "$job" --run-dir "$work/$name" "$@" >"$work/$name.log" 2>&1 ||
    { cat "$work/$name.log"; fail "run $name on $nodes nodes"; }
  local i
  for i in $(seq 0 $((nodes - 1))); do
    grep -q "Data for node: $(cluster_host "$i")[[:space:]].*Num procs: $per_node" \
      "$work/$name.log" || { cat "$work/$name.log"; fail "node $i did not run $per_node ranks"; }
  done
  "$fedchain" verify "$work/$name" >"$work/$name.verify" 2>&1 ||
    { cat "$work/$name.verify"; fail "verify $name"; }
  cluster_down
}

case_cleanup() {
  cluster_up "$work/c1" 3
  local id=$cluster_id
  cluster_mpirun 3 --npernode 1 hostname | sort >"$work/hosts.txt"
  diff <(for i in 0 1 2; do cluster_host "$i"; done) "$work/hosts.txt" ||
    fail "the ranks did not run one on each node"
  cluster_exec 1 sleep 300 &  # a process of the cluster's own, left running
  cluster_down
  [ -z "$(cluster_leftovers "$id" "$work/c1")" ] ||
    { cluster_leftovers "$id" "$work/c1"; fail "cluster_down left these"; }

  echo "== a harness stopped by SIGTERM mid-job cleans up; one killed by SIGKILL is reaped"
  local marker
  for signal in TERM KILL; do
    marker="$work/up-$signal"
    bash -c 'source "$1/cluster_lib.sh"; trap "cluster_down; exit 1" TERM
             cluster_up "$2" 2; touch "$3"; cluster_exec 1 sleep 300 & wait' \
      - "$here" "$work/c-$signal" "$marker" &
    local harness=$!
    for _ in $(seq 1 200); do [ -e "$marker" ] && break; sleep 0.05; done
    [ -e "$marker" ] || fail "the harness did not come up"
    kill "-$signal" "$harness"
    wait "$harness" || true
    if [ "$signal" = KILL ]; then
      [ -n "$(cluster_leftovers "fcc$harness" "$work/c-$signal")" ] ||
        fail "SIGKILL left nothing to reap?"
      cluster_up "$work/c-reaper" 1  # reaps what a dead harness left
      cluster_down
    fi
    [ -z "$(cluster_leftovers "fcc$harness" "$work/c-$signal")" ] ||
      { cluster_leftovers "fcc$harness" "$work/c-$signal"; fail "$signal left these"; }
  done
}

case_verify() {
  small_job "$dataset"
  cluster_job verify 3 2 "$work/job.toml" --set ledger.replicas=primary
  grep -q "verifies: 6 blocks" "$work/verify.verify" || { cat "$work/verify.verify"; fail "verify"; }
}

case_committee() {
  small_job "$dataset" "[consensus]" "committee = 3" "epoch = 2"
  cluster_job committee 4 2 "$work/job.toml"
  grep -q "committee    3 of them" "$work/committee.verify" ||
    { cat "$work/committee.verify"; fail "verify does not report the committee"; }
  /usr/bin/python3 - "$work/committee/metrics.csv" <<'PY' || fail "followers across nodes"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
follower = [int(r["follower_messages"]) for r in rows]
assert statistics.median(follower) == 1 and max(follower) <= 10, follower  # see committee_e2e.sh
assert all(1 <= int(r["follower_verifications"]) <= 3 for r in rows), rows
PY
}

case_replicas() {
  small_job "$dataset"
  cluster_job replicas 3 2 "$work/job.toml"  # ledger.replicas = "per-node", the default
  ls "$work/replicas/chain/replicas" >"$work/replica-ranks.txt"
  diff <(printf 'rank-0002\nrank-0004\n') "$work/replica-ranks.txt" ||
    fail "per-node on 3 nodes of 2 ranks: replicas of ranks 2 and 4 expected"
  # Each replica replayed from genesis and holding the primary's block at every height.
  for r in 2 4; do
    grep -q "replica      chain/replicas/rank-000$r/blocks.log: height 6, agrees" \
      "$work/replicas.verify" || { cat "$work/replicas.verify"; fail "rank $r's replica"; }
  done
}

case_linkdown() {
  small_job "$dataset"
  sed -i 's/^rounds = 6$/rounds = 30/' "$work/job.toml"
  local stall=(--set job.stall_timeout_s=15)
  cluster_job ref 4 2 "$work/job.toml" "${stall[@]}"
  cluster_up "$work/cluster-cut" 4
  cluster_mpirun 8 --npernode 2 "$fedchain" train "$work/job.toml" \
    --run-dir "$work/cut" "${stall[@]}" >"$work/cut.log" 2>&1 &
  local launcher=$!
  for _ in $(seq 1 1500); do grep -q "^round 4/" "$work/cut.log" && break; sleep 0.02; done
  grep -q "^round 4/" "$work/cut.log" || { cat "$work/cut.log"; fail "the job did not start"; }
  cluster_link down 3
  local cut_at=$SECONDS rc=0
  wait "$launcher" || rc=$?
  local took=$((SECONDS - cut_at))
  echo "link of node 3 down after round 4: the job ended after $took s, exit $rc"
  [ $rc -ne 124 ] || { cat "$work/cut.log"; fail "the job hung after the link went down"; }
  [ $rc -ne 0 ] || { cat "$work/cut.log"; fail "the job ended well without node 3"; }
  [ $took -lt 60 ] || { cat "$work/cut.log"; fail "the job took $took s to end"; }
  grep -q "rank(s) 6, 7 (on $(cluster_host 3)) did not answer" "$work/cut.log" ||
    { cat "$work/cut.log"; fail "the error does not name ranks 6 and 7 on node 3"; }
  "$fedchain" verify "$work/cut" >"$work/cut.verify" 2>&1 ||
    { cat "$work/cut.verify"; fail "the chain left by the cut does not verify"; }
  echo "== node 3 back (its cut-off processes gone, as after a reboot): --resume"
  cluster_kill_node 3
  cluster_link up 3
  cluster_mpirun 8 --npernode 2 "$fedchain" train "$work/job.toml" \
    --run-dir "$work/cut" --resume "${stall[@]}" >"$work/resume.log" 2>&1 ||
    { cat "$work/resume.log"; fail "--resume after the cut"; }
  "$fedchain" verify "$work/cut" >"$work/cut.verify" 2>&1 ||
    { cat "$work/cut.verify"; fail "the resumed chain does not verify"; }
  diff <(roots "$work/ref") <(roots "$work/cut") || fail "state roots differ from the uninterrupted run"
  [ "$(roots "$work/cut" | wc -l)" -eq 30 ] || fail "the resumed run does not hold 30 rounds"
}

# slurm_cluster NODES: a fresh cluster of NODES nodes with a slurmd on each.
slurm_cluster() {
  cluster_up "$work/cluster-slurm" "$1"
  trap 'cluster_slurm_down; cluster_down; rm -rf "$work"' EXIT
  cluster_slurm_up "$work/slurm" || fail "the Slurm cluster did not come up"
}

# sbatch_train RUN_DIR [SBATCH_OPTION...] -- [TRAIN_ARGS...]: slurm/train.sbatch with
# $work/job.toml into RUN_DIR on 3 nodes of 2 ranks, over TCP on the cluster's subnet;
# its output in RUN_DIR.out.
sbatch_train() {
  local run=$1 options=()
  shift
  while [ $# -gt 0 ] && [ "$1" != -- ]; do options+=("$1"); shift; done
  shift
  (cd "$work" && cluster_slurm_do env OMPI_MCA_btl=tcp,self \
    OMPI_MCA_btl_tcp_if_include="$cluster_subnet" FEDCHAIN="$fedchain" timeout 90 \
    sbatch "${options[@]}" --nodes=3 --ntasks=6 --ntasks-per-node=2 --overcommit \
    --output="$run.out" "$here/../../slurm/train.sbatch" "$work/job.toml" "$run" "$@")
}

case_slurm() {
  small_job "$dataset"
  local mpi=(timeout 60 mpirun -n 6 --oversubscribe)
  train ref  # on one node, shared memory: the roots to reach
  slurm_cluster 3
  echo "== sbatch slurm/train.sbatch on 3 nodes of 2 ranks"
  local rc=0
  sbatch_train "$work/run" --wait -- || rc=$?
  cat "$work/run.out" 2>/dev/null || true
  [ $rc -eq 0 ] || { tail -n 5 "$work"/run/logs/*.log; fail "the batch job failed (exit $rc)"; }
  grep -q "6 ranks on 3 node(s)" "$work/run.out" || fail "the job did not run on 3 nodes"
  grep -q "the run is finished; not requeued" "$work/run.out" || fail "the run did not finish"
  "$fedchain" verify "$work/run" >"$work/run.verify" 2>&1 ||
    { cat "$work/run.verify"; fail "verify the Slurm run"; }
  for r in 2 4; do
    grep -q "replica      chain/replicas/rank-000$r/blocks.log: height 6, agrees" \
      "$work/run.verify" || { cat "$work/run.verify"; fail "no replica of rank $r: not 2 per node"; }
  done
  diff <(roots "$work/ref") <(roots "$work/run") || fail "state roots differ from one node's"
}

# Under Slurm a lost node ends the job step too: srun ends the ranks it can reach once the
# reporting rank aborts, and the batch script goes on (Slurm itself keeps the lost node's
# part of the job completing until SlurmdTimeout marks the node down).
case_slurm_linkdown() {
  small_job "$dataset"
  sed -i 's/^rounds = 6$/rounds = 300/' "$work/job.toml"
  slurm_cluster 3
  sbatch_train "$work/cut" -- --set job.stall_timeout_s=15
  for _ in $(seq 1 1500); do grep -qs "^round 4/" "$work/cut.out" && break; sleep 0.02; done
  grep -qs "^round 4/" "$work/cut.out" || { cat "$work/cut.out"; fail "the job did not start"; }
  cluster_link down 2
  local cut_at=$SECONDS
  until grep -qs "^fedchain.sbatch: fedchain train exited" "$work/cut.out"; do
    [ $((SECONDS - cut_at)) -lt 60 ] || { cat "$work/cut.out"; fail "the batch job hung"; }
    sleep 0.2
  done
  echo "link of node 2 down after round 4: the batch script went on after $((SECONDS - cut_at)) s"
  grep -q "rank(s) 4, 5 (on $(cluster_host 2)) did not answer" "$work/cut.out" ||
    { cat "$work/cut.out"; fail "the error does not name ranks 4 and 5 on node 2"; }
  # srun's status: the reporting rank's 1, or a signal's when a killed rank is counted first.
  grep -Eq "fedchain train exited [1-9][0-9]*; not requeued" "$work/cut.out" ||
    { cat "$work/cut.out"; fail "the batch script did not see the step fail"; }
  "$fedchain" verify "$work/cut" >"$work/cut.verify" 2>&1 ||
    { cat "$work/cut.verify"; fail "the chain left by the cut does not verify"; }
  cluster_link up 2  # Slurm's daemons then shut down at once
}

case $case_name in
  cleanup | verify | committee | replicas | linkdown) "case_$case_name" ;;
  slurm | slurm_linkdown)
    # shellcheck source=cluster_slurm.sh
    source "$here/cluster_slurm.sh"
    cluster_slurm_check
    "case_$case_name"
    ;;
  *)
    echo "usage: cluster_e2e.sh cleanup|verify|replicas|linkdown|slurm|slurm_linkdown" \
      "FEDCHAIN DATASET_H5" >&2
    exit 2
    ;;
esac
echo "cluster e2e ($case_name): all checks passed"
