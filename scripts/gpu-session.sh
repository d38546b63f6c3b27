#!/usr/bin/env bash
# One GPU session's checks (issue 22; docs/training.md, "CUDA backend"), prepared here and
# run once on the GPU machine, which has the CUDA runtime, cuBLAS, NCCL and a CUDA PyTorch
# but no MPI or HDF5 packages:
#   bash scripts/gpu-session.sh bundle
#       here: build (preset ci); put the GPU tests and benches, fedchain, the consensus and
#       crypto benches, the libraries they load, an Open MPI runtime that runs from any
#       folder and 9,000 Fashion-MNIST samples in build/gpu-bundle; pack that into
#       build/gpu-bundle.tar.gz (34 MB: within the device tool's 64 MiB carry)
#   bash scripts/gpu-session.sh run OUT [STEP...]
#       there, from the repository root with build/gpu-bundle.tar.gz carried: every gpu
#       test, e2e_nccl, training against PyTorch on the same GPU, a round of fmnist-cnn-8's
#       per-rank shard by phase, train.device = auto, a GPU/CPU mix and NCCL on a shared GPU
#       refused, ranks sharing the GPU, the GPU benches, consensus latency on the host's
#       cores, then compute-sanitizer memcheck; STEP globs pick steps by name (a rerun)
# `run` goes on past a failure and stops each step at a time limit: OUT/summary.txt lists
# each step with its exit status and time, OUT/steps.log holds every step's output in order
# and OUT/round-*.csv the round's metrics, so one session shows everything that needs a
# rerun. The steps come most needed first, so a session cut short loses the least.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bundle=$here/build/gpu-bundle

