#!/usr/bin/env bash
# Consensus work per height with a validator committee against every rank voting
# (docs/SCALING.md, "The committee: measured counts and the model").
#
#   bench/committee/run.sh FEDCHAIN DATASET_H5 [options]
#
# Runs bench/committee/committee-mlp.toml (a tiny MLP, a few samples, one local step, a BFT
# block per round) at each rank count R twice: with consensus.committee = C (default 4)
# and with consensus.committee = R, every rank voting, the protocol before the committee.
# Then bench/committee/counts.py prints, per point, the median over heights of the
# metrics.csv columns follower_messages, follower_verifications, validator_messages,
# validator_verifications and consensus_messages (what rank 0 sent), the messages a
# validator sent per height (from the ranks' logs: a committee member receives exactly
# what the other members send), and writes OUT/counts.csv.
#
#   OUT/c<C>/n<R>/   committee of C       OUT/all/n<R>/   every rank votes
#   OUT/logs/        each point's console output
#
# The counts are protocol work, not time: they do not depend on the machine as long as
# every height commits in its first round and no rank falls behind. Oversubscription can
# break that (a propose timeout, catch-up asks); the table's latest commit round and the
# ranges over heights show where it happened.
# A point whose run directory already holds every round is reused.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-/usr/bin/python3}

usage() {
  cat <<'EOF'
usage: bench/committee/run.sh FEDCHAIN DATASET_H5 [options]

  FEDCHAIN              the fedchain binary
  DATASET_H5            fashion-mnist.h5 (fedchain data prepare)
  --out DIR             output root (default /tmp/fedchain-committee; points there are reused)
  --ranks LIST          rank counts, comma separated (default 4,8,16,32)
  --committee C         committee size of the committee runs (default 4)
  --rounds N            rounds (heights) per point (default: the job's, 8)
  --set KEY=VALUE       passed to every `fedchain train` (repeatable)
  --mpirun "CMD"        launcher; "-n R" is appended (default "mpirun --oversubscribe")
EOF
}

die() {
  echo "run.sh: $*" >&2
  exit 2
}

[ $# -ge 1 ] && { [ "$1" = -h ] || [ "$1" = --help ]; } && { usage; exit 0; }
[ $# -ge 2 ] || { usage >&2; die "FEDCHAIN and DATASET_H5 are required"; }
fedchain=$1
dataset=$2
shift 2
out=/tmp/fedchain-committee
ranks_list=4,8,16,32
committee=4
rounds=
sets=()
mpirun_cmd="mpirun --oversubscribe"
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --ranks) ranks_list=${2:?--ranks needs a list}; shift 2 ;;
    --committee) committee=${2:?--committee needs a size}; shift 2 ;;
    --rounds) rounds=${2:?--rounds needs a count}; shift 2 ;;
    --set) sets+=(--set "${2:?--set needs key=value}"); shift 2 ;;
    --mpirun) mpirun_cmd=${2:?}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done

is_count() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge 1 ]; }
command -v "$fedchain" >/dev/null || die "no fedchain binary '$fedchain'"
fedchain=$(command -v "$fedchain")
[ -f "$dataset" ] || die "no dataset '$dataset'"
dataset=$(cd "$(dirname "$dataset")" && pwd)/$(basename "$dataset")
is_count "$committee" || die "--committee must be a positive integer, not '$committee'"
if [ -n "$rounds" ]; then
  is_count "$rounds" || die "--rounds must be a positive integer, not '$rounds'"
  sets+=(--set "job.rounds=$rounds")
fi
IFS=, read -r -a ranks <<<"$ranks_list"
[ ${#ranks[@]} -ge 1 ] || die "--ranks is empty"
for r in "${ranks[@]}"; do
  is_count "$r" || die "--ranks: '$r' is not a positive rank count"
  [ "$r" -ge "$committee" ] || die "--ranks: $r ranks cannot hold a committee of $committee"
done
read -r -a mpirun_argv <<<"$mpirun_cmd"
command -v "${mpirun_argv[0]}" >/dev/null || die "launcher '${mpirun_argv[0]}' not found (--mpirun)"

job=$here/committee-mlp.toml
sets=(--set "data.path=$dataset" "${sets[@]}")
resolved=$("$fedchain" job show "$job" "${sets[@]}") ||
  die "the job with these --set values is not valid (see above)"
rounds=$(awk -F' *= *' '/^\[/ { s = $0; next } s == "[job]" && $1 == "rounds" { print $2 }' \
  <<<"$resolved")

mkdir -p "$out/logs" || die "cannot create '$out'"
out=$(cd "$out" && pwd)
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# More ranks than cores: a rank waiting in MPI must give its core away, not spin.
export OMPI_MCA_mpi_yield_when_idle=1

# The machine and date of the runs, for the report; written when a point runs, so a
# second invocation that reuses every point keeps the first one's.
host_written=
write_host() {
  [ -z "$host_written" ] || return 0
  host_written=1
  printf '{"host": "%s", "cpu": "%s", "cores": %s, "launcher": "%s", "date": "%s", %s}\n' \
    "$(hostname)" "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo | tr -d '"')" \
    "$(nproc)" "$mpirun_cmd" "$(date -u +%FT%TZ)" "\"fedchain\": \"$fedchain\"" >"$out/host.json"
}

rows_done() {
  if [ -f "$1/metrics.csv" ]; then tail -n +2 "$1/metrics.csv" | grep -c . || true; else echo 0; fi
}

run_point() {  # run_point NAME RANKS COMMITTEE
  local name=$1 r=$2 c=$3
  local dir="$out/$name/n$r" log="$out/logs/$name-n$r.log"
  if [ -d "$dir" ] && [ "$(rows_done "$dir")" -ge "$rounds" ] && [ -f "$dir/inspect.json" ]; then
    echo "== $name n=$r: already complete in $dir"
    return 0
  fi
  rm -rf "$dir"  # a partial point is run again whole: the counts need every rank's log
  write_host
  mkdir -p "$out/$name"
  echo "== $name n=$r: committee $c, $rounds rounds, run directory $dir"
  local start end load_before rc=0
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  start=$(date +%s.%N)
  "${mpirun_argv[@]}" -n "$r" "$fedchain" train "$job" --run-dir "$dir" "${sets[@]}" \
    --set job.ranks="$r" --set consensus.committee="$c" >"$log" 2>&1 || rc=$?
  end=$(date +%s.%N)
  if [ $rc -ne 0 ]; then
    tail -n 20 "$log" >&2
    echo "run.sh: the point $name at $r ranks failed (exit $rc); its output is in $log" >&2
    exit $rc
  fi
  "$fedchain" inspect --json "$dir" >"$dir/inspect.json"
  printf '{"name": "%s", "ranks": %s, "committee": %s, "wall_s": %s, "load_before": %s, "load_after": %s}\n' \
    "$name" "$r" "$c" "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')" \
    "$load_before" "$(cut -d' ' -f1 /proc/loadavg)" >"$out/logs/$name-n$r.json"
}

for r in "${ranks[@]}"; do
  run_point "c$committee" "$r" "$committee"
  run_point all "$r" "$r"
done

"$python" "$here/counts.py" "$out" --committee "$committee" --ranks "$ranks_list"
