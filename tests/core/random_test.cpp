// SeededRandom and the portable log/exp: accuracy against libm, distribution moments, and
// golden values that pin the exact sequence (a change here changes every partition).
#include <bit>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "fedchain/core/portable_math.hpp"
#include "fedchain/core/random.hpp"

namespace fedchain {
namespace {

TEST(SeededRandom, EngineIsTheStandardMt19937_64) {
  // The standard fixes the 10000th output of a default-seeded mt19937_64.
  std::mt19937_64 engine;
  engine.discard(9999);
  EXPECT_EQ(engine(), 9981545732273789042ULL);
}

TEST(PortableMath, LogMatchesLibmToAFewUlp) {
  for (double x = 1e-300; x < 1e300; x *= 1.37) {
    EXPECT_NEAR(portable_log(x), std::log(x), 4e-16 * std::max(1.0, std::fabs(std::log(x)))) << x;
  }
  for (double x = 0.5; x < 2.0; x += 0.001) {
    EXPECT_NEAR(portable_log(x), std::log(x), 3e-16) << x;
  }
  EXPECT_EQ(portable_log(1.0), 0.0);
  EXPECT_TRUE(std::isnan(portable_log(0.0)));
  EXPECT_TRUE(std::isnan(portable_log(-1.0)));
}

TEST(PortableMath, ExpMatchesLibmToAFewUlp) {
  for (double x = -744.0; x < 709.0; x += 0.731) {
    EXPECT_NEAR(portable_exp(x), std::exp(x), 4e-16 * std::exp(x)) << x;
  }
  EXPECT_EQ(portable_exp(0.0), 1.0);
  EXPECT_EQ(portable_exp(-800.0), 0.0);
  EXPECT_TRUE(std::isinf(portable_exp(800.0)));
}

TEST(SeededRandom, UniformStaysInsideTheOpenInterval) {
  SeededRandom random(1);
  double sum = 0.0;
  constexpr int kDraws = 100000;
  for (int i = 0; i < kDraws; ++i) {
    const double u = random.uniform_open01();
    ASSERT_GT(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / kDraws, 0.5, 0.005);
}

TEST(SeededRandom, BelowCoversTheRangeEvenly) {
  SeededRandom random(2);
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) ++counts[random.below(7)];
  for (const int c : counts) EXPECT_NEAR(c, 10000, 500);
  EXPECT_EQ(random.below(1), 0U);
}

TEST(SeededRandom, ShuffleIsAPermutation) {
  SeededRandom random(3);
  std::vector<std::int64_t> items(100);
  for (std::size_t i = 0; i < items.size(); ++i) items[i] = static_cast<std::int64_t>(i);
  random.shuffle(items);
  EXPECT_EQ(std::set<std::int64_t>(items.begin(), items.end()).size(), 100U);
  EXPECT_NE(items[0] + items[1] * 100, 100) << "not the identity";
}

TEST(SeededRandom, NormalHasUnitMoments) {
  SeededRandom random(4);
  constexpr int kDraws = 200000;
  double sum = 0.0;
  double sum_squares = 0.0;
  for (int i = 0; i < kDraws; ++i) {
    const double z = random.normal();
    sum += z;
    sum_squares += z * z;
  }
  EXPECT_NEAR(sum / kDraws, 0.0, 0.012);
  EXPECT_NEAR(sum_squares / kDraws, 1.0, 0.02);
}

TEST(SeededRandom, GammaHasMeanAndVarianceEqualToShape) {
  for (const double shape : {0.05, 0.3, 1.0, 2.5, 10.0}) {
    SeededRandom random(5);
    constexpr int kDraws = 200000;
    double sum = 0.0;
    double sum_squares = 0.0;
    for (int i = 0; i < kDraws; ++i) {
      const double g = std::exp(random.log_gamma_variate(shape));
      sum += g;
      sum_squares += g * g;
    }
    const double mean = sum / kDraws;
    const double variance = sum_squares / kDraws - mean * mean;
    // Five standard errors of the mean; the variance estimate is looser (heavy tails).
    EXPECT_NEAR(mean, shape, 5.0 * std::sqrt(shape / kDraws)) << shape;
    EXPECT_NEAR(variance, shape, 0.05 * shape + 0.01) << shape;
  }
}

TEST(SeededRandom, TinyShapesStayFiniteInLogSpace) {
  SeededRandom random(6);
  for (int i = 0; i < 1000; ++i) {
    const double lg = random.log_gamma_variate(1e-4);
    ASSERT_TRUE(std::isfinite(lg));
  }
}

// Golden values: these bits must never change without a note in docs/data.md, because
// every job's partition depends on them.
TEST(SeededRandom, GoldenSequence) {
  SeededRandom random(42);
  std::vector<std::uint64_t> bits;
  bits.push_back(random.next_u64());
  bits.push_back(std::bit_cast<std::uint64_t>(random.uniform_open01()));
  bits.push_back(random.below(1000));
  bits.push_back(std::bit_cast<std::uint64_t>(random.normal()));
  bits.push_back(std::bit_cast<std::uint64_t>(random.log_gamma_variate(0.5)));
  bits.push_back(std::bit_cast<std::uint64_t>(random.log_gamma_variate(3.0)));
  bits.push_back(std::bit_cast<std::uint64_t>(portable_log(3.0)));
  bits.push_back(std::bit_cast<std::uint64_t>(portable_exp(-2.5)));
  const std::vector<std::uint64_t> golden = {
      0xc151df7d6ee5e2d6ULL,  // first raw output of mt19937_64(42)
      0x3fe472f1f73724a0ULL, 0x00000000000001c2ULL, 0xbfeb91cda61a7302ULL,
      0xc022f199363489eeULL, 0x3ff2198d7cf1c62bULL,
      0x3ff193ea7aad030bULL,  // log 3, the same bits as glibc's
      0x3fb50385c094f425ULL,  // exp -2.5, the same bits as glibc's
  };
  EXPECT_EQ(bits, golden);
}

TEST(DeriveSeed, StreamsDifferByRankAndRoundAndRepeat) {
  EXPECT_EQ(derive_seed(42, 1, 3), derive_seed(42, 1, 3));
  EXPECT_NE(derive_seed(42, 0, 1), derive_seed(42, 1, 0));
  EXPECT_NE(derive_seed(42, 1, 3), derive_seed(43, 1, 3));
}

}  // namespace
}  // namespace fedchain
