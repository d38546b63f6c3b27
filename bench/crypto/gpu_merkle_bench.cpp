// GPU Merkle leaf hashing in GB/s, beside the CPU leaves (crypto::merkle_leaves on the
// given threads) of the same bytes in the same run. Results: docs/PERFORMANCE.md.
//   gpu_merkle_bench [--threads T] [--iters I]
// Sizes: the cnn's quantized update (1,663,370 int32, 6.65 MB) and 256 MB; chunks of 4 KiB
// and 64 KiB (the genesis default). GPU time includes copying the leaf hashes back.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "fedchain/crypto/merkle.hpp"
#include "fedchain/kernels/device.hpp"
#include "fedchain/kernels/memory.hpp"
#include "fedchain/kernels/merkle.hpp"

namespace {

double mean_seconds(int iters, const std::function<void()>& body) {
  body();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) body();
  const auto stop = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(stop - start).count() / iters;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  int iters = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--iters") == 0) iters = std::atoi(argv[i + 1]);
  }
  if (const auto probe = fedchain::gpu::probe_devices(); probe.devices.empty()) {
    std::printf("no usable GPU: %s\n", probe.why_none.c_str());
    return 77;
  }
  std::printf("%12s %8s %10s %10s %10s\n", "bytes", "chunk", "GPU GB/s", "CPU GB/s", "ratio");
  for (std::size_t size : {std::size_t{1663370} * 4, std::size_t{256} << 20}) {
    std::vector<std::uint8_t> host(size);
    for (std::size_t i = 0; i < size; ++i) host[i] = static_cast<std::uint8_t>(i * 2654435761u);
    auto device = fedchain::gpu::DeviceArray<std::uint8_t>::allocate(size);
    if (!device || !device->upload(host.data(), size)) {
      std::printf("cannot stage %zu bytes on the GPU\n", size);
      return 1;
    }
    for (std::size_t chunk : {std::size_t{4096}, std::size_t{65536}}) {
      const double gpu_s = mean_seconds(
          iters, [&] { (void)fedchain::gpu::merkle_leaves(device->data(), size, chunk); });
      const double cpu_s = mean_seconds(std::max(1, iters / 10), [&] {
        (void)fedchain::crypto::merkle_leaves(fedchain::ByteView(host.data(), size), chunk,
                                              threads);
      });
      const double gpu_gbs = static_cast<double>(size) / gpu_s / 1e9;
      const double cpu_gbs = static_cast<double>(size) / cpu_s / 1e9;
      std::printf("%12zu %8zu %10.2f %10.2f %10.2f\n", size, chunk, gpu_gbs, cpu_gbs,
                  gpu_gbs / cpu_gbs);
    }
  }
  return 0;
}