# Open MPI's runtime in an install tree of its own (OPAL_PREFIX relocates it): mpirun, orted,
# the components one node needs (no InfiniBand, OFI, UCX or PSM, which would pull in their
# libraries), the help texts, and the libraries they load into bundle/lib. Debian's
# libstdc++ stays behind: the GPU machine's is newer, and PyTorch there needs its own.
bundle_open_mpi() {
  local prefix=$bundle/ompi components=/usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3
  local pkglibdir=$prefix/lib/x86_64-linux-gnu/openmpi/lib/openmpi3
  mkdir -p "$prefix/bin" "$pkglibdir" "$prefix/share"
  cp /usr/bin/orterun "$prefix/bin/mpirun"
  cp /usr/bin/orted "$prefix/bin/"
  cp -r /usr/share/openmpi "$prefix/share/"
  find "$components" -name '*.so' ! -name '*ucx*' ! -name '*ofi*' ! -name '*psm*' \
    ! -name '*openib*' ! -name '*verbs*' ! -name 'mca_sshmem*' ! -name 'mca_spml*' \
    ! -name 'mca_scoll*' ! -name 'mca_memheap*' ! -name 'mca_atomic*' \
    -exec cp {} "$pkglibdir/" \;
  ldd "$prefix/bin/"* "$pkglibdir"/*.so 2>/dev/null | awk '/=>/ && $3 ~ /^\// {print $3}' |
    sort -u | while read -r lib; do
      case "$(basename "$lib")" in
        libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | ld-linux*) ;;
        libstdc++.so* | libgcc_s.so*) ;;
        *) cp -L -n "$lib" "$bundle/lib/" ;;
      esac
    done
}

case ${1:-} in
bundle)
  set -e
  cmake --preset ci >/dev/null
  cmake --build --preset ci -j"$(nproc)"
  rm -rf "$bundle"
  "$here/scripts/bundle-binaries.sh" "$bundle" "$here"/build/ci/tests/kernels/gpu_*_test \
    "$here/build/ci/src/cli/fedchain" \
    "$here/build/ci/bench/train/fedchain_train_bench" \
    "$here/build/ci/bench/crypto/gpu_merkle_bench" \
    "$here/build/ci/bench/aggregate/gpu_aggregate_bench" \
    "$here/build/ci/bench/crypto/crypto_bench" \
    "$here/build/ci/tests/net/net_consensus_bench" >/dev/null
  bundle_open_mpi
  # 8,000 training samples (fmnist-cnn-8's shard is 7,500) and 1,000 test samples, in the
  # prepared file's layout (docs/data.md, "HDF5 layout").
  full=$here/build/fashion-mnist.h5
  [ -f "$full" ] || "$here/build/ci/src/cli/fedchain" data prepare fashion-mnist --out "$full"
  /usr/bin/python3 - "$full" "$bundle/data.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as src, h5py.File(sys.argv[2], "w") as dst:
    dst.attrs.update(src.attrs)
    for split, count in (("train", 8000), ("test", 1000)):
        group = dst.create_group(split)
        group.attrs.update(src[split].attrs)
        for name, data in src[split].items():
            copy = group.create_dataset(name, data=data[:count])
            copy.attrs.update(data.attrs)
PY
  # oneDNN alone is 40 MB: the folder travels as one gzip file (35 MB).
  tar -C "$here/build" -czf "$bundle.tar.gz" gpu-bundle
  du -sh "$bundle" "$bundle.tar.gz"
  ;;
run)
  out=${2:?usage: gpu-session.sh run OUT}
  mkdir -p "$out"
  [ -d "$bundle/bin" ] || [ ! -f "$bundle.tar.gz" ] || tar -C "$here/build" -xzf "$bundle.tar.gz"
  [ -d "$bundle/bin" ] || { echo "no $bundle: run 'gpu-session.sh bundle' first" >&2; exit 2; }
  cublas_dir=$(dirname "$(find /usr/local /usr/lib /opt -name 'libcublasLt.so.13*' -print -quit 2>/dev/null)")
  nccl_dir=$(dirname "$(find /usr/local /usr/lib /opt -name 'libnccl.so.2*' -print -quit 2>/dev/null)")
  export LD_LIBRARY_PATH=$bundle/lib:/usr/local/cuda/lib64:$cublas_dir:$nccl_dir
  export OPAL_PREFIX=$bundle/ompi PATH=$bundle/ompi/bin:$bundle/bin:$PATH
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export OMPI_MCA_mpi_yield_when_idle=1 OMPI_MCA_btl=self,vader OMPI_MCA_pml=ob1
  # Debian's PMIx looks for its compression plugin where it was installed and needs none; on
  # a machine with another PMIx there, it prints that the plugin does not load (harmless).
  export PMIX_MCA_pcompress_base_silence_warning=1
  summary=$out/summary.txt log=$out/steps.log
  : >"$summary"
  : >"$log"
  only=("${@:3}")  # the steps to run, as globs of their names; none given: every step
  wanted() {
    local pattern
    [ ${#only[@]} -eq 0 ] && return 0
    for pattern in "${only[@]}"; do
      # shellcheck disable=SC2053  # a glob on purpose
      [[ $1 == $pattern ]] && return 0
    done
    return 1
  }
  step() {  # step NAME SECONDS COMMAND...: runs it, output to steps.log, a line in the summary
    local name=$1 limit=$2
    shift 2
    wanted "$name" || return 0
    local start=$SECONDS
    echo "=== $name: $*" >>"$log"
    timeout -k 5 "$limit" "$@" >>"$log" 2>&1
    local rc=$?
    printf '%-44s rc %-3s %4ss\n' "$name" "$rc" "$((SECONDS - start))" | tee -a "$summary"
  }
  # fmnist-cnn-8 with the overrides given, on the bundle's data and the keys in $1
  # (`fedchain keygen` there first); mpirun's further arguments before the job's.
  cnn_job() {
    local keys=$1
    shift
    echo "$here/jobs/fmnist-cnn-8.toml" --set data.path="$bundle/data.h5" \
      --set data.train_limit=7500 --set keys.dir="$keys" "$@"
  }
  # A round of fmnist-cnn-8 as one of its 8 ranks trains it (7,500 samples, CNN, batch 50)
  # on the GPU, with the chain and without (consensus.protocol = "none"), interleaved, at 1
  # and 4 host threads (they hash the updates and the model: train.threads); metrics.csv's
  # phases give the chain's share of the round.
  round_by_phase() {
    local work protocol threads
    work=$(mktemp -d)
    fedchain keygen --ranks 1 --out "$work/keys" >/dev/null || return
    for threads in 1 4; do
      for protocol in bft none; do
        # shellcheck disable=SC2046
        mpirun -n 1 --bind-to none fedchain train $(cnn_job "$work/keys" --set job.ranks=1 \
          --set job.rounds=16 --set job.eval_every=16 --set train.device=cuda \
          --set train.threads=$threads --set consensus.protocol=$protocol) \
          --run-dir "$work/$protocol-$threads" || return
        cp "$work/$protocol-$threads/metrics.csv" "$out/round-$protocol-t$threads.csv"
      done
    done
    rm -rf "$work"
  }
  # train.device = "auto" takes the GPU where it passes its checks.
  auto_takes_the_gpu() {
    local work
    work=$(mktemp -d)
    fedchain keygen --ranks 1 --out "$work/keys" >/dev/null || return
    # shellcheck disable=SC2046
    mpirun -n 1 fedchain train $(cnn_job "$work/keys" --set job.ranks=1 --set job.rounds=2 \
      --set train.device=auto) --run-dir "$work/auto" 2>&1 | tee "$work/log" || return
    grep -q "backend cuda:0" "$work/log" || { echo "FAIL: auto did not take the GPU"; return 1; }
    rm -rf "$work"
  }
  # A job whose ranks train on the GPU and on the CPU (rank 1 sees no GPU) is refused, exit 2.
  mix_is_refused() {
    local work rc
    work=$(mktemp -d)
    fedchain keygen --ranks 2 --out "$work/keys" >/dev/null || return
    local job
    job=$(cnn_job "$work/keys" --set job.ranks=2 --set job.rounds=2 --set train.device=auto)
    # shellcheck disable=SC2086
    mpirun -n 1 fedchain train $job --run-dir "$work/mixed" : \
      -n 1 env CUDA_VISIBLE_DEVICES= fedchain train $job --run-dir "$work/mixed" 2>&1 |
      tee "$work/log"
    rc=${PIPESTATUS[0]}
    [ "$rc" = 2 ] || { echo "FAIL: the GPU/CPU mix exited $rc, not 2"; return 1; }
    grep -q "the ranks train on different kinds of device" "$work/log" ||
      { echo "FAIL: the refusal does not say why"; return 1; }
    rm -rf "$work"
  }
  # Clients apart from ranks on one GPU: 4 clients on 1 rank and on 2 ranks that share the
  # GPU commit the same roots at every height (docs/clients.md).
  ranks_share_the_gpu() {
    local work ranks
    source "$here/tests/support/e2e_lib.sh"  # roots
    work=$(mktemp -d)
    for ranks in 1 2; do
      fedchain keygen --ranks $ranks --out "$work/keys-$ranks" >/dev/null || return
      # shellcheck disable=SC2046
      mpirun -n $ranks --bind-to none fedchain train $(cnn_job "$work/keys-$ranks" \
        --set job.ranks=$ranks --set job.rounds=3 --set clients.total=4 \
        --set clients.per_round=4 --set train.device=cuda) --run-dir "$work/ranks-$ranks" || return
      roots "$work/ranks-$ranks" >"$work/roots-$ranks"
    done
    cat "$work/roots-1"
    diff "$work/roots-1" "$work/roots-2" || { echo "FAIL: 1 and 2 ranks differ"; return 1; }
    rm -rf "$work"
  }
  # Two ranks over NCCL on one GPU: NCCL cannot put two ranks of a communicator on one
  # device, so the job is refused (exit 2) naming the ranks, and leaves no run directory.
  nccl_ranks_share_a_gpu() {
    local work rc
    work=$(mktemp -d)
    fedchain keygen --ranks 2 --out "$work/keys" >/dev/null || return
    # shellcheck disable=SC2046
    mpirun -n 2 --bind-to none fedchain train $(cnn_job "$work/keys" --set job.ranks=2 \
      --set job.rounds=2 --set train.device=cuda --set aggregate.transport=nccl) \
      --run-dir "$work/nccl" 2>&1 | tee "$work/log"
    rc=${PIPESTATUS[0]}
    [ "$rc" = 2 ] || { echo "FAIL: exit $rc, not 2"; return 1; }
    grep -q "ranks 0 1 share GPU-" "$work/log" || { echo "FAIL: the ranks are not named"; return 1; }
    [ ! -e "$work/nccl" ] || { echo "FAIL: a refused job left a run directory"; return 1; }
    rm -rf "$work"
  }
  export -f cnn_job round_by_phase auto_takes_the_gpu mix_is_refused ranks_share_the_gpu \
    nccl_ranks_share_a_gpu
  export here bundle out
  step device 30 nvidia-smi
  for test in "$bundle"/bin/gpu_*_test; do
    step "$(basename "$test")" 240 "$test"
  done
  step e2e_nccl 240 "$here/tests/e2e/nccl_e2e.sh" "$bundle/bin/fedchain" "$bundle/data.h5"
  # PyTorch runs with the machine's own libraries, not the bundle's older libstdc++.
  torch_python=$(mktemp)
  printf '#!/bin/sh\nexec env -u LD_LIBRARY_PATH python3 "$@"\n' >"$torch_python"
  chmod +x "$torch_python"
  if ! wanted train_vs_pytorch_cuda; then
    :
  elif "$torch_python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' \
    2>/dev/null; then
    step train_vs_pytorch_cuda 240 "$here/bench/train/compare.sh" \
      "$bundle/bin/fedchain_train_bench" "$torch_python" 3 -- --device cuda \
      --models mlp,cnn,lenet --sizes 64 --threads 1 -n 200
  else
    echo "train_vs_pytorch_cuda: skipped, python3 has no torch that sees a GPU" | tee -a "$summary"
  fi
  step round_by_phase 240 bash -c round_by_phase
  step auto_takes_the_gpu 60 bash -c auto_takes_the_gpu
  step mix_is_refused 60 bash -c mix_is_refused
  step ranks_share_the_gpu 120 bash -c ranks_share_the_gpu
  step nccl_ranks_share_a_gpu 60 bash -c nccl_ranks_share_a_gpu
  step gpu_merkle_bench 120 gpu_merkle_bench
  step gpu_aggregate_bench 120 gpu_aggregate_bench
  step train_bench_cuda 120 fedchain_train_bench --device cuda \
    --models mlp,cnn,lenet,cifar-cnn --sizes 32,64,256 -n 100
  # Not the GPU but its host's cores: consensus latency per height with a core per rank
  # (docs/consensus.md, "Performance"), and what a signature costs on that CPU.
  step crypto_bench 60 crypto_bench --sizes small --threads 1 -n 100
  for ranks in 2 4 8; do
    step "consensus_latency_n$ranks" 60 env -u OMPI_MCA_mpi_yield_when_idle \
      mpirun -n $ranks --bind-to core net_consensus_bench 500 45
  done
  sanitizer=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
  if [ -x "$sanitizer" ]; then
    for test in "$bundle"/bin/gpu_*_test; do
      # Death tests abort on purpose; memcheck would report their exits.
      # Memory errors only: NCCL probes kernels it has no image for, and one test runs out
      # of device memory on purpose; those calls return errors that the code handles.
      step "memcheck-$(basename "$test")" 180 "$sanitizer" --tool memcheck \
        --report-api-errors no --error-exitcode 9 "$test" --gtest_filter=-*DeathTest*
    done
  fi
  ;;
*)
  echo "usage: gpu-session.sh bundle | run OUT" >&2
  exit 2
  ;;
esac
