# shellcheck shell=bash
# Shared by the end-to-end test scripts (source it): Open MPI as root and oversubscribed,
# a failure helper, and the per-height state roots of a run.

export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1

fail() { echo "FAIL: $*"; exit 1; }

# "height state_root" for every row of RUN_DIR/metrics.csv, the column found by name.
roots() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "state_root") c = i; next }
           { print $1, $c }' "$1/metrics.csv"
}

# The helpers below use the caller's `fedchain` (the binary), `work` (a scratch folder
# holding job.toml) and `mpi` (the launcher, an array).

# train NAME [ARGS...]: runs $work/job.toml into $work/NAME; the output goes to $work/NAME.log.
train() {
  local name=$1
  shift
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/$name" "$@" \
    >"$work/$name.log" 2>&1 || { cat "$work/$name.log"; fail "run $name"; }
}

# train_in_background NAME ROUND [ARGS...]: train NAME in the background and wait until
# rank 0 prints round ROUND; sets `launcher` (mpirun's pid) and `ranks` (the ranks' pids).
train_in_background() {
  local name=$1 round=$2
  shift 2
  "${mpi[@]}" "$fedchain" train "$work/job.toml" --run-dir "$work/$name" "$@" \
    >"$work/$name.log" 2>&1 &
  launcher=$!
  for _ in $(seq 1 1500); do grep -q "^round $round/" "$work/$name.log" && break; sleep 0.02; done
  mapfile -t ranks < <(ps -o pid= --ppid "$launcher")
}

# kill_at_round NAME ROUND [ARGS...]: kill -9 every rank at once when rank 0 prints round
# ROUND.
kill_at_round() {
  train_in_background "$@"
  kill -9 "${ranks[@]}" 2>/dev/null || true
  wait "$launcher" || true
}

# stop_at_round NAME ROUND [ARGS...]: SIGTERM to one rank when rank 0 prints round ROUND;
# every rank stops at one round boundary, exit 0.
stop_at_round() {
  train_in_background "$@"
  kill -TERM "${ranks[-1]}" 2>/dev/null || true
  wait "$launcher" || { cat "$work/$1.log"; fail "run $1 did not stop cleanly"; }
}

# records CHAIN_FILE: "COUNT LAST" - the record count (genesis included) and the byte
# offset of the last record (docs/formats.md, "Chain file": a 12-byte header, then
# [u32 length][u32 crc32c][payload] records).
records() {
  /usr/bin/python3 - "$1" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
offset, count, last = 12, 0, 12
while offset + 8 <= len(data):
    (length,) = struct.unpack_from("<I", data, offset)
    last, offset, count = offset, offset + 8 + length, count + 1
print(count, last)
PY
}

# record_offset CHAIN_FILE H: the byte offset of record H (0 is genesis).
record_offset() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import struct, sys
data, want = open(sys.argv[1], "rb").read(), int(sys.argv[2])
offset = 12
for _ in range(want):
    (length,) = struct.unpack_from("<I", data, offset)
    offset += 8 + length
print(offset)
PY
}

# expect_exit CODE PATTERN COMMAND...: COMMAND exits CODE and its output matches PATTERN.
expect_exit() {
  local code=$1 pattern=$2
  shift 2
  set +e
  "$@" >"$work/err.log" 2>&1
  local rc=$?
  set -e
  [ $rc -eq "$code" ] || { cat "$work/err.log"; fail "expected exit $code, got $rc: $*"; }
  grep -q -- "$pattern" "$work/err.log" || { cat "$work/err.log"; fail "message lacks '$pattern'"; }
}

# small_job DATASET [TOML...]: writes $work/job.toml, a 6-round job of a tiny MLP on 2,000
# samples (a round in well under a second), checkpoints every 2 heights, keys from the seed;
# each further argument is appended as TOML (more sections).
small_job() {
  local dataset=$1
  shift
  cat >"$work/job.toml" <<JOB
[job]
rounds = 6
[data]
path = "$dataset"
train_limit = 2000
test_limit = 200
[model]
arch = "mlp"
hidden = [16]
[train]
local_steps = 30
[keys]
derive_from_seed = true
[checkpoint]
every = 2
JOB
  local extra
  for extra in "$@"; do printf '%s\n' "$extra" >>"$work/job.toml"; done
}
