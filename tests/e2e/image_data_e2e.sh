#!/usr/bin/env bash
# Datasets beyond Fashion-MNIST, end to end: a tiny generated CIFAR-10-format set (3 channels,
# 32 x 32) prepared with `fedchain data prepare cifar10`, trained by the cnn and mlp models with
# per-channel normalisation and crop_flip augmentation; the same state roots on 1 and 2 ranks;
# arrays imported from .npy with client ids and trained with data.partition = "natural"; and
# the data's content hash in genesis: resuming or verifying with another dataset file exits 2
# naming the file; predict on raw .npy arrays.
# Usage: image_data_e2e.sh FEDCHAIN MAKE_IMAGE_FILES_PY
set -euo pipefail
fedchain=$1
make_files=$2
source "$(dirname "$0")/../support/e2e_lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mpi=(mpirun -n 2 --oversubscribe)

/usr/bin/python3 "$make_files" "$work/src" 20 16
"$fedchain" data prepare cifar10 --from "$work/src/cifar" --out "$work/c10.h5" >/dev/null
"$fedchain" data show "$work/c10.h5" | grep -q "3 x 32 x 32 (C x H x W) uint8" ||
  fail "data show: shape"

# job DATASET CLIENTS ARCH [PARTITION [AUGMENT]]: writes $work/job.toml.
job() {
  cat >"$work/job.toml" <<JOB
[job]
rounds = 3
[data]
path = "$1"
partition = "${4:-iid}"
normalize = true
augment = "${5:-crop_flip}"
[clients]
total = $2
[model]
arch = "$3"
hidden = [16]
[train]
local_steps = 4
batch_size = 10
lr = 0.02
[keys]
derive_from_seed = true
[checkpoint]
every = 1
JOB
}

# The cnn on 2 and on 1 rank: every height's state root is the same.
job "$work/c10.h5" 2 cnn
train cnn2
grep -q "data.normalize: per-channel mean \[" "$work/cnn2/logs/rank-0.log" ||
  fail "normalisation not logged"
mpi=(mpirun -n 1)
train cnn1
[ "$(roots "$work/cnn2")" = "$(roots "$work/cnn1")" ] || fail "cnn roots differ between 1 and 2 ranks"
[ "$(roots "$work/cnn2" | wc -l)" -eq 3 ] || fail "cnn: 3 rounds expected"
"$fedchain" verify "$work/cnn2" --data "$work/c10.h5" >/dev/null || fail "verify with its own data"

# predict on raw arrays: a .npy of the model's shape, and one of another shape (exit 2).
/usr/bin/python3 "$make_files" "$work/s32" 2 32
"$fedchain" predict "$work/cnn2" --input "$work/s32/npy/x.npy" --out "$work/pred.h5" \
  >/dev/null || fail "predict on a .npy image array"
expect_exit 2 "16x16 images with 3 channel(s), but the model" \
  "$fedchain" predict "$work/cnn2" --input "$work/src/npy/x.npy" --out "$work/never.h5"

# The mlp on the same data, without augmentation.
job "$work/c10.h5" 2 mlp iid none
train mlp1

# Provenance: the same path holding other data is refused on resume and by verify.
job "$work/c10.h5" 2 cnn
cp "$work/c10.h5" "$work/c10.orig.h5"
/usr/bin/python3 "$make_files" "$work/other" 21 16
"$fedchain" data prepare cifar10 --from "$work/other/cifar" --out "$work/c10.h5" >/dev/null
expect_exit 2 "c10.h5.*hash to .*genesis records data" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/cnn1" --resume
expect_exit 2 "c10.h5: its arrays .*not the dataset this run used" \
  "$fedchain" verify "$work/cnn2" --data "$work/c10.h5"
mv "$work/c10.orig.h5" "$work/c10.h5"
"$fedchain" verify "$work/cnn1" >/dev/null || fail "the refused resume changed the run"

# Imported arrays with client ids: the natural partition, one client per id (4 ids).
"$fedchain" data import --images "$work/src/npy/x.npy" --labels "$work/src/npy/y.npy" \
  --clients "$work/src/npy/c.npy" --test-percent 20 --out "$work/imported.h5" >/dev/null
job "$work/imported.h5" 4 cnn natural
mpi=(mpirun -n 2 --oversubscribe)
train natural
expect_exit 2 "4 distinct client ids.*set clients.total = 4" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/natural5" --set clients.total=5
echo "image data e2e: ok"
