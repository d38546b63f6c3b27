// GPU Merkle leaf hashing in GB/s, beside the CPU leaves (crypto::merkle_leaves on --threads
// threads) of the same bytes in the same run. Results: docs/PERFORMANCE.md. The shared flags
// and table: bench/common/bench_flags.hpp; size = bytes hashed, by default the cnn's
// quantized update (1,663,370 int32, 6.65 MB) and 256 MiB; chunks of 4 KiB and 64 KiB (the
// genesis default). GPU time includes copying the leaf hashes back.
#include <cstdint>
#include <cstdio>
#include <vector>

#include <fmt/format.h>

#include "bench_flags.hpp"
#include "fedchain/crypto/merkle.hpp"
#include "fedchain/kernels/device.hpp"
#include "fedchain/kernels/memory.hpp"
#include "fedchain/kernels/merkle.hpp"

namespace {

namespace bench = fedchain::bench;

int run_size(bench::Table& table, const bench::Flags& flags, std::size_t size) {
  std::vector<std::uint8_t> host(size);
  for (std::size_t i = 0; i < size; ++i) host[i] = static_cast<std::uint8_t>(i * 2654435761u);
  auto device = fedchain::gpu::DeviceArray<std::uint8_t>::allocate(size);
  if (!device || !device->upload(host.data(), size)) {
    std::fprintf(stderr, "gpu_merkle_bench: cannot stage %zu bytes on the GPU\n", size);
    return 1;
  }
  const double bytes = static_cast<double>(size);
  for (std::size_t chunk : {std::size_t{4096}, std::size_t{65536}}) {
    const auto gpu = bench::measure(
        flags, [&] { (void)fedchain::gpu::merkle_leaves(device->data(), size, chunk); });
    for (const int threads : flags.threads) {
      const auto cpu = bench::measure(flags, [&] {
        (void)fedchain::crypto::merkle_leaves(fedchain::ByteView(host.data(), size), chunk,
                                              threads);
      });
      table.add({fmt::format("merkle_leaves/chunk={}", chunk), size, threads, gpu,
                 bench::gb_per_second(bytes, gpu.seconds), "GB/s",
                 bench::gb_per_second(bytes, cpu.seconds)});
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Spec spec{.program = "gpu_merkle_bench",
                         .size_means = "bytes hashed",
                         .baseline_means = "the CPU leaves on `threads` threads",
                         .warmup = 1,
                         .iterations = 20,
                         .sizes = {std::uint64_t{1663370} * 4, std::uint64_t{256} << 20},
                         .small_sizes = {std::uint64_t{1} << 20},
                         .threads = {2}};
  CLI::App app;
  bench::Flags flags;
  if (const auto exit_code = bench::parse_flags(app, spec, flags, argc, argv)) return *exit_code;
  if (const auto probe = fedchain::gpu::probe_devices(); probe.devices.empty()) {
    return bench::skip("no usable GPU: " + probe.why_none);
  }
  bench::Table table(spec, flags);
  for (const auto size : flags.sizes) {
    if (const int failed = run_size(table, flags, size)) return failed;
  }
  return table.finish();
}
