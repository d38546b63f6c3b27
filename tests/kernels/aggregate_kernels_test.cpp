// Every round-path kernel against its CPU reference in fedchain/aggregate/, bit for bit,
// over odd sizes (1, 7, 1000, 2^20 + 3) and several launch shapes, including a single
// block and blocks that are not a multiple of the warp size.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "fedchain/aggregate/quantize.hpp"
#include "fedchain/aggregate/rules.hpp"
#include "fedchain/kernels/aggregate.hpp"
#include "fedchain/kernels/memory.hpp"

namespace fedchain {
namespace {

const std::size_t kSizes[] = {1, 7, 1000, (std::size_t{1} << 20) + 3};
const gpu::Launch kLaunches[] = {{256, 0}, {32, 1}, {96, 7}, {1024, 0}, {128, 3}};

template <typename T>
gpu::DeviceArray<T> to_device(const std::vector<T>& host) {
  auto array = gpu::DeviceArray<T>::allocate(host.size());
  EXPECT_TRUE(array) << array.error().message;
  EXPECT_TRUE(array->upload(host.data(), host.size()));
  return std::move(*array);
}

template <typename T>
std::vector<T> to_host(const gpu::DeviceArray<T>& array) {
  EXPECT_TRUE(gpu::synchronize());
  std::vector<T> host(array.size());
  EXPECT_TRUE(array.download(host.data(), host.size()));
  return host;
}

std::string where(std::size_t d, const gpu::Launch& launch) {
  return "d = " + std::to_string(d) + ", launch " + std::to_string(launch.grid_size) + " x " +
         std::to_string(launch.block_size);
}

// Floats that exercise every branch of quantization: halves at the scale, NaN, infinities,
// subnormals, values beyond the clip bound, random bit patterns.
std::vector<float> tricky_floats(std::size_t d, int scale_bits, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<float> values(d);
  for (auto& value : values) {
    switch (random() % 8) {
      case 0:
        value = std::ldexp(static_cast<float>(random() % 4000) - 2000.0f + 0.5f, -scale_bits);
        break;
      case 1: {
        const float specials[] = {std::numeric_limits<float>::quiet_NaN(),
                                  std::numeric_limits<float>::infinity(),
                                  -std::numeric_limits<float>::infinity(),
                                  std::numeric_limits<float>::denorm_min(),
                                  -0.0f,
                                  1e30f};
        value = specials[random() % 6];
        break;
      }
      case 2: {
        const auto bits = static_cast<std::uint32_t>(random());
        std::memcpy(&value, &bits, sizeof value);
        break;
      }
      default:
        value =
            std::ldexp(static_cast<float>(static_cast<std::int32_t>(random() % 2000001) - 1000000),
                       -20 - static_cast<int>(random() % 10));
    }
  }
  return values;
}

// n rows of d values in [-bound, bound], contiguous (n, d), plus Update views over them.
struct Rows {
  std::vector<std::int32_t> values;
  std::vector<std::int64_t> weights;
  std::vector<aggregate::Update> updates;
};

Rows make_rows(std::size_t n, std::size_t d, std::int32_t bound, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  Rows rows;
  rows.values.resize(n * d);
  for (auto& value : rows.values) {
    const auto pick = random() % 16;
    value = pick == 0   ? bound
            : pick == 1 ? -bound
            : pick < 8
                ? static_cast<std::int32_t>(random() % 7) - 3
                : static_cast<std::int32_t>(
                      static_cast<std::int64_t>(random() % (2 * std::uint64_t(bound) + 1)) - bound);
  }
  for (std::size_t i = 0; i < n; ++i) {
    rows.weights.push_back(static_cast<std::int64_t>(1 + random() % 60000));
    rows.updates.push_back({static_cast<std::int64_t>(i), rows.weights.back(),
                            std::span<const std::int32_t>(rows.values.data() + i * d, d)});
  }
  return rows;
}

TEST(AggregateKernels, QuantizeMatchesCpuBitForBit) {
  for (const auto& params :
       {aggregate::QuantizeParams{20, 8 << 20},
        aggregate::QuantizeParams{30, std::numeric_limits<std::int32_t>::max()},
        aggregate::QuantizeParams{0, 3}}) {
    for (std::size_t d : kSizes) {
      const auto delta = tricky_floats(d, params.scale_bits, d + params.scale_bits);
      std::vector<std::int32_t> expected(d);
      auto stats = aggregate::quantize(delta, expected, params);
      ASSERT_TRUE(stats);
      const auto device_delta = to_device(delta);
      for (const auto& launch : kLaunches) {
        auto q = gpu::DeviceArray<std::int32_t>::allocate(d);
        ASSERT_TRUE(q);
        auto counts = gpu::quantize(device_delta.data(), q->data(), d, params.scale_bits,
                                    params.clip_bound, launch);
        ASSERT_TRUE(counts) << counts.error().message;
        EXPECT_EQ(to_host(*q), expected) << where(d, launch) << ", s = " << params.scale_bits;
        EXPECT_EQ(counts->clipped, stats->clipped) << where(d, launch);
        EXPECT_EQ(counts->nonfinite, stats->nonfinite) << where(d, launch);
        // The asynchronous form, into a misaligned output: the one-at-a-time path.
        auto q_offset = gpu::DeviceArray<std::int32_t>::allocate(d + 1);
        auto device_counts = to_device(std::vector<std::int64_t>{0, 0});
        ASSERT_TRUE(q_offset);
        ASSERT_TRUE(gpu::quantize_async(device_delta.data(), q_offset->data() + 1, d,
                                        params.scale_bits, params.clip_bound, device_counts.data(),
                                        launch));
        auto shifted = to_host(*q_offset);
        shifted.erase(shifted.begin());
        EXPECT_EQ(shifted, expected) << where(d, launch) << ", misaligned";
        EXPECT_EQ(to_host(device_counts),
                  (std::vector<std::int64_t>{stats->clipped, stats->nonfinite}));
      }
    }
  }
}

TEST(AggregateKernels, DequantizeAddMatchesCpuBitForBit) {
  for (int scale_bits : {0, 20, 30}) {
    for (std::size_t d : kSizes) {
      std::mt19937_64 random(d * 31 + scale_bits);
      std::vector<float> theta(d);
      std::vector<std::int32_t> a(d);
      for (std::size_t j = 0; j < d; ++j) {
        theta[j] =
            std::ldexp(static_cast<float>(static_cast<std::int32_t>(random() % 4000001) - 2000000),
                       -static_cast<int>(random() % 30));
        a[j] = static_cast<std::int32_t>(random());  // the full int32 range, > 2^24 too
      }
      auto expected = theta;
      ASSERT_TRUE(aggregate::dequantize_add(expected, a, scale_bits));
      const auto device_a = to_device(a);
      for (const auto& launch : kLaunches) {
        auto device_theta = to_device(theta);
        ASSERT_TRUE(
            gpu::dequantize_add(device_theta.data(), device_a.data(), d, scale_bits, launch));
        const auto got = to_host(device_theta);
        ASSERT_EQ(std::memcmp(got.data(), expected.data(), d * sizeof(float)), 0)
            << where(d, launch) << ", s = " << scale_bits;
      }
    }
  }
}

TEST(AggregateKernels, WeightedSumAndFedAvgMatchCpuBitForBit) {
  const std::int32_t bound = 1 << 26;
  for (std::size_t n : {1u, 3u, 8u, 70u}) {  // 70: more rows than one launch carries
    for (std::size_t d : kSizes) {
      if (n == 70 && d > 1000) continue;  // the batching is covered at smaller d
      const auto rows = make_rows(n, d, bound, n * 1000 + d);
      std::vector<std::int64_t> expected_sum(d, 0);
      for (const auto& update : rows.updates) {
        ASSERT_TRUE(aggregate::add_weighted(expected_sum, update.weight, update.values));
      }
      const auto expected_avg = aggregate::fedavg(rows.updates);
      const auto device_rows = to_device(rows.values);
      for (const auto& launch : kLaunches) {
        auto sums = gpu::DeviceArray<std::int64_t>::allocate(d);
        auto avg = gpu::DeviceArray<std::int32_t>::allocate(d);
        ASSERT_TRUE(sums && avg);
        ASSERT_TRUE(
            gpu::weighted_sum(device_rows.data(), rows.weights.data(), n, d, sums->data(), launch));
        EXPECT_EQ(to_host(*sums), expected_sum) << "n = " << n << ", " << where(d, launch);
        ASSERT_TRUE(
            gpu::fedavg(device_rows.data(), rows.weights.data(), n, d, avg->data(), launch));
        EXPECT_EQ(to_host(*avg), expected_avg) << "n = " << n << ", " << where(d, launch);
        // Rows that start 4 bytes into an allocation: the one-at-a-time path.
        auto shifted_rows = gpu::DeviceArray<std::int32_t>::allocate(n * d + 1);
        ASSERT_TRUE(shifted_rows);
        ASSERT_TRUE(gpu::copy_on_device(shifted_rows->data() + 1, device_rows.data(),
                                        n * d * sizeof(std::int32_t)));
        ASSERT_TRUE(
            gpu::fedavg(shifted_rows->data() + 1, rows.weights.data(), n, d, avg->data(), launch));
        EXPECT_EQ(to_host(*avg), expected_avg) << "n = " << n << ", misaligned";
        std::int64_t total = 0;
        for (auto w : rows.weights) total += w;
        ASSERT_TRUE(gpu::divide_round_half_even(sums->data(), total, d, avg->data(), launch));
        EXPECT_EQ(to_host(*avg), expected_avg) << "n = " << n << ", " << where(d, launch);
      }
    }
  }
}

TEST(AggregateKernels, MedianAndTrimmedMeanMatchCpuBitForBit) {
  // The clip bound at INT32_MAX puts real values equal to the kernels' padding.
  const std::int32_t bound = std::numeric_limits<std::int32_t>::max();
  for (std::size_t n : {1u, 2u, 3u, 4u, 5u, 8u, 9u, 16u, 17u, 31u, 32u}) {
    for (std::size_t d : kSizes) {
      if (d > 1000 && n != 5 && n != 8 && n != 32) continue;  // keep the CPU side quick
      const auto rows = make_rows(n, d, bound, n * 7 + d);
      const auto expected_median = aggregate::coordinate_median(rows.updates);
      const auto device_rows = to_device(rows.values);
      for (const auto& launch : kLaunches) {
        auto out = gpu::DeviceArray<std::int32_t>::allocate(d);
        ASSERT_TRUE(out);
        ASSERT_TRUE(gpu::coordinate_median(device_rows.data(), n, d, out->data(), launch));
        EXPECT_EQ(to_host(*out), expected_median) << "n = " << n << ", " << where(d, launch);
      }
      for (std::size_t trim = 0; 2 * trim < n; trim += 1 + trim) {
        const auto expected = aggregate::trimmed_mean(rows.updates, static_cast<int64_t>(trim));
        for (const auto& launch : {kLaunches[0], kLaunches[2]}) {
          auto out = gpu::DeviceArray<std::int32_t>::allocate(d);
          ASSERT_TRUE(out);
          ASSERT_TRUE(gpu::trimmed_mean(device_rows.data(), n, d, trim, out->data(), launch));
          EXPECT_EQ(to_host(*out), expected)
              << "n = " << n << ", trim = " << trim << ", " << where(d, launch);
        }
      }
    }
  }
}

TEST(AggregateKernels, RefuseWhatTheyCannotDo) {
  auto rows = to_device(std::vector<std::int32_t>(33 * 4, 0));
  auto out = gpu::DeviceArray<std::int32_t>::allocate(4);
  ASSERT_TRUE(out);
  EXPECT_FALSE(gpu::coordinate_median(rows.data(), 33, 4, out->data()));
  EXPECT_FALSE(gpu::trimmed_mean(rows.data(), 4, 4, 2, out->data()));
  EXPECT_FALSE(gpu::coordinate_median(rows.data(), 3, 4, out->data(), {2048, 0}));
  const std::int64_t zero_weight[] = {0};
  EXPECT_FALSE(gpu::fedavg(rows.data(), zero_weight, 1, 4, out->data()));
}

}  // namespace
}  // namespace fedchain
