// GPU bandwidth of the round-path kernels beside a device-to-device copy in the same run
// (issue 7's target: >= 0.8x of the copy). The shared flags and table:
// bench/common/bench_flags.hpp; size = d, the values per update.
// quantize waits for its counts (an allocation, a copy back and a synchronization per call);
// quantize_async leaves them on the device. Bytes moved: what the kernel must read plus
// write (e.g. fedavg n * d * 4 + d * 4); throughput = bytes moved / time; the baseline is
// cudaMemcpy device to device of the kernel's input bytes, read + written over its time.
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bench_flags.hpp"
#include "fedchain/kernels/aggregate.hpp"
#include "fedchain/kernels/device.hpp"
#include "fedchain/kernels/memory.hpp"

namespace {

using fedchain::gpu::DeviceArray;
namespace bench = fedchain::bench;

constexpr std::size_t kMaxN = 32;

void wait() {
  (void)fedchain::gpu::synchronize();
}

// Bytes read + written per second by a device-to-device copy of `bytes`; 0 where the copy's
// buffers do not fit.
double copy_gbps(const bench::Flags& flags, std::size_t bytes) {
  auto from = DeviceArray<char>::allocate(bytes);
  auto to = DeviceArray<char>::allocate(bytes);
  if (!from || !to) return 0.0;
  const auto time = bench::measure(
      flags, [&] { (void)fedchain::gpu::copy_on_device(to->data(), from->data(), bytes); }, wait);
  return bench::gb_per_second(2.0 * static_cast<double>(bytes), time.seconds);
}

// Times `body`, which moves `moved` bytes, against a copy of its `input` bytes.
void add_row(bench::Table& table, const bench::Flags& flags, const std::string& name, std::size_t d,
             std::size_t moved, std::size_t input, const std::function<void()>& body) {
  const auto time = bench::measure(flags, body, wait);
  table.add({name, d, 1, time, bench::gb_per_second(static_cast<double>(moved), time.seconds),
             "GB/s", copy_gbps(flags, input)});
}

int run_size(bench::Table& table, const bench::Flags& flags, std::size_t d) {
  std::mt19937_64 random(1);
  std::vector<std::int32_t> host(kMaxN * d);
  for (auto& value : host) value = static_cast<std::int32_t>(random() % 20001) - 10000;
  std::vector<float> host_delta(d);
  for (auto& value : host_delta) value = static_cast<float>(random() % 2001) * 1e-6f - 1e-3f;
  auto rows = DeviceArray<std::int32_t>::allocate(kMaxN * d);
  auto delta = DeviceArray<float>::allocate(d);
  auto theta = DeviceArray<float>::allocate(d);
  auto out = DeviceArray<std::int32_t>::allocate(d);
  auto sums = DeviceArray<std::int64_t>::allocate(d);
  auto counts = DeviceArray<std::int64_t>::allocate(2);
  if (!rows || !delta || !theta || !out || !sums || !counts ||
      !rows->upload(host.data(), host.size()) || !delta->upload(host_delta.data(), d) ||
      !theta->upload(host_delta.data(), d)) {
    std::fprintf(stderr, "gpu_aggregate_bench: cannot allocate or fill device memory for d = %zu\n",
                 d);
    return 1;
  }
  const std::vector<std::int64_t> weights(kMaxN, 6000);
  const std::size_t word = sizeof(std::int32_t);
  add_row(table, flags, "quantize_async", d, 2 * word * d, word * d, [&] {
    (void)fedchain::gpu::quantize_async(delta->data(), out->data(), d, 20, 8 << 20, counts->data());
  });
  add_row(table, flags, "quantize", d, 2 * word * d, word * d,
          [&] { (void)fedchain::gpu::quantize(delta->data(), out->data(), d, 20, 8 << 20); });
  add_row(table, flags, "dequantize_add", d, 3 * word * d, 2 * word * d,
          [&] { (void)fedchain::gpu::dequantize_add(theta->data(), out->data(), d, 20); });
  for (std::size_t n : {4u, 8u, 16u, 32u}) {
    const std::size_t in = n * d * word;
    add_row(table, flags, fmt::format("weighted_sum/n={}", n), d, in + 8 * d, in, [&] {
      (void)fedchain::gpu::weighted_sum(rows->data(), weights.data(), n, d, sums->data());
    });
    add_row(table, flags, fmt::format("fedavg/n={}", n), d, in + word * d, in,
            [&] { (void)fedchain::gpu::fedavg(rows->data(), weights.data(), n, d, out->data()); });
    add_row(table, flags, fmt::format("median/n={}", n), d, in + word * d, in,
            [&] { (void)fedchain::gpu::coordinate_median(rows->data(), n, d, out->data()); });
    add_row(table, flags, fmt::format("trimmed_mean/n={}", n), d, in + word * d, in,
            [&] { (void)fedchain::gpu::trimmed_mean(rows->data(), n, d, n / 4, out->data()); });
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Spec spec{.program = "gpu_aggregate_bench",
                         .size_means = "d, the values per update",
                         .baseline_means = "a device-to-device copy of the kernel's input",
                         .warmup = 1,
                         .iterations = 200,
                         .sizes = {1'600'000},
                         .small_sizes = {4096},
                         .threaded = false};
  CLI::App app;
  bench::Flags flags;
  if (const auto exit_code = bench::parse_flags(app, spec, flags, argc, argv)) return *exit_code;
  const auto probe = fedchain::gpu::probe_devices();
  if (probe.devices.empty()) return bench::skip("no usable GPU: " + probe.why_none);
  std::printf("# device: %s\n", probe.devices.front().name.c_str());
  bench::Table table(spec, flags);
  for (const auto d : flags.sizes) {
    if (const int failed = run_size(table, flags, d)) return failed;
  }
  return table.finish();
}
