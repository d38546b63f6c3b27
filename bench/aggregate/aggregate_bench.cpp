// CPU throughput of quantization and of each aggregation rule, as GB/s of update data,
// beside a memcpy of the same bytes in the same run (docs/PERFORMANCE.md).
//   aggregate_bench [--d D] [--repeats R]
// Columns: op (krum and multi_krum with f = 1, or 0 where n < 5), n (updates), d, MB in (bytes
// read: n * d * 4, or d * 4 floats to quantize), ms (median of R runs), GB/s = MB in / ms, memcpy
// GB/s (the same bytes copied), ratio = GB/s / memcpy GB/s.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "fedchain/aggregate/quantize.hpp"
#include "fedchain/aggregate/rules.hpp"

namespace {

using fedchain::aggregate::AggregateConfig;
using fedchain::aggregate::Rule;
using fedchain::aggregate::Update;

double median_ms(int repeats, const std::function<void()>& body) {
  body();  // warm caches and page in the output
  std::vector<double> times;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    body();
    const auto stop = std::chrono::steady_clock::now();
    times.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

double memcpy_ms(std::size_t bytes, int repeats) {
  std::vector<char> from(bytes, 1), to(bytes, 0);
  return median_ms(repeats, [&] { std::memcpy(to.data(), from.data(), bytes); });
}

void row(const char* op, std::size_t n, std::size_t d, std::size_t bytes, double ms,
         double copy_ms) {
  const double gbs = static_cast<double>(bytes) / ms / 1e6;
  const double copy_gbs = static_cast<double>(bytes) / copy_ms / 1e6;
  std::printf("%-16s %4zu %9zu %9.1f %9.3f %8.2f %11.2f %7.2f\n", op, n, d,
              static_cast<double>(bytes) / 1e6, ms, gbs, copy_gbs, gbs / copy_gbs);
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t d = 1'600'000;  // about the cnn's parameter count
  int repeats = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--d") {
      d = std::stoul(argv[i + 1]);
    } else if (flag == "--repeats") {
      repeats = std::stoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: aggregate_bench [--d D] [--repeats R]\n");
      return 2;
    }
  }
  std::mt19937_64 random(1);
  std::printf("%-16s %4s %9s %9s %9s %8s %11s %7s\n", "op", "n", "d", "MB in", "ms", "GB/s",
              "memcpy GB/s", "ratio");

  std::vector<float> delta(d);
  for (auto& value : delta) {
    value = static_cast<float>(static_cast<double>(random() % 2000001) - 1e6) * 1e-8f;
  }
  std::vector<std::int32_t> q(d);
  const fedchain::aggregate::QuantizeParams params{20, 8 << 20};
  const double quantize_ms =
      median_ms(repeats, [&] { (void)fedchain::aggregate::quantize(delta, q, params); });
  row("quantize", 1, d, d * sizeof(float), quantize_ms, memcpy_ms(d * sizeof(float), repeats));
  std::vector<float> theta(d, 0.5f);
  const double dequantize_ms = median_ms(
      repeats, [&] { (void)fedchain::aggregate::dequantize_add(theta, q, params.scale_bits); });
  row("dequantize_add", 1, d, d * sizeof(std::int32_t), dequantize_ms,
      memcpy_ms(d * sizeof(std::int32_t), repeats));

  for (std::size_t n : {4u, 8u, 16u}) {
    std::vector<std::int32_t> values(n * d);
    for (auto& value : values) value = static_cast<std::int32_t>(random() % 20001) - 10000;
    std::vector<Update> updates;
    for (std::size_t i = 0; i < n; ++i) {
      updates.push_back({static_cast<std::int64_t>(i), static_cast<std::int64_t>(6000 + i),
                         std::span<const std::int32_t>(values.data() + i * d, d)});
    }
    const std::size_t bytes = n * d * sizeof(std::int32_t);
    const double copy_ms = memcpy_ms(bytes, repeats);
    struct Case {
      const char* name;
      Rule rule;
    };
    for (const Case& c : {Case{"fedavg", Rule::kFedAvg}, Case{"median", Rule::kMedian},
                          Case{"trimmed_mean", Rule::kTrimmedMean}, Case{"krum", Rule::kKrum},
                          Case{"multi_krum", Rule::kMultiKrum}}) {
      AggregateConfig config;
      config.rule = c.rule;
      config.quantize = params;
      config.trim_beta = 0.25;
      config.krum_f = n >= 5 ? 1 : 0;  // Krum needs n >= 2f + 3
      const double ms = median_ms(repeats, [&] {
        auto result = fedchain::aggregate::aggregate(config, updates);
        if (!result) std::fprintf(stderr, "%s\n", result.error().message.c_str());
      });
      const bool krum = c.rule == Rule::kKrum || c.rule == Rule::kMultiKrum;
      const std::string label =
          krum ? std::string(c.name) + "(f=" + std::to_string(config.krum_f) + ")" : c.name;
      row(label.c_str(), n, d, bytes, ms, copy_ms);
    }
  }
  return 0;
}
