#!/usr/bin/env bash
# Scaling sweep on one machine: runs one fedchain job at several rank counts with mpirun,
# one run directory per point, then gathers the metrics, draws the plots and checks the
# cost model (docs/SCALING.md). slurm/submit-scaling.sh writes the same layout on a cluster,
# and `run.sh --report-only OUT` reports on either.
#
#   OUT/strong/n<R>/   strong scaling: the same data.train_limit split over R ranks
#   OUT/weak/n<R>/     weak scaling: data.train_limit = R * per-rank samples
#   OUT/keys/n<R>/     one Ed25519 key per rank (fedchain keygen), shared by both modes
#   OUT/logs/          each point's console output
#   OUT/host.json      cores and load of this machine, for the oversubscription correction
#   OUT/summary.csv, OUT/plots/*.png, OUT/cost-model.txt   the report
#
# A point whose run directory already holds every round is skipped; one that stopped early
# is continued with --resume, so an interrupted sweep is finished by running it again.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${PYTHON:-/usr/bin/python3}  # Debian's, with python3-matplotlib and python3-h5py

usage() {
  cat <<'EOF'
usage: bench/scaling/run.sh --job JOB.toml --out OUT [options]
       bench/scaling/run.sh --report-only OUT [--cores N]

  --job FILE            the job to scale (its data.train_limit is the strong-scaling total)
  --out DIR             output root (created; points already there are reused)
  --ranks LIST          rank counts, comma separated (default 1,2,4,8)
  --mode MODE           strong, weak or both (default both)
  --strong-total N      strong scaling: training samples split over the ranks
                        (default: the job's data.train_limit; 0 means the whole dataset)
  --weak-per-rank N     weak scaling: training samples per rank
                        (default: strong total / smallest rank count)
  --set KEY=VALUE       passed to every `fedchain train` (repeatable)
  --fedchain PATH       the fedchain binary (default: fedchain on PATH)
  --mpirun "CMD"        launcher; "-n R" is appended (default "mpirun --oversubscribe")
  --cores N             cores this machine gives the ranks (default: nproc)
  --no-report           run the points only; no summary, plots or cost model
  --report-only OUT     only gather, plot and check the cost model for an existing OUT
EOF
}

die() {  # configuration errors exit 2, as fedchain's own do
  echo "run.sh: $*" >&2
  exit 2
}

job=
out=
ranks_list=1,2,4,8
mode=both
strong_total=
weak_per_rank=
sets=()
fedchain=fedchain
mpirun_cmd="mpirun --oversubscribe"
cores=
report=1
report_only=

while [ $# -gt 0 ]; do
  case $1 in
    --job) job=${2:?--job needs a file}; shift 2 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --ranks) ranks_list=${2:?--ranks needs a list}; shift 2 ;;
    --mode) mode=${2:?--mode needs strong, weak or both}; shift 2 ;;
    --strong-total) strong_total=${2:?}; shift 2 ;;
    --weak-per-rank) weak_per_rank=${2:?}; shift 2 ;;
    --set) sets+=(--set "${2:?--set needs key=value}"); shift 2 ;;
    --fedchain) fedchain=${2:?}; shift 2 ;;
    --mpirun) mpirun_cmd=${2:?}; shift 2 ;;
    --cores) cores=${2:?}; shift 2 ;;
    --no-report) report=; shift ;;
    --report-only) report_only=${2:?--report-only needs OUT}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument '$1'" ;;
  esac
done

is_count() { [[ $1 =~ ^[0-9]+$ ]]; }
if [ -n "$cores" ]; then
  is_count "$cores" && [ "$cores" -ge 1 ] || die "--cores must be a positive integer, not '$cores'"
fi

write_report() {  # write_report OUT
  local root=$1
  local cores_arg=()
  if [ -n "$cores" ]; then cores_arg=(--cores "$cores"); fi
  "$python" "$here/gather.py" "$root" --out "$root/summary.csv" "${cores_arg[@]}"
  "$python" "$here/plot.py" "$root/summary.csv" --out "$root/plots"
  "$python" "$here/cost_model.py" check "$root/summary.csv" | tee "$root/cost-model.txt"
}

if [ -n "$report_only" ]; then
  [ -d "$report_only" ] || die "--report-only: no directory '$report_only'"
  write_report "$report_only"
  exit 0
fi

[ -n "$job" ] || { usage >&2; die "--job is required"; }
[ -n "$out" ] || { usage >&2; die "--out is required"; }
[ -f "$job" ] || die "job file '$job' does not exist"
case $mode in
  strong) modes=(strong) ;;
  weak) modes=(weak) ;;
  both) modes=(strong weak) ;;
  *) die "--mode must be strong, weak or both, not '$mode'" ;;
