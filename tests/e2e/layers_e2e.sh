#!/usr/bin/env bash
# End to end: a model written layer by layer (model.layers), as a user runs it.
#   1. `fedchain job check` accepts jobs/fmnist-layers.toml and prints each layer's output
#      shape and parameters for the data's 28x28x1 images;
#   2. bad layer specs exit 2 naming the layer (index and type) and the key, in `job check`
#      and in `train`: an unknown type, a missing out, a kernel larger than its input, groups
#      that do not divide the channels, a dropout rate outside [0, 1), a wrong class count;
#   3. the job trains on 2 ranks (loss falls over the rounds) and two runs give the same state
#      roots at every height.
# Usage: layers_e2e.sh FEDCHAIN DATASET_H5 JOBS_DIR
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
job=$(realpath "$3")/fmnist-layers.toml
work=$(mktemp -d /tmp/fedchain-layers-e2e-XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$(realpath "$0")")/../support/e2e_lib.sh"
mpi=(mpirun -n 2 --oversubscribe)

echo "== 1. job check prints the layers"
"$fedchain" job check "$job" --set data.path="$dataset" >"$work/check.log" 2>&1 ||
  { cat "$work/check.log"; fail "job check refused jobs/fmnist-layers.toml"; }
cat "$work/check.log"
grep -q "(28x28x1, 10 classes): custom (20586 parameters)" "$work/check.log" ||
  fail "job check did not name the data's shape and the parameter count"
grep -Eq "^ +1 groupnorm +norm1 +\(28, 28, 16\) +32$" "$work/check.log" ||
  fail "job check did not list norm1 with its shape and parameters"
grep -Eq "^ +10 dense +fc1 +\(1, 1, 10\) +15690$" "$work/check.log" ||
  fail "job check did not list fc1 with its shape and parameters"

echo "== 2. bad layer specs exit 2 naming the layer and the key"
expect_refused() {  # EXPECTED LAYERS: --set model.layers=LAYERS must exit 2 saying EXPECTED
  local expected=$1 layers=$2 rc=0
  "$fedchain" job check "$job" --set data.path="$dataset" --set "model.layers=$layers" \
    >"$work/bad.log" 2>&1 || rc=$?
  [ "$rc" -eq 2 ] || { cat "$work/bad.log"; fail "exit $rc, not 2, for $layers"; }
  grep -qF "$expected" "$work/bad.log" || { cat "$work/bad.log"; fail "no '$expected' for $layers"; }
}
expect_refused "layer [1] (conv3d): unknown type" \
  '[{type="flatten"},{type="conv3d",out=4},{type="dense",out=10}]'
expect_refused "layer [1] (dense): needs key 'out'" '[{type="flatten"},{type="dense"}]'
expect_refused "model.layers[0] (conv2d): key 'kernel' = 30 is larger than its 28x28 input" \
  '[{type="conv2d",out=4,kernel=30},{type="flatten"},{type="dense",out=10}]'
expect_refused "model.layers[1] (groupnorm): key 'groups' = 3 does not divide its 8 channels" \
  '[{type="conv2d",out=8,kernel=3},{type="groupnorm",groups=3},{type="flatten"},{type="dense",out=10}]'
expect_refused "layer [1] (dropout): key 'rate': 1.5 is outside [0, 1)" \
  '[{type="flatten"},{type="dropout",rate=1.5},{type="dense",out=10}]'
expect_refused "the last layer (dense) gives 1x1x7 values, but the data has 10 classes" \
  '[{type="flatten"},{type="dense",out=7}]'
rc=0
"${mpi[@]}" "$fedchain" train "$job" --run-dir "$work/refused" --set data.path="$dataset" --set job.ranks=2 \
  --set 'model.layers=[{type="conv2d",out=4,kernel=30},{type="flatten"},{type="dense",out=10}]' \
  >"$work/refused.log" 2>&1 || rc=$?
[ "$rc" -eq 2 ] || { cat "$work/refused.log"; fail "train with a bad layer: exit $rc, not 2"; }
grep -qF "model.layers[0] (conv2d)" "$work/refused.log" || { cat "$work/refused.log"; fail "train did not name the layer"; }

echo "== 3. it trains, and two runs give the same bits"
sed -e "s|^path = .*|path = \"$dataset\"|" -e 's|^rounds = .*|rounds = 4|' \
  -e 's|^ranks = .*|ranks = 2|' -e 's|^eval_every = .*|eval_every = 4|' "$job" >"$work/job.toml"
cat >>"$work/job.toml" <<'JOB'
[checkpoint]
every = 2
JOB
set_limits=(--set data.train_limit=2000 --set data.test_limit=500 --set train.local_steps=15)
train a "${set_limits[@]}"
train b "${set_limits[@]}"
[ "$(roots "$work/a" | wc -l)" -eq 4 ] || fail "expected 4 metrics rows"
diff <(roots "$work/a") <(roots "$work/b") || fail "two runs of one model.layers job differ"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "train_loss") c = i; next }
         { loss[NR - 1] = $c } END { exit !(loss[4] < 0.8 * loss[1]) }' "$work/a/metrics.csv" ||
  { cat "$work/a/metrics.csv"; fail "the training loss did not fall by a fifth over 4 rounds"; }
echo "PASS"
