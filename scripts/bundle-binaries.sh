#!/usr/bin/env bash
# Copies fedchain binaries and the shared libraries they load into one folder, so they run
# on a node that has a GPU driver but none of the build's -dev packages (a GPU test node,
# a container with CUDA only). glibc, the CUDA driver, the CUDA runtime and NCCL are left
# out: the target node must provide those (its CUDA toolkit and NCCL, same major version).
#   scripts/bundle-binaries.sh OUT build/ci/tests/kernels/gpu_*_test build/ci/src/cli/fedchain
#   then on the node: LD_LIBRARY_PATH=OUT/lib:/usr/local/cuda/lib64 OUT/bin/gpu_device_test
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: bundle-binaries.sh OUT BINARY..." >&2; exit 2; }
out=$1
shift
mkdir -p "$out/bin" "$out/lib"
for binary in "$@"; do
  cp "$binary" "$out/bin/"
  ldd "$binary" | awk '/=>/ {print $3}' | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so* | libm.so* | libpthread.so* | libdl.so* | librt.so* | ld-linux*) ;;
      libcuda.so* | libcudart.so* | libnccl.so* | libcublas*.so*) ;;
      *) cp -L -n "$lib" "$out/lib/" ;;
    esac
  done
done
du -sh "$out"
