// GPU bandwidth of the round-path kernels beside a device-to-device copy of the same bytes
// in the same run (issue 7's target: >= 0.8x of the copy).
//   gpu_aggregate_bench [--d D] [--iters I]
// quantize waits for its counts (an allocation, a copy back and a synchronization per call);
// quantize_async leaves them on the device.
// Columns: op, n (updates), d, MB moved (bytes the kernel must read plus write, e.g.
// fedavg n * d * 4 + d * 4), us (mean over I launches), GB/s = MB moved / us, copy GB/s
// (cudaMemcpy device to device of the kernel's input bytes: read + written over time), and
// ratio = GB/s / copy GB/s.
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "fedchain/kernels/aggregate.hpp"
#include "fedchain/kernels/device.hpp"
#include "fedchain/kernels/memory.hpp"

namespace {

using fedchain::gpu::DeviceArray;

double mean_us(int iters, const std::function<void()>& body) {
  body();
  (void)fedchain::gpu::synchronize();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iters; ++i) body();
  (void)fedchain::gpu::synchronize();
  const auto stop = std::chrono::steady_clock::now();
  return std::chrono::duration<double, std::micro>(stop - start).count() / iters;
}

// Bytes moved per microsecond of a device-to-device copy of `bytes`.
double copy_gbs(std::size_t bytes, int iters) {
  auto from = DeviceArray<char>::allocate(bytes);
  auto to = DeviceArray<char>::allocate(bytes);
  if (!from || !to) return 0.0;
  const double us =
      mean_us(iters, [&] { (void)fedchain::gpu::copy_on_device(to->data(), from->data(), bytes); });
  return 2.0 * static_cast<double>(bytes) / us / 1e3;
}

void row(const char* op, std::size_t n, std::size_t d, std::size_t moved, double us, double copy) {
  const double gbs = static_cast<double>(moved) / us / 1e3;
  std::printf("%-16s %3zu %9zu %9.1f %9.1f %8.0f %9.0f %6.2f\n", op, n, d,
              static_cast<double>(moved) / 1e6, us, gbs, copy, gbs / copy);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t d = 1'600'000;
  int iters = 200;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--d") {
      d = std::stoul(argv[i + 1]);
    } else if (flag == "--iters") {
      iters = std::stoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: gpu_aggregate_bench [--d D] [--iters I]\n");
      return 2;
    }
  }
  const auto probe = fedchain::gpu::probe_devices();
  if (probe.devices.empty()) {
    std::printf("no usable GPU: %s\n", probe.why_none.c_str());
    return 1;
  }
  std::printf("device: %s, d = %zu, %d launches per row\n", probe.devices.front().name.c_str(), d,
              iters);
  std::printf("%-16s %3s %9s %9s %9s %8s %9s %6s\n", "op", "n", "d", "MB moved", "us", "GB/s",
              "copy GB/s", "ratio");

  constexpr std::size_t kMaxN = 32;
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
  if (!rows || !delta || !theta || !out || !sums || !rows->upload(host.data(), host.size()) ||
      !delta->upload(host_delta.data(), d) || !theta->upload(host_delta.data(), d)) {
    std::printf("could not allocate or fill device memory\n");
    return 1;
  }
  const std::vector<std::int64_t> weights(kMaxN, 6000);

  auto counts = DeviceArray<std::int64_t>::allocate(2);
  if (!counts) return 1;
  const std::size_t word = sizeof(std::int32_t);
  row("quantize_async", 1, d, 2 * word * d,
      mean_us(iters,
              [&] {
                (void)fedchain::gpu::quantize_async(delta->data(), out->data(), d, 20, 8 << 20,
                                                    counts->data());
              }),
      copy_gbs(word * d, iters));
  row("quantize", 1, d, 2 * word * d,
      mean_us(iters,
              [&] { (void)fedchain::gpu::quantize(delta->data(), out->data(), d, 20, 8 << 20); }),
      copy_gbs(word * d, iters));
  row("dequantize_add", 1, d, 3 * word * d,
      mean_us(iters,
              [&] { (void)fedchain::gpu::dequantize_add(theta->data(), out->data(), d, 20); }),
      copy_gbs(2 * word * d, iters));
  for (std::size_t n : {4u, 8u, 16u, 32u}) {
    const std::size_t in = n * d * word;
    const double copy = copy_gbs(in, iters);
    row("weighted_sum", n, d, in + 8 * d,
        mean_us(iters,
                [&] {
                  (void)fedchain::gpu::weighted_sum(rows->data(), weights.data(), n, d,
                                                    sums->data());
                }),
        copy);
    row("fedavg", n, d, in + word * d,
        mean_us(
            iters,
            [&] { (void)fedchain::gpu::fedavg(rows->data(), weights.data(), n, d, out->data()); }),
        copy);
    row("median", n, d, in + word * d,
        mean_us(iters,
                [&] { (void)fedchain::gpu::coordinate_median(rows->data(), n, d, out->data()); }),
        copy);
    row("trimmed_mean", n, d, in + word * d,
        mean_us(iters,
                [&] { (void)fedchain::gpu::trimmed_mean(rows->data(), n, d, n / 4, out->data()); }),
        copy);
  }
  return 0;
}
