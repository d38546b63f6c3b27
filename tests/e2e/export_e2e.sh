#!/usr/bin/env bash
# End to end: using a trained model (docs/export.md).
#   1. every built-in model (logreg, mlp with data.normalize, cnn, lenet, mnist-cnn) and a
#      model.layers stack with every layer type (strided conv, group norm, average and
#      overlapping max pooling, dropout): a short run,
#      `export` as safetensors and HDF5, `predict` on 300 test samples; where Debian's
#      python3-torch is installed, python/fedchain_torch.py loads each export and its logits
#      match fedchain's within 1e-4 (export_check.py);
#   2. receipts: `receipt check` passes on the files, exit 3 when the receipt, the input or
#      the output differs by one byte; `verify` checks receipts.log, exit 3 when a record is
#      damaged mid-file; a torn tail is repaired by the next predict; four predicts at once
#      each append their receipt; predict and export --height run beside a training job;
#   3. bad input exits 2 naming the fault, writing nothing: a height beyond the tip or
#      without a checkpoint, an input of the wrong shape, a key that does not parse, an
#      output that exists (replaced with --force); a swapped or damaged checkpoint exits 3.
# Without torch or h5py in /usr/bin/python3, every other check runs, then exit 77 (skipped).
# Usage: export_e2e.sh FEDCHAIN DATASET_H5 SOURCE_DIR
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
source_dir=$(realpath "$3")
work=$(mktemp -d /tmp/fedchain-export-e2e-XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$(realpath "$0")")/../support/e2e_lib.sh"
mpi=(mpirun -n 2 --oversubscribe)
python=/usr/bin/python3
torch_check=yes
"$python" -c "import torch, h5py" 2>/dev/null || torch_check=""

small_job "$dataset"
predict() {  # predict RUN_DIR OUT [ARGS...]: the receipt JSON goes to OUT.json
  local run=$1 out=$2
  shift 2
  "$fedchain" predict "$run" --input "$dataset" --limit 300 --out "$out" "$@" >"$out.json" \
    2>"$out.log" || { cat "$out.log"; fail "predict $run"; }
}

echo "== 1. every built-in model: export, predict, PyTorch's logits"
# The custom stack: a copy of the job whose [model] is a layer list.
awk '/^\[model\]/ { print; print "layers = ["
  print "  { type = \"conv2d\", out = 8, kernel = 3, stride = 2, padding = 1 },"
  print "  { type = \"groupnorm\", groups = 4 }, { type = \"relu\" },"
  print "  { type = \"avgpool\", kernel = 2 }, { type = \"maxpool\", kernel = 3, stride = 2 },"
  print "  { type = \"flatten\" }, { type = \"dropout\", rate = 0.2 }, { type = \"dense\", out = 10 } ]"
  skip = 1; next }
  /^\[/ { skip = 0 } !skip' "$work/job.toml" >"$work/job-custom.toml"
for arch in logreg mlp cnn lenet mnist-cnn custom; do
  extra=(--set model.arch="$arch")
  [ "$arch" = mlp ] && extra+=(--set data.normalize=true)
  if [ "$arch" = custom ]; then
    "${mpi[@]}" "$fedchain" train "$work/job-custom.toml" --run-dir "$work/$arch" --set job.rounds=3 \
      --set train.local_steps=8 >"$work/$arch.log" 2>&1 || { cat "$work/$arch.log"; fail "run $arch"; }
  else
    train "$arch" "${extra[@]}" --set job.rounds=3 --set train.local_steps=8
  fi
  "$fedchain" export "$work/$arch" --format safetensors --out "$work/$arch.safetensors" >/dev/null
  "$fedchain" export "$work/$arch" --format hdf5 --out "$work/$arch-export.h5" >/dev/null
  predict "$work/$arch" "$work/$arch-pred.h5"
  grep -q '^accuracy ' "$work/$arch-pred.h5.log" || fail "predict printed no accuracy for $arch"
  if [ -n "$torch_check" ]; then
    for file in "$work/$arch.safetensors" "$work/$arch-export.h5"; do
      "$python" "$source_dir/tests/e2e/export_check.py" "$source_dir/python" "$file" \
        "$work/$arch-pred.h5" "$dataset" || fail "PyTorch does not reproduce $file"
    done
  fi
done
grep -qF 'normalization\":{\"mean' "$work/mlp-pred.h5.json" || fail "no normalisation recorded"

echo "== 2. receipts"
run="$work/mlp"
receipt="$work/mlp-pred.h5.json"
"$fedchain" receipt check "$receipt" --input "$dataset" --output "$work/mlp-pred.h5" >/dev/null
[ "$(stat -c %a "$run/predictor.key")" = 600 ] || fail "predictor.key is not mode 0600"
# flip_byte FILE OFFSET: xor one byte in place.
flip_byte() {
  local byte
  byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "\\x$(printf %02x $((byte ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
cp "$receipt" "$work/altered.json"
flip_byte "$work/altered.json" 60
expect_exit 3 "receipt" "$fedchain" receipt check "$work/altered.json" --input "$dataset" \
  --output "$work/mlp-pred.h5"
cp "$work/mlp-pred.h5" "$work/altered-pred.h5"
flip_byte "$work/altered-pred.h5" 3000
expect_exit 3 "output-mismatch\|not the file the receipt was signed for" \
  "$fedchain" receipt check "$receipt" --input "$dataset" --output "$work/altered-pred.h5"
expect_exit 3 "not the file the receipt was signed for" \
  "$fedchain" receipt check "$receipt" --input "$work/mlp-pred.h5" --output "$work/mlp-pred.h5"

"$fedchain" verify "$run" >"$work/verify.log" || { cat "$work/verify.log"; fail "verify"; }
grep -q "receipts     1 in receipts.log" "$work/verify.log" || { cat "$work/verify.log"; fail "verify did not count the receipt"; }

for i in 1 2 3 4; do
  "$fedchain" predict "$run" --input "$dataset" --limit 50 --out "$work/par-$i.h5" >"$work/par-$i.json" 2>&1 &
done
wait
"$fedchain" verify "$run" >"$work/verify.log" || { cat "$work/verify.log"; fail "verify after parallel predicts"; }
grep -q "receipts     5 in receipts.log" "$work/verify.log" || { cat "$work/verify.log"; fail "parallel predicts lost a receipt"; }

cp -r "$run" "$work/torn"
truncate -s -20 "$work/torn/receipts.log"
"$fedchain" verify "$work/torn" >"$work/verify.log" || { cat "$work/verify.log"; fail "verify with a torn tail"; }
grep -q "receipts     4 in receipts.log" "$work/verify.log" || fail "a torn receipt was counted"
predict "$work/torn" "$work/torn-pred.h5"
grep -q "torn by a crash" "$work/torn-pred.h5.log" || fail "predict did not say it cut a torn tail"
"$fedchain" verify "$work/torn" >"$work/verify.log" || fail "verify after a torn tail was repaired"
grep -q "receipts     5 in receipts.log" "$work/verify.log" || fail "the repaired log lacks a receipt"

cp -r "$run" "$work/damaged"
flip_byte "$work/damaged/receipts.log" 40
expect_exit 3 "receipts.log: receipt 0" "$fedchain" verify "$work/damaged"
expect_exit 3 "receipts.log: receipt 0" "$fedchain" predict "$work/damaged" --input "$dataset" \
  --out "$work/never.h5"
[ ! -e "$work/never.h5" ] || fail "predict wrote output beside a damaged receipts log"

echo "== beside a running job: predict and export read the chain without run.lock"
train_in_background live 3 --set job.rounds=12
"$fedchain" predict "$work/live" --height 2 --input "$dataset" --limit 50 --out "$work/live-pred.h5" \
  >"$work/live.json" 2>"$work/live-pred.log" || { cat "$work/live-pred.log"; fail "predict beside a running job"; }
"$fedchain" export "$work/live" --height 2 --format safetensors --out "$work/live.safetensors" \
  >"$work/live-export.log" || fail "export beside a running job"
grep -q "at height 2 " "$work/live-export.log" || fail "export --height 2 exported another height"
wait "$launcher" || { cat "$work/live.log"; fail "the job beside predict failed"; }
"$fedchain" verify "$work/live" >"$work/verify.log" || { cat "$work/verify.log"; fail "verify live"; }
grep -q "receipts     1 in receipts.log" "$work/verify.log" || fail "the live receipt is missing"

echo "== 3. bad input: exit 2 (3 for a swapped or damaged checkpoint), nothing written"
before=$(stat -c %s "$run/receipts.log")
expect_exit 2 "beyond the chain's tip" "$fedchain" predict "$run" --height 99 --input "$dataset" \
  --out "$work/never.h5"
expect_exit 2 "no checkpoint at height 1.*height 2" "$fedchain" export "$run" --height 1 \
  --format safetensors --out "$work/never.safetensors"
if "$python" -c "import h5py" 2>/dev/null; then
  "$python" - "$work/small.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["num_classes"] = np.int64(10)
    for split in ("train", "test"):
        f[f"{split}/images"] = np.zeros((8, 14, 14), dtype=np.uint8)
        f[f"{split}/labels"] = np.zeros(8, dtype=np.uint8)
PY
  expect_exit 2 "14x14 images with 1 channel(s), but the model at height 3 takes 28x28" \
    "$fedchain" predict "$run" --input "$work/small.h5" --out "$work/never.h5"
fi
printf 'not a key\n' >"$work/bad.key"
chmod 600 "$work/bad.key"
expect_exit 2 "key.*not a PEM Ed25519 private key" "$fedchain" predict "$run" --input "$dataset" \
  --out "$work/never.h5" --key "$work/bad.key"
expect_exit 2 "already exists.*--force" "$fedchain" predict "$run" --input "$dataset" \
  --out "$work/mlp-pred.h5"
[ ! -e "$work/never.h5" ] || fail "a refused predict wrote its output"
[ "$(stat -c %s "$run/receipts.log")" = "$before" ] || fail "a refused predict appended a receipt"
"$fedchain" keygen --ranks 1 --out "$work/keys" >/dev/null
predict "$run" "$work/mlp-pred.h5" --force --key "$work/keys/rank-0.key"
grep -q "\"predictor\":\"$(awk '$1 == 0 { print $2 }' "$work/keys/public-keys.txt")\"" \
  "$work/mlp-pred.h5.json" || fail "--key did not sign the receipt"

cp -r "$run" "$work/swapped"
cp "$work/swapped/checkpoints/height-00000002.h5" "$work/swapped/checkpoints/height-00000003.h5"
expect_exit 3 "holds height 2" "$fedchain" export "$work/swapped" --format hdf5 \
  --out "$work/never.h5"
cp -r "$run" "$work/flipped"
offset=$(h5dump -p -H -d /params/fc1.bias "$work/flipped/checkpoints/height-00000003.h5" |
  awk '/OFFSET/ { print $2 }')
flip_byte "$work/flipped/checkpoints/height-00000003.h5" "$offset"
expect_exit 3 "it is not this run's model" "$fedchain" export "$work/flipped" --format hdf5 \
  --out "$work/never.h5"
[ ! -e "$work/never.h5" ] && [ ! -e "$work/never.safetensors" ] || fail "a refused export wrote"
if [ -z "$torch_check" ]; then
  echo "skipped: every check passed but the PyTorch comparison: /usr/bin/python3 lacks torch or h5py (Debian's python3-torch, python3-h5py)"
  exit 77
fi
echo "PASS"
