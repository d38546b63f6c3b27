#!/usr/bin/env bash
# Submits a strong- and a weak-scaling sweep of one job, one Slurm job per point, each
# through slurm/train.sbatch (so every point survives its time limit like any run):
#   strong: a fixed training set of --strong-samples split over R ranks;
#   weak:   --weak-samples per rank, so data.train_limit = R * weak-samples.
# Each point is a run directory OUT/strong/n<R>/ or OUT/weak/n<R>/ (metrics.csv there is
# what bench/scaling reads), keyed by OUT/keys/n<R>/ from `fedchain keygen`.
# docs/slurm.md, "Scaling sweeps", has examples.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: submit-scaling.sh [options] JOB.toml OUT
  --ranks LIST           rank counts, comma-separated (default 1,2,4,8)
  --strong-samples N     strong scaling: total training samples (default 12000)
  --weak-samples N       weak scaling: training samples per rank (default 1500)
  --only strong|weak     submit one sweep only (default: both)
  --ranks-per-node N     tasks per node; nodes = ceil(R / N) (default 4)
  --partition NAME       sbatch --partition
  --time LIMIT           sbatch --time (default: the template's)
  --sbatch-arg ARG       one more sbatch option, repeatable (e.g. --sbatch-arg=--gpus-per-task=1)
  --set KEY=VALUE        passed to every `fedchain train`, repeatable
  --template FILE        the batch script (default: train.sbatch beside this script)
  --dry-run              print the keygen and sbatch commands; submit nothing
Environment: FEDCHAIN (the fedchain binary, default `fedchain` on PATH) reaches the jobs.
USAGE
}

die() {
  echo "submit-scaling.sh: $*" >&2
  exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
ranks_list=1,2,4,8
strong_samples=12000
weak_samples=1500
only=
ranks_per_node=4
template=$here/train.sbatch
dry_run=0
sbatch_args=()
sets=()
positional=()
while [ $# -gt 0 ]; do
  case $1 in
    --ranks) ranks_list=${2:?--ranks needs a list}; shift 2 ;;
    --ranks=*) ranks_list=${1#*=}; shift ;;
    --strong-samples) strong_samples=${2:?}; shift 2 ;;
    --strong-samples=*) strong_samples=${1#*=}; shift ;;
    --weak-samples) weak_samples=${2:?}; shift 2 ;;
    --weak-samples=*) weak_samples=${1#*=}; shift ;;
    --only) only=${2:?}; shift 2 ;;
    --only=*) only=${1#*=}; shift ;;
    --ranks-per-node) ranks_per_node=${2:?}; shift 2 ;;
    --ranks-per-node=*) ranks_per_node=${1#*=}; shift ;;
    --partition) sbatch_args+=("--partition=${2:?}"); shift 2 ;;
    --partition=*) sbatch_args+=("$1"); shift ;;
    --time) sbatch_args+=("--time=${2:?}"); shift 2 ;;
    --time=*) sbatch_args+=("$1"); shift ;;
    --sbatch-arg) sbatch_args+=("${2:?}"); shift 2 ;;
    --sbatch-arg=*) sbatch_args+=("${1#*=}"); shift ;;
    --set) sets+=(--set "${2:?--set needs KEY=VALUE}"); shift 2 ;;
    --set=*) sets+=(--set "${1#*=}"); shift ;;
    --template) template=${2:?}; shift 2 ;;
    --template=*) template=${1#*=}; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option '$1'" ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ ${#positional[@]} -eq 2 ] || { usage >&2; die "expected JOB.toml and OUT, got ${#positional[@]} arguments"; }
job_file=${positional[0]}
out=${positional[1]}

is_count() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
[ -f "$job_file" ] || die "job file '$job_file' does not exist"
[ -f "$template" ] || die "batch template '$template' does not exist (--template)"
is_count "$strong_samples" || die "--strong-samples must be a positive integer, got '$strong_samples'"
is_count "$weak_samples" || die "--weak-samples must be a positive integer, got '$weak_samples'"
is_count "$ranks_per_node" || die "--ranks-per-node must be a positive integer, got '$ranks_per_node'"
case $only in
  "") sweeps=(strong weak) ;;
  strong | weak) sweeps=("$only") ;;
  *) die "--only takes strong or weak, got '$only'" ;;