esac
IFS=, read -r -a ranks <<<"$ranks_list"
[ ${#ranks[@]} -ge 1 ] || die "--ranks is empty"
for r in "${ranks[@]}"; do
  is_count "$r" && [ "$r" -ge 1 ] || die "--ranks: '$r' is not a positive rank count"
done
command -v "$fedchain" >/dev/null || die "no fedchain binary '$fedchain' (build it, or pass --fedchain PATH)"
fedchain=$(command -v "$fedchain")
read -r -a mpirun_argv <<<"$mpirun_cmd"
command -v "${mpirun_argv[0]}" >/dev/null || die "launcher '${mpirun_argv[0]}' not found (--mpirun)"

# The resolved job (file plus --set) says the rounds and the default strong total; this
# also checks the job and every --set before anything runs.
resolved=$("$fedchain" job show "$job" "${sets[@]}") || die "job '$job' with the --set values is not valid (see above)"
toml_value() {  # toml_value SECTION KEY: a scalar of the resolved job
  awk -F' *= *' -v section="[$1]" -v key="$2" \
    '/^\[/ { s = $0; next } s == section && $1 == key { print $2 }' <<<"$resolved"
}
rounds=$(toml_value job rounds)
if [ -z "$strong_total" ]; then strong_total=$(toml_value data train_limit); fi
is_count "$strong_total" || die "--strong-total must be a sample count, not '$strong_total'"
min_ranks=$(printf '%s\n' "${ranks[@]}" | sort -n | head -n 1)
if [ -z "$weak_per_rank" ]; then
  if [[ " ${modes[*]} " == *" weak "* ]] && [ "$strong_total" -eq 0 ]; then
    die "weak scaling needs --weak-per-rank when the job uses the whole dataset (data.train_limit = 0)"
  fi
  weak_per_rank=$((strong_total / min_ranks))
fi
is_count "$weak_per_rank" || die "--weak-per-rank must be a sample count, not '$weak_per_rank'"
[[ " ${modes[*]} " != *" weak "* ]] || [ "$weak_per_rank" -ge 1 ] ||
  die "--weak-per-rank must be at least 1"

mkdir -p "$out/logs" "$out/keys" || die "cannot create output root '$out'"
out=$(cd "$out" && pwd)
cores=${cores:-$(nproc)}
# What the gather step needs to correct for oversubscription, and what a reader needs to
# judge the timings; each point adds its wall time and load in logs/MODE-nR.json.
printf '{"host": "%s", "cpu": "%s", "cores": %s, "launcher": "%s", "date": "%s"}\n' \
  "$(hostname)" "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo | tr -d '"')" \
  "$cores" "$mpirun_cmd" "$(date -u +%FT%TZ)" >"$out/host.json"
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

# Rows of metrics.csv in a run directory (0 when there is none).
rows_done() {
  if [ -f "$1/metrics.csv" ]; then tail -n +2 "$1/metrics.csv" | grep -c . || true; else echo 0; fi
}

run_point() {  # run_point MODE RANKS TRAIN_LIMIT
  local point_mode=$1 r=$2 limit=$3
  local dir="$out/$point_mode/n$r" keys="$out/keys/n$r" log="$out/logs/$point_mode-n$r.log"
  local resume=()
  if [ -d "$dir" ]; then
    if [ "$(rows_done "$dir")" -ge "$rounds" ]; then
      echo "== $point_mode n=$r: already complete in $dir"
      return 0
    fi
    resume=(--resume)
  fi
  if [ ! -f "$keys/public-keys.txt" ]; then
    "$fedchain" keygen --ranks "$r" --out "$keys" >/dev/null
  fi
  # More ranks than cores: a rank waiting in MPI must give its core away, not spin.
  if [ "$r" -gt "$cores" ]; then export OMPI_MCA_mpi_yield_when_idle=1; fi
  mkdir -p "$out/$point_mode"
  local load_before load_after start end
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  start=$(date +%s.%N)
  echo "== $point_mode n=$r: train_limit $limit, run directory $dir ${resume[*]}"
  local rc=0
  "${mpirun_argv[@]}" -n "$r" "$fedchain" train "$job" --run-dir "$dir" "${resume[@]}" \
    "${sets[@]}" --set job.ranks="$r" --set data.train_limit="$limit" \
    --set keys.dir="$keys" --set keys.derive_from_seed=false >"$log" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then
    tail -n 20 "$log" >&2
    echo "run.sh: the $point_mode point at $r ranks failed (exit $rc); its output is in $log." \
      "Points already finished are kept; run the same command again to continue." >&2
    exit $rc  # fedchain's own code: 2 for a configuration error
  fi
  end=$(date +%s.%N)
  load_after=$(cut -d' ' -f1 /proc/loadavg)
  unset OMPI_MCA_mpi_yield_when_idle
  printf '{"mode": "%s", "ranks": %s, "train_limit": %s, "wall_s": %s, "load_before": %s, "load_after": %s}\n' \
    "$point_mode" "$r" "$limit" "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')" \
    "$load_before" "$load_after" >"$out/logs/$point_mode-n$r.json"
}

for point_mode in "${modes[@]}"; do
  for r in "${ranks[@]}"; do
    if [ "$point_mode" = strong ]; then limit=$strong_total; else limit=$((r * weak_per_rank)); fi
    run_point "$point_mode" "$r" "$limit"
  done
done

if [ -n "$report" ]; then write_report "$out"; fi
