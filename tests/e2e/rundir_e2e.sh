#!/usr/bin/env bash
# End to end: a run directory never loses a committed block and never takes in what is not
# its own (docs/running.md, "When things go wrong"). Each section fails on a fedchain that
# lacks the check it names.
#   1. damage in the middle of the chain is corruption (exit 3), never a torn tail to cut;
#   2. --resume refuses another job's chain, and checkpoints that are not this run's model
#      (another run's, a self-consistent forgery, a renamed one);
#   3. a checkpoint newer than the chain's tip is not used, and a deleted checkpoints/
#      folder is made again: both resume to the uninterrupted run's state roots;
#   4. keys: one public key for two ranks, a private key others can read;
#   5. inspect --json prints only JSON, even over a torn tail; a fault for a rank that
#      does not exist is refused;
#   6. a second job on a run directory in use is refused, naming the job that holds it.
# Usage: rundir_e2e.sh FEDCHAIN DATASET_H5
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
work=$(mktemp -d /tmp/fedchain-rundir-e2e-XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$(realpath "$0")")/../support/e2e_lib.sh"
mpi=(mpirun -n 3 --oversubscribe)

small_job "$dataset"

verify_ok() {  # verify_ok RUN_DIR
  "$fedchain" verify "$1" >"$work/verify.log" 2>&1 || { cat "$work/verify.log"; fail "verify $1"; }
}
tip_of() { echo $(($(records "$1/chain/blocks.log" | cut -d' ' -f1) - 1)); }
checkpoint() { echo "$work/$1/checkpoints/height-$(printf %08d "$2").h5"; }
# relabel SRC DST HEIGHT [FROM]: copies checkpoint SRC to DST with its height attribute set
# to HEIGHT and, given FROM, FROM's chain id and block hash (a forgery that hashes right).
relabel() {
  /usr/bin/python3 - "$@" <<'PY'
import shutil, sys, h5py
src, dst, height = sys.argv[1], sys.argv[2], int(sys.argv[3])
shutil.copyfile(src, dst)
with h5py.File(dst, "r+") as f:
    f.attrs.modify("height", height)
    if len(sys.argv) > 4:
        with h5py.File(sys.argv[4], "r") as real:
            for name in ("chain_id", "block_hash"):
                f.attrs[name] = real.attrs[name]
PY
}

echo "== reference: the uninterrupted run, and one with another seed"
train ref
verify_ok "$work/ref"
train other --set job.seed=99

echo "== 1. overwritten bytes at the start of block 3: exit 3, nothing cut"
cp -r "$work/ref" "$work/damaged"
chain="$work/damaged/chain/blocks.log"
head -c 512 /dev/urandom | dd of="$chain" bs=1 seek="$(record_offset "$chain" 3)" conv=notrunc status=none
cp "$chain" "$work/damaged.before"
expect_exit 3 "height 3" "$fedchain" verify "$work/damaged"
expect_exit 3 "the run cannot resume from a damaged chain" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/damaged" --resume
cmp -s "$chain" "$work/damaged.before" || fail "a refused chain file was changed"

echo "== 2. --resume takes only this run's chain and this run's checkpoints"
stop_at_round st 3
tip=$(tip_of "$work/st")
own=$(checkpoint st "$tip")
[ -f "$own" ] || fail "the stopped run wrote no checkpoint at its tip $tip"
cp "$work/st/chain/blocks.log" "$work/own-chain"
cp "$own" "$work/own-checkpoint"
cp "$work/other/chain/blocks.log" "$work/st/chain/blocks.log"
expect_exit 3 "job-mismatch" "$fedchain" verify "$work/st"
expect_exit 2 "belongs to another job" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/st" --resume
cmp -s "$work/st/chain/blocks.log" "$work/other/chain/blocks.log" || fail "another job's chain was changed"
cp "$work/own-chain" "$work/st/chain/blocks.log"
relabel "$(checkpoint other 2)" "$own" "$tip"
expect_exit 2 "belongs to another chain" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/st" --resume
relabel "$(checkpoint other 2)" "$own" "$tip" "$work/own-checkpoint"
expect_exit 2 "it is not this run's model" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/st" --resume
cp "$(checkpoint st 2)" "$own"
expect_exit 2 "holds the model of height 2, not $tip as its name says" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/st" --resume
cmp -s "$work/st/chain/blocks.log" "$work/own-chain" || fail "a refused resume changed the chain"
cp "$work/own-checkpoint" "$own"
# The last row as if written on another kind of machine: the resume says so, and goes on.
here_level=$(tail -1 "$work/st/metrics.csv" | awk -F, '{print $NF}')  # cpu_kernels: last column
other_level=x86-64-v3
[ "$here_level" = x86-64-v3 ] && other_level=x86-64-v4
sed -i "\$s/,$here_level\$/,$other_level/" "$work/st/metrics.csv"
train st --resume
grep -q "resume: the rounds so far ran on $other_level CPU kernels, this machine runs $here_level" \
  "$work/st.log" || { cat "$work/st.log"; fail "no warning for a resume on other CPU kernels"; }
diff <(roots "$work/ref") <(roots "$work/st") || fail "the resumed run's state roots differ"
verify_ok "$work/st"

echo "== 3. a checkpoint beyond the tip is not used; a deleted checkpoints/ is made again"
cp -r "$work/ref" "$work/behind"
truncate -s "$(records "$work/behind/chain/blocks.log" | cut -d' ' -f2)" "$work/behind/chain/blocks.log"
[ -f "$(checkpoint behind 6)" ] || fail "no checkpoint at height 6 to be beyond the tip"
train behind --resume
grep -q "beyond the chain's last block 5: not used" "$work/behind.log" ||
  { cat "$work/behind.log"; fail "the checkpoint beyond the tip was not set aside"; }
[ "$(tip_of "$work/behind")" -eq 6 ] || fail "the resumed run did not commit height 6 again"
diff <(roots "$work/ref") <(roots "$work/behind") || fail "state roots differ after a tip cut back"
verify_ok "$work/behind"
cp -r "$work/ref" "$work/nockpt"
truncate -s "$(records "$work/nockpt/chain/blocks.log" | cut -d' ' -f2)" "$work/nockpt/chain/blocks.log"
rm -rf "$work/nockpt/checkpoints"
train nockpt --resume
[ -f "$(checkpoint nockpt 6)" ] || fail "no checkpoint written after checkpoints/ was deleted"
diff <(roots "$work/ref") <(roots "$work/nockpt") || fail "state roots differ without checkpoints"

echo "== 4. keys: one key for two ranks; a private key others can read"
"$fedchain" keygen --ranks 3 --out "$work/keys" >/dev/null
cp -r "$work/keys" "$work/dupkeys"
cp "$work/dupkeys/rank-1.key" "$work/dupkeys/rank-2.key"
key1=$(awk '$1 == 1 { print $2 }' "$work/dupkeys/public-keys.txt")
sed -i "s/^2 .*/2 $key1/" "$work/dupkeys/public-keys.txt"
expect_exit 2 "ranks 1 and 2 have the same public key" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/dup" \
  --set keys.derive_from_seed=false --set "keys.dir=$work/dupkeys"
chmod 644 "$work/keys/rank-0.key"
expect_exit 2 "can be read by other users" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/open" \
  --set keys.derive_from_seed=false --set "keys.dir=$work/keys"

echo "== 5. inspect --json over a torn tail; a fault for a rank that does not exist"
cp -r "$work/ref" "$work/torn"
chain="$work/torn/chain/blocks.log"
tail -c +"$(($(records "$chain" | cut -d' ' -f2) + 1))" "$chain" | head -c 40 >>"$chain"
"$fedchain" inspect "$work/torn" --json >"$work/torn.json" 2>"$work/torn.err"
/usr/bin/python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$work/torn.json" ||
  { cat "$work/torn.json"; fail "inspect --json printed more than JSON"; }
grep -q "torn" "$work/torn.err" || fail "inspect did not warn about the torn tail on stderr"
expect_exit 2 "faults.flip_bit_rank = 5 but the job runs 3 ranks" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/flip" --set faults.flip_bit_rank=5

echo "== 6. a second job on a run directory in use is refused, naming the holder"
# Long enough that it is still running when the two refused jobs have started and ended.
sed -i 's/^rounds = 6$/rounds = 100000/' "$work/job.toml"
train_in_background busy 2
grep -q "^round 2/" "$work/busy.log" || { cat "$work/busy.log"; fail "the first job did not start"; }
expect_exit 2 "is in use by another fedchain job (pid [0-9]* on " \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/busy" --resume
expect_exit 2 "is in use by another fedchain job" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/busy"
kill -TERM "${ranks[0]}"
wait "$launcher" || { cat "$work/busy.log"; fail "the first job did not stop cleanly"; }
verify_ok "$work/busy"
stop_at_round busy "[0-9]*" --resume  # the lock went with the job that held it
verify_ok "$work/busy"

echo "PASS: rundir_e2e"