esac
IFS=, read -r -a ranks <<<"$ranks_list"
[ ${#ranks[@]} -gt 0 ] || die "--ranks is empty"
for r in "${ranks[@]}"; do
  is_count "$r" || die "--ranks: '$r' is not a positive integer (write e.g. 1,2,4,8)"
done
# Absolute paths: the jobs run in whatever folder sbatch starts them in.
job_file=$(realpath "$job_file")
out=$(realpath -m "$out")
fedchain=${FEDCHAIN:-fedchain}

# A point's run directory must be new: a sweep resumed into an old run would mix timings.
for sweep in "${sweeps[@]}"; do
  for r in "${ranks[@]}"; do
    if [ -e "$out/$sweep/n$r/job.toml" ]; then
      die "$out/$sweep/n$r already holds a run; remove it or choose another OUT"
    fi
  done
done

show() { printf '%q ' "$@" | sed 's/ $/\n/'; }

if [ $dry_run -eq 0 ]; then
  command -v sbatch >/dev/null || die "sbatch not found: run this on a Slurm login node"
  command -v "$fedchain" >/dev/null ||
    die "fedchain not found: put it on PATH or set FEDCHAIN=/path/to/fedchain"
fi

# data.train_limit is cut to the training set's size, which would quietly shrink the
# per-rank share of the largest weak points: refuse a sweep that asks for more.
train_samples() {
  local data_path
  data_path=$("$fedchain" job show "$job_file" "${sets[@]}" 2>/dev/null |
    awk -F' *= *' '/^\[/ { section = $0; next }
                   section == "[data]" && $1 == "path" { gsub(/^'"'"'|'"'"'$|^"|"$/, "", $2); print $2 }')
  [ -n "$data_path" ] || return 0
  "$fedchain" data show "$data_path" 2>/dev/null | sed -n 's/^ *train \([0-9]*\) samples.*/\1/p'
}
if command -v "$fedchain" >/dev/null; then
  available=$(train_samples)
  if [ -n "$available" ]; then
    largest=0
    for r in "${ranks[@]}"; do [ "$r" -gt "$largest" ] && largest=$r; done
    for sweep in "${sweeps[@]}"; do
      if [ "$sweep" = strong ] && [ "$strong_samples" -gt "$available" ]; then
        die "--strong-samples $strong_samples exceeds the $available training samples of the job's dataset"
      fi
      if [ "$sweep" = weak ] && [ $((largest * weak_samples)) -gt "$available" ]; then
        die "weak scaling at $largest ranks needs $((largest * weak_samples)) samples, the job's" \
          "dataset has $available: use --weak-samples $((available / largest)) or less"
      fi
    done
  fi
fi

echo "# job $job_file, ranks ${ranks[*]}, results under $out"
submitted=()
for r in "${ranks[@]}"; do
  keys=$out/keys/n$r
  if [ ! -f "$keys/public-keys.txt" ]; then
    keygen=("$fedchain" keygen --ranks "$r" --out "$keys")
    if [ $dry_run -eq 1 ]; then
      show "${keygen[@]}"
    else
      "${keygen[@]}" >/dev/null
    fi
  fi
  nodes=$(((r + ranks_per_node - 1) / ranks_per_node))
  per_node=$((r < ranks_per_node ? r : ranks_per_node))
  for sweep in "${sweeps[@]}"; do
    if [ "$sweep" = strong ]; then
      limit=$strong_samples
    else
      limit=$((r * weak_samples))
    fi
    run_dir=$out/$sweep/n$r
    cmd=(sbatch --parsable "--job-name=fedchain-$sweep-n$r" "--nodes=$nodes" "--ntasks=$r"
      "--ntasks-per-node=$per_node" "--output=$run_dir/slurm-%j.out" "${sbatch_args[@]}"
      "$template" "$job_file" "$run_dir"
      --set "job.ranks=$r" --set "data.train_limit=$limit" --set "keys.dir=$keys"
      --set keys.derive_from_seed=false "${sets[@]}")
    if [ $dry_run -eq 1 ]; then
      show "${cmd[@]}"
      continue
    fi
    # Slurm does not create the folder of --output; fedchain fills the folder later.
    mkdir -p "$run_dir"
    id=$(FEDCHAIN=$(command -v "$fedchain") "${cmd[@]}") ||
      die "sbatch refused the $sweep point with $r ranks"
    id=${id%%;*}
    submitted+=("$id")
    echo "$sweep n$r: job $id, $r rank(s) on $nodes node(s), data.train_limit=$limit," \
      "results in $run_dir/"
  done
done
if [ $dry_run -eq 0 ]; then
  ids=$(IFS=, && echo "${submitted[*]}")
  echo "submitted ${#submitted[@]} jobs: $ids"
  echo "watch them with: squeue -j $ids; each point writes $out/<sweep>/n<R>/metrics.csv"
fi
