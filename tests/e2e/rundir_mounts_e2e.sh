#!/usr/bin/env bash
# End to end: run directories on file systems that refuse writes (docs/running.md, "When
# things go wrong"), made with small tmpfs mounts, so this needs root and mount(2):
#   1. --resume on a read-only file system is a configuration error (exit 2) naming the run
#      directory, and changes nothing;
#   2. a disk that fills up while the chain is being created leaves no chain file without
#      its genesis: once there is room again, --resume starts the run and finishes it;
#   3. a disk that fills up at a checkpoint ends the job with exit 1 naming the file (no
#      crash), and the run resumes once there is room.
# Exits 77 (skipped, saying why) where tmpfs cannot be mounted.
# Usage: rundir_mounts_e2e.sh FEDCHAIN DATASET_H5
set -euo pipefail
fedchain=$(realpath "$1")
dataset=$(realpath "$2")
work=$(mktemp -d /tmp/fedchain-mounts-e2e-XXXXXX)
mnt="$work/mnt"
mkdir -p "$mnt"
cleanup() {
  umount "$mnt" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "$(realpath "$0")")/../support/e2e_lib.sh"
mpi=(mpirun -n 3 --oversubscribe)

if ! mount -t tmpfs -o size=8m tmpfs "$mnt" 2>"$work/mount.err"; then
  echo "SKIPPED: cannot mount a tmpfs here ($(cat "$work/mount.err")): needs root and mount(2)"
  exit 77
fi

small_job "$dataset"

# disk_of_pages FREE: a fresh 16-page (64 KiB) tmpfs at $mnt with FREE pages left.
disk_of_pages() {
  mount -t tmpfs -o size=64k tmpfs "$mnt"
  head -c $(((16 - $1) * 4096)) /dev/zero >"$mnt/filler"
}
# resume_when_freed RUN: frees the disk, then RUN resumes, finishes and verifies.
resume_when_freed() {
  rm "$mnt/filler"
  mount -o remount,size=8m "$mnt"
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$mnt/$1" --resume >"$work/$1.log" 2>&1 ||
    { cat "$work/$1.log"; fail "--resume of $1 after the disk was freed"; }
  "$fedchain" verify "$mnt/$1" >"$work/verify.log" 2>&1 ||
    { cat "$work/verify.log"; fail "verify of $1 after the disk was freed"; }
  umount "$mnt"
}

echo "== 1. --resume on a read-only file system: exit 2, nothing changed"
"${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$mnt/ro" >"$work/ro.log" 2>&1 ||
  { cat "$work/ro.log"; fail "the run on tmpfs"; }
sum_before=$(cd "$mnt/ro" && find . -type f -exec sha256sum {} + | sort)
mount -o remount,ro "$mnt"
expect_exit 2 "run directory '$mnt/ro' is not writable" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$mnt/ro" --resume
"$fedchain" verify "$mnt/ro" >"$work/verify.log" 2>&1 ||
  { cat "$work/verify.log"; fail "verify on a read-only file system"; }
[ "$(cd "$mnt/ro" && find . -type f -exec sha256sum {} + | sort)" = "$sum_before" ] ||
  fail "a refused resume changed the run directory"
umount "$mnt"

echo "== 2. the disk fills up while the chain is created"
# Room for the run directory's job.toml, lock and logs, but not for genesis: tmpfs counts
# whole 4 KiB pages, and 3 to 5 free pages of 16 fail here (tried); 4 are left.
disk_of_pages 4
set +e
"${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$mnt/full" >"$work/full.log" 2>&1
rc=$?
set -e
[ $rc -ne 0 ] || { cat "$work/full.log"; fail "the run on a full disk did not fail"; }
grep -q "blocks.log" "$work/full.log" || { cat "$work/full.log"; fail "the failure is not the chain's"; }
[ ! -e "$mnt/full/chain/blocks.log" ] || fail "a chain file was left without its genesis"
resume_when_freed full

echo "== 3. the disk fills up at the first checkpoint: exit 1 naming it, then resumable"
# 8 free pages of 16: the chain and round 1 fit, the checkpoint at height 2 does not (tried).
disk_of_pages 8
expect_exit 1 "cannot write checkpoint .*height-00000002.h5" \
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$mnt/ckpt"
! grep -q "Segmentation fault" "$work/err.log" || { cat "$work/err.log"; fail "a rank crashed"; }
resume_when_freed ckpt

echo "PASS: rundir_mounts_e2e"
