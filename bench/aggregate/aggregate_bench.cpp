// CPU throughput of quantization and of each aggregation rule, as GB/s of update data,
// beside a memcpy of the same bytes in the same run (docs/PERFORMANCE.md). The shared
// flags and table: bench/common/bench_flags.hpp; size = d, the values per update.
// Rows: quantize and dequantize_add (d values, one thread), then each rule at n = 4, 8 and
// 16 updates on each --threads count (krum and multi_krum with f = 1, or 0 where n < 5).
// Bytes read: n * d * 4 (d * 4 floats to quantize); throughput = bytes / time; ratio =
// throughput / one-thread memcpy of those bytes. The kernels are the CPU's best copies
// (x86-64-v4 on AVX-512 machines); FEDCHAIN_CPU_LEVEL=x86-64-v3 measures the AVX2 ones.
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "bench_flags.hpp"
#include "fedchain/aggregate/quantize.hpp"
#include "fedchain/aggregate/rules.hpp"
#include "fedchain/core/cpu_level.hpp"

namespace {

using fedchain::aggregate::AggregateConfig;
using fedchain::aggregate::Rule;
using fedchain::aggregate::Update;
namespace bench = fedchain::bench;

// Times `body` over `bytes` of update data and adds its row, with memcpy of as many bytes.
void add_row(bench::Table& table, const bench::Flags& flags, const std::string& name,
             std::uint64_t d, int threads, std::size_t bytes, const std::function<void()>& body) {
  std::vector<char> from(bytes, 1), to(bytes, 0);
  const auto copy = bench::measure(flags, [&] { std::memcpy(to.data(), from.data(), bytes); });
  const auto time = bench::measure(flags, body);
  const double size = static_cast<double>(bytes);
  table.add({name, d, threads, time, bench::gb_per_second(size, time.seconds), "GB/s",
             bench::gb_per_second(size, copy.seconds)});
}

void run_size(bench::Table& table, const bench::Flags& flags, std::size_t d) {
  std::mt19937_64 random(1);
  std::vector<float> delta(d);
  for (auto& value : delta) {
    value = static_cast<float>(static_cast<double>(random() % 2000001) - 1e6) * 1e-8f;
  }
  std::vector<std::int32_t> q(d);
  const fedchain::aggregate::QuantizeParams params{20, 8 << 20};
  add_row(table, flags, "quantize", d, 1, d * sizeof(float),
          [&] { (void)fedchain::aggregate::quantize(delta, q, params); });
  std::vector<float> theta(d, 0.5f);
  add_row(table, flags, "dequantize_add", d, 1, d * sizeof(std::int32_t),
          [&] { (void)fedchain::aggregate::dequantize_add(theta, q, params.scale_bits); });

  for (std::size_t n : {4u, 8u, 16u}) {
    std::vector<std::int32_t> values(n * d);
    for (auto& value : values) value = static_cast<std::int32_t>(random() % 20001) - 10000;
    std::vector<Update> updates;
    for (std::size_t i = 0; i < n; ++i) {
      updates.push_back({static_cast<std::int64_t>(i), static_cast<std::int64_t>(6000 + i),
                         std::span<const std::int32_t>(values.data() + i * d, d)});
    }
    for (const int threads : flags.threads) {
      for (const auto& [name, rule] : {std::pair{"fedavg", Rule::kFedAvg},
                                       {"median", Rule::kMedian},
                                       {"trimmed_mean", Rule::kTrimmedMean},
                                       {"krum", Rule::kKrum},
                                       {"multi_krum", Rule::kMultiKrum}}) {
        AggregateConfig config;
        config.rule = rule;
        config.quantize = params;
        config.trim_beta = 0.25;
        config.krum_f = n >= 5 ? 1 : 0;  // Krum needs n >= 2f + 3
        config.threads = threads;
        const bool krum = rule == Rule::kKrum || rule == Rule::kMultiKrum;
        add_row(table, flags,
                fmt::format("{}{}/n={}", name, krum ? fmt::format("(f={})", config.krum_f) : "", n),
                d, threads, n * d * sizeof(std::int32_t), [&] {
                  auto result = fedchain::aggregate::aggregate(config, updates);
                  if (!result) std::fprintf(stderr, "%s\n", result.error().message.c_str());
                });
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Spec spec{.program = "aggregate_bench",
                         .size_means = "d, the values per update",
                         .baseline_means = "memcpy of the same bytes",
                         .warmup = 1,
                         .iterations = 7,
                         .sizes = {1'600'000},  // about the cnn's parameter count
                         .small_sizes = {4096},
                         .threads = {1, 2}};
  CLI::App app;
  bench::Flags flags;
  if (const auto exit_code = bench::parse_flags(app, spec, flags, argc, argv)) return *exit_code;
  bench::Table table(spec, flags);
  std::printf("# kernels: %s\n", fedchain::cpu_level_name(fedchain::cpu_level()));
  for (const auto d : flags.sizes) run_size(table, flags, d);
  return table.finish();
}
