// Quantization and the model step against references computed another way: libm's
// nearbyint (round-half-even in the default rounding mode) for rounding, 128-bit integers
// for division, and a single-rounding fma for the model step.
#include <cfenv>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "fedchain/aggregate/fixed_point.hpp"
#include "fedchain/aggregate/quantize.hpp"

namespace fedchain::aggregate {
namespace {

__extension__ using Int128 = __int128;

// The nearest integer to num / den, halves to even, by exact 128-bit arithmetic.
std::int64_t reference_divide(Int128 num, Int128 den) {
  Int128 floor_q = num / den;
  if (num % den != 0 && num < 0) floor_q -= 1;
  const Int128 twice_rest = 2 * (num - floor_q * den);  // in [0, 2 den)
  if (twice_rest > den || (twice_rest == den && floor_q % 2 != 0)) floor_q += 1;
  return static_cast<std::int64_t>(floor_q);
}

std::int32_t reference_quantize(float delta, int s, std::int32_t bound) {
  if (std::isnan(delta)) return 0;
  const long double x = std::ldexp(static_cast<long double>(delta), s);
  const long double rounded = std::nearbyint(x);
  if (rounded > bound) return bound;
  if (rounded < -bound) return -bound;
  return static_cast<std::int32_t>(rounded);
}

bool reference_clipped(float delta, int s, std::int32_t bound) {
  if (!std::isfinite(delta)) return false;  // counted as non-finite instead
  return std::fabs(std::nearbyint(std::ldexp(static_cast<long double>(delta), s))) > bound;
}

// Checks q and both counts against the references, value by value.
void expect_reference_quantization(const std::vector<float>& delta, int s, std::int32_t bound) {
  std::vector<std::int32_t> q(delta.size());
  auto stats = quantize(delta, q, QuantizeParams{s, bound});
  ASSERT_TRUE(stats);
  std::int64_t clipped = 0;
  std::int64_t nonfinite = 0;
  for (std::size_t j = 0; j < delta.size(); ++j) {
    ASSERT_EQ(q[j], reference_quantize(delta[j], s, bound))
        << "delta " << delta[j] << " at index " << j << ", scale " << s << ", bound " << bound;
    const auto scalar = fixed::quantize_value(delta[j], fixed::power_of_two(s), bound);
    ASSERT_EQ(scalar.value, q[j]) << "the CUDA kernels' form, delta " << delta[j];
    ASSERT_EQ(scalar.outcome, !std::isfinite(delta[j])                ? fixed::kNonFinite
                              : reference_clipped(delta[j], s, bound) ? fixed::kClipped
                                                                      : fixed::kInRange)
        << "the CUDA kernels' form, delta " << delta[j];
    clipped += reference_clipped(delta[j], s, bound) ? 1 : 0;
    nonfinite += std::isfinite(delta[j]) ? 0 : 1;
  }
  EXPECT_EQ(stats->clipped, clipped) << "scale " << s;
  EXPECT_EQ(stats->nonfinite, nonfinite) << "scale " << s;
}

TEST(Quantize, ParamsComeFromClipAndScale) {
  auto params = make_quantize_params(20, 8.0);
  ASSERT_TRUE(params) << params.error().message;
  EXPECT_EQ(params->scale_bits, 20);
  EXPECT_EQ(params->clip_bound, 8 << 20);
  EXPECT_EQ(make_quantize_params(0, 2.7)->clip_bound, 2);
}

TEST(Quantize, RefusesBoundsOutsideInt32AndZero) {
  auto too_big = make_quantize_params(30, 2.0);
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().kind, ErrorKind::kConfig);
  EXPECT_NE(too_big.error().message.find("aggregate.clip"), std::string::npos);
  auto too_small = make_quantize_params(2, 0.2);
  ASSERT_FALSE(too_small);
  EXPECT_NE(too_small.error().message.find("aggregate.scale_bits"), std::string::npos);
  EXPECT_FALSE(make_quantize_params(31, 1.0));
  EXPECT_TRUE(make_quantize_params(30, 1.99));
}

TEST(Quantize, HalvesRoundToEven) {
  const QuantizeParams params{1, 1000};  // one unit is 1/2
  const std::vector<float> delta{0.25f, 0.75f, 1.25f, -0.25f, -0.75f, -1.25f, 0.2f, 0.3f};
  // delta * 2 = 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.4, 0.6
  std::vector<std::int32_t> q(delta.size());
  ASSERT_TRUE(quantize(delta, q, params));
  EXPECT_EQ(q, (std::vector<std::int32_t>{0, 2, 2, 0, -2, -2, 0, 1}));
}

TEST(Quantize, NonFiniteAndClippedValuesFollowTheRuleAndAreCounted) {
  const QuantizeParams params{4, 100};
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> delta{
      std::nanf(""), inf,      -inf,    7.0f,     -7.0f,
      6.25f,         6.28125f, 6.3125f, -6.3125f, std::numeric_limits<float>::max()};
  // 6.25 * 16 = 100 (in range), 6.28125 * 16 = 100.5 -> 100 (even, in range),
  // 6.3125 * 16 = 101 (clipped).
  std::vector<std::int32_t> q(delta.size());
  auto stats = quantize(delta, q, params);
  ASSERT_TRUE(stats);
  EXPECT_EQ(q, (std::vector<std::int32_t>{0, 100, -100, 100, -100, 100, 100, 100, -100, 100}));
  EXPECT_EQ(stats->nonfinite, 3);
  EXPECT_EQ(stats->clipped, 5);
}

TEST(Quantize, SubnormalsAndSignedZeroQuantizeToZero) {
  const QuantizeParams params{30, 1 << 30};
  const std::vector<float> delta{std::numeric_limits<float>::denorm_min(), -0.0f,
                                 -std::numeric_limits<float>::min()};
  std::vector<std::int32_t> q(delta.size(), 7);
  ASSERT_TRUE(quantize(delta, q, params));
  EXPECT_EQ(q, (std::vector<std::int32_t>{0, 0, 0}));
}

TEST(Quantize, MatchesNearbyintOnRandomValuesAtEveryScale) {
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  std::mt19937_64 random(7);
  for (int s : {0, 1, 8, 16, 20, 24, 30}) {
    const auto bound = static_cast<std::int32_t>(std::min<std::int64_t>(
        (std::int64_t{3} << s) - 1, std::numeric_limits<std::int32_t>::max()));
    std::vector<float> delta(20000);
    for (auto& value : delta) {
      // Random bit patterns over a wide range of exponents, and exact halves.
      const auto bits = static_cast<std::uint32_t>(random());
      float pick;
      std::memcpy(&pick, &bits, sizeof pick);
      const auto half = std::ldexp(static_cast<float>(random() % 4096) + 0.5f, -s);
      value =
          (random() % 2 == 0) ? half : std::ldexp(pick, -100 + static_cast<int>(random() % 101));
    }
    expect_reference_quantization(delta, s, bound);
  }
}

// The kernels run 8 or 16 coordinates to a vector (src/aggregate/cpu_kernels.inc): every
// boundary case in every lane position, at the int32 limit, at a small odd bound (whose
// B + 0.5 rounds up, beyond B) and at a bound that no float represents.
TEST(Quantize, BoundaryCasesFollowTheRuleInEveryLane) {
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> at_int32_limit{2147483648.0f,
                                          -2147483648.0f,
                                          2147483520.0f,
                                          -2147483520.0f,
                                          4294967296.0f,
                                          inf,
                                          -inf,
                                          std::nanf(""),
                                          0.5f,
                                          -2.5f,
                                          std::numeric_limits<float>::max(),
                                          -std::numeric_limits<float>::max(),
                                          1.5f};
  const std::vector<float> at_odd_bound{6.28125f,  6.3125f,       -6.34375f, 6.34375f,
                                        -6.28125f, 6.25f,         -6.3125f,  6.3f,
                                        inf,       std::nanf(""), 0.03125f,  -0.09375f};
  // 3 * 2^24 - 1 is no float: the nearest one, 3 * 2^24, lies beyond it.
  const std::vector<float> at_bound_between_floats{50331648.0f,  -50331648.0f, 50331644.0f,
                                                   -50331640.0f, 50331652.0f,  1e30f};
  for (const auto& [cases, s, bound] :
       {std::tuple{at_int32_limit, 0, fixed::kMaxClipBound}, std::tuple{at_odd_bound, 4, 101},
        std::tuple{at_bound_between_floats, 0, 50331647}}) {
    std::vector<float> delta;
    for (std::size_t shift = 0; shift < 17; ++shift) {  // each case at every offset mod 16
      for (std::size_t i = 0; i < cases.size(); ++i)
        delta.push_back(cases[(i + shift) % cases.size()]);
    }
    expect_reference_quantization(delta, s, bound);
  }
}

// The kernel rounds with an instruction that follows the floating-point rounding mode, so it
// holds the mode at nearest-even itself: a caller in another mode gets the same q, and its
// mode back.
TEST(Quantize, TheCallersRoundingModeChangesNothing) {
  constexpr int kScale = 3;
  std::vector<float> delta{0.0625f, 0.1875f, 0.3125f, -0.0625f, -0.1875f, -0.3125f, 0.1f, -0.1f};
  std::mt19937 random(11);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  while (delta.size() < 1000) delta.push_back(normal(random));
  std::vector<std::int32_t> expected;
  for (const float value : delta) expected.push_back(reference_quantize(value, kScale, 1000));
  for (const int mode : {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO}) {
    std::vector<std::int32_t> q(delta.size());
    ASSERT_EQ(std::fesetround(mode), 0);
    const auto stats = quantize(delta, q, QuantizeParams{kScale, 1000});
    const int mode_after = std::fegetround();
    std::fesetround(FE_TONEAREST);
    ASSERT_TRUE(stats);
    EXPECT_EQ(mode_after, mode) << "the caller's rounding mode was not given back";
    EXPECT_EQ(q, expected) << "rounding mode " << mode;
  }
}

TEST(Quantize, RefusesLengthMismatch) {
  std::vector<float> delta(3);
  std::vector<std::int32_t> q(2);
  EXPECT_FALSE(quantize(delta, q, QuantizeParams{}));
}

// A client's update taken straight from its parameters (node/round.cpp on the CPU): q equals
// the float difference quantized, bit for bit and count for count, in every lane position
// and over tails of every length, and the parameters hold base afterwards.
TEST(Quantize, TakenQuantizedDifferenceIsTheDifferenceQuantizedAndLeavesBase) {
  const float inf = std::numeric_limits<float>::infinity();
  std::mt19937 random(5);
  std::normal_distribution<float> normal(0.0f, 1e-3f);
  for (const std::size_t width : {1u, 15u, 16u, 17u, 1000u, 16387u}) {
    std::vector<float> base(width);
    std::vector<float> trained(width);
    for (std::size_t j = 0; j < width; ++j) {
      base[j] = normal(random) * 100.0f;
      trained[j] = base[j] + normal(random);
    }
    // Values the clip bound cuts, and training gone non-finite, at shifting positions.
    const std::vector<float> specials{inf, -inf, std::nanf(""), 9.0f, -9.0f, 2.5e-7f};
    for (std::size_t k = 0; k < specials.size() && k < width; ++k) {
      trained[(k * 7 + width / 3) % width] = specials[k];
    }
    std::vector<float> difference(width);
    for (std::size_t j = 0; j < width; ++j) difference[j] = trained[j] - base[j];
    const QuantizeParams params{20, 1 << 22};  // clip 4.0
    std::vector<std::int32_t> want(width);
    const auto want_stats = quantize(difference, want, params);
    ASSERT_TRUE(want_stats);
    std::vector<std::int32_t> q(width, 12345);
    const auto stats = take_quantized_difference(trained, base, q, params);
    ASSERT_TRUE(stats);
    EXPECT_EQ(q, want) << "width " << width;
    EXPECT_EQ(stats->clipped, want_stats->clipped) << "width " << width;
    EXPECT_EQ(stats->nonfinite, want_stats->nonfinite) << "width " << width;
    EXPECT_EQ(std::memcmp(trained.data(), base.data(), width * sizeof(float)), 0)
        << "the parameters do not hold base again, width " << width;
  }
  std::vector<float> trained(4), base(4);
  std::vector<std::int32_t> q(3);
  EXPECT_FALSE(take_quantized_difference(trained, base, q, QuantizeParams{}));
  std::vector<float> short_base(3);
  std::vector<std::int32_t> q4(4);
  EXPECT_FALSE(take_quantized_difference(trained, short_base, q4, QuantizeParams{}));
}

TEST(FixedPoint, DivisionRoundsHalfToEven) {
  using fixed::divide_round_half_even;
  EXPECT_EQ(divide_round_half_even(5, 2), 2);
  EXPECT_EQ(divide_round_half_even(7, 2), 4);
  EXPECT_EQ(divide_round_half_even(-5, 2), -2);
  EXPECT_EQ(divide_round_half_even(-7, 2), -4);
  EXPECT_EQ(divide_round_half_even(2, 3), 1);
  EXPECT_EQ(divide_round_half_even(-2, 3), -1);
  EXPECT_EQ(divide_round_half_even(1, 3), 0);
  const auto max = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(divide_round_half_even(max, max), 1);
  EXPECT_EQ(divide_round_half_even(max / 2, max), 0);  // just below a half
  EXPECT_EQ(divide_round_half_even(max / 2 + 1, max), 1);
  EXPECT_EQ(divide_round_half_even(-max, max), -1);
}

TEST(FixedPoint, DivisionMatchesExact128BitReference) {
  std::mt19937_64 random(11);
  for (int i = 0; i < 200000; ++i) {
    auto den = static_cast<std::int64_t>(random() >> (1 + random() % 63)) + 1;
    auto num = static_cast<std::int64_t>(random() >> (1 + random() % 63));
    if (i % 3 == 0) {  // an exact half: (2k + 1) / 2 of an even den
      den = 2 * static_cast<std::int64_t>(1 + random() % 1000000);
      num = den * static_cast<std::int64_t>(random() % 1000) + den / 2;
    }
    if (random() % 2 == 0) num = -num;
    ASSERT_EQ(fixed::divide_round_half_even(num, den), reference_divide(num, den))
        << num << " / " << den;
  }
}

TEST(FixedPoint, RoundingDividerEqualsDivisionEverywhere) {
  std::mt19937_64 random(5);
  const auto max = std::numeric_limits<std::int64_t>::max();
  for (std::int64_t den :
       {std::int64_t{1}, std::int64_t{2}, std::int64_t{3}, std::int64_t{7}, std::int64_t{60000},
        std::int64_t{1} << 31, (std::int64_t{1} << 31) + 1, max / 3, max}) {
    const fixed::RoundingDivider divide(den);
    for (std::int64_t num :
         {std::int64_t{0}, std::int64_t{1}, -std::int64_t{1}, den / 2, -(den / 2), den / 2 + 1, max,
          -max, std::int64_t{1} << 62, -(std::int64_t{1} << 62), (std::int64_t{1} << 62) + 1}) {
      ASSERT_EQ(divide(num), reference_divide(num, den)) << num << " / " << den;
    }
    for (int i = 0; i < 20000; ++i) {
      auto num = static_cast<std::int64_t>(random() >> (1 + random() % 63));
      if (random() % 2 == 0) num = -num;
      ASSERT_EQ(divide(num), reference_divide(num, den)) << num << " / " << den;
    }
  }
}

TEST(Dequantize, AddsOneRoundedStepPerCoordinate) {
  std::vector<float> theta{1.0f, -2.0f, 0.0f, 3.0f};
  const std::vector<std::int32_t> a{1 << 19, -(1 << 20), 3, 0};
  ASSERT_TRUE(dequantize_add(theta, a, 20));
  EXPECT_EQ(theta, (std::vector<float>{1.5f, -3.0f, std::ldexp(3.0f, -20), 3.0f}));
}

TEST(Dequantize, EqualsTheSingleRoundingOfAFusedMultiplyAdd) {
  // float(a) * 2^-s is exact, so a fused multiply-add rounds the same sum once: the step
  // has one answer whether or not a compiler fuses it.
  std::mt19937_64 random(3);
  for (int s : {0, 10, 20, 30}) {
    std::vector<float> theta(10000);
    std::vector<std::int32_t> a(theta.size());
    for (std::size_t j = 0; j < theta.size(); ++j) {
      theta[j] = std::ldexp(static_cast<float>(random() % 2000000) - 1e6f, -20);
      a[j] = static_cast<std::int32_t>(random());
    }
    auto expected = theta;
    const float step = std::ldexp(1.0f, -s);
    for (std::size_t j = 0; j < theta.size(); ++j) {
      expected[j] = std::fma(static_cast<float>(a[j]), step, theta[j]);
    }
    ASSERT_TRUE(dequantize_add(theta, a, s));
    for (std::size_t j = 0; j < theta.size(); ++j) ASSERT_EQ(theta[j], expected[j]) << j;
  }
}

}  // namespace
}  // namespace fedchain::aggregate
