// Differential privacy in the integer domain: clipping, the discrete Gaussian's law (a
// chi-square test and its variance, fixed seeds and bounds wide enough never to flake), the
// noise shares' determinism, and DP-FedAvg's fixed denominator.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include <gtest/gtest.h>

#include "fedchain/aggregate/privacy.hpp"

namespace fedchain::aggregate {
namespace {

crypto::SecretKey key_of(std::uint8_t byte) {
  crypto::SecretKey key{};
  key.fill(byte);
  return key;
}

TEST(ClipL2, ScalesALongUpdateToTheClipAndLeavesAShortOne) {
  std::vector<float> longer{3.0f, 4.0f, 0.0f};  // norm 5
  EXPECT_DOUBLE_EQ(clip_l2(longer, 1.0), 5.0);
  EXPECT_NEAR(std::hypot(longer[0], longer[1]), 1.0, 1e-6);
  EXPECT_NEAR(longer[0] / longer[1], 0.75, 1e-6);  // the direction is kept
  std::vector<float> shorter{0.3f, 0.4f};
  const auto before = shorter;
  EXPECT_NEAR(clip_l2(shorter, 1.0), 0.5, 1e-7);
  EXPECT_EQ(shorter, before);
}

// Samples of N_Z(0, sigma2) from a fixed stream.
std::vector<std::int64_t> draw(std::int64_t sigma2, std::size_t n, std::uint8_t seed) {
  const DiscreteGaussian gaussian(sigma2);
  crypto::KeyStream bits(key_of(seed), 0);
  std::vector<std::int64_t> out(n);
  for (auto& x : out) x = gaussian(bits);
  return out;
}

// Sample variance within 6 standard errors of sigma2 (the sample variance's standard error
// is about sigma2 * sqrt(2 / n)), mean within 6 standard errors of 0.
void expect_moments(std::int64_t sigma2, const std::vector<std::int64_t>& x) {
  const auto n = static_cast<double>(x.size());
  double sum = 0;
  double squares = 0;
  for (const auto v : x) {
    sum += static_cast<double>(v);
    squares += static_cast<double>(v) * static_cast<double>(v);
  }
  const double mean = sum / n;
  const double variance = squares / n - mean * mean;
  const auto s2 = static_cast<double>(sigma2);
  EXPECT_LT(std::abs(mean), 6 * std::sqrt(s2 / n)) << "sigma2 " << sigma2;
  EXPECT_LT(std::abs(variance - s2), 6 * s2 * std::sqrt(2 / n)) << "sigma2 " << sigma2;
}

TEST(DiscreteGaussian, VarianceIsSigmaSquared) {
  for (const std::int64_t sigma2 :
       std::vector<std::int64_t>{1, 4, 1000, 1000000, std::int64_t{1} << 40}) {
    expect_moments(sigma2, draw(sigma2, 100000, static_cast<std::uint8_t>(sigma2 % 251)));
  }
}

TEST(DiscreteGaussian, ChiSquareAgainstItsProbabilities) {
  // N_Z(0, 4): P(x) proportional to exp(-x^2 / 8); cells -9..9, the tails pooled at the ends.
  constexpr std::int64_t kSigma2 = 4;
  constexpr int kEdge = 9;
  const auto x = draw(kSigma2, 200000, 7);
  std::map<int, double> observed;
  for (const auto v : x) observed[static_cast<int>(std::clamp<std::int64_t>(v, -kEdge, kEdge))]++;
  double normaliser = 0;
  for (int k = -60; k <= 60; ++k) normaliser += std::exp(-k * k / (2.0 * kSigma2));
  double chi2 = 0;
  for (int cell = -kEdge; cell <= kEdge; ++cell) {
    double p = 0;
    const int low = cell == -kEdge ? -60 : cell;
    const int high = cell == kEdge ? 60 : cell;
    for (int k = low; k <= high; ++k) p += std::exp(-k * k / (2.0 * kSigma2)) / normaliser;
    const double expected = p * static_cast<double>(x.size());
    chi2 += (observed[cell] - expected) * (observed[cell] - expected) / expected;
  }
  // 19 cells, 18 degrees of freedom: P(chi2 > 60) is about 2e-6.
  EXPECT_LT(chi2, 60.0);
}

TEST(NoiseShare, IsTheSameForTheSameKeyAndDiffersAcrossClientsAndHeights) {
  const Bytes rank_secret(32, 0x11);
  DpParams params;
  params.share_variance = 10000;
  const auto noisy = [&](std::uint32_t client, std::uint64_t height) {
    std::vector<std::int32_t> q(1000, 5);
    add_noise_share(q, params, 1 << 30, noise_key(rank_secret, 42, client, height));
    return q;
  };
  EXPECT_EQ(noisy(3, 7), noisy(3, 7));
  EXPECT_NE(noisy(3, 7), noisy(4, 7));
  EXPECT_NE(noisy(3, 7), noisy(3, 8));
  const Bytes other_rank(32, 0x12);
  std::vector<std::int32_t> q(1000, 5);
  add_noise_share(q, params, 1 << 30, noise_key(other_rank, 42, 3, 7));
  EXPECT_NE(q, noisy(3, 7));
}

// Chunks draw from streams of their own: the same bits on any thread count, and no chunk
// repeats another's noise.
TEST(NoiseShare, IsTheSameOnAnyThreadCountAndEachChunkDrawsItsOwn) {
  DpParams params;
  params.share_variance = 10000;
  const auto key = noise_key(Bytes(32, 0x21), 42, 3, 7);
  const auto noisy = [&](int threads) {
    std::vector<std::int32_t> q(3 * kNoiseChunk + 17, 0);
    add_noise_share(q, params, 1 << 30, key, threads);
    return q;
  };
  const auto one = noisy(1);
  for (const int threads : {2, 3, 8}) EXPECT_EQ(noisy(threads), one) << threads << " threads";
  EXPECT_FALSE(std::equal(one.begin(), one.begin() + kNoiseChunk, one.begin() + kNoiseChunk));
}

TEST(NoiseShare, SharesOfTenClientsSumToTheMechanismsVariance) {
  // Ten clients' shares of variance s2 / 10 add up to noise of variance s2 on the sum.
  constexpr std::int64_t kShare = 250000;
  DpParams params;
  params.share_variance = kShare;
  std::vector<std::int64_t> sum(50000, 0);
  for (std::uint32_t client = 0; client < 10; ++client) {
    std::vector<std::int32_t> q(sum.size(), 0);
    EXPECT_EQ(add_noise_share(q, params, 1 << 30, noise_key(Bytes(32, 1), 1, client, 1)), 0);
    for (std::size_t j = 0; j < q.size(); ++j) sum[j] += q[j];
  }
  expect_moments(10 * kShare, sum);
}

TEST(NoiseShare, CountsWhatTheClipBoundCuts) {
  DpParams params;
  params.share_variance = 1000000;
  std::vector<std::int32_t> q(1000, 0);
  const auto cut = add_noise_share(q, params, 10, noise_key(Bytes(32, 2), 1, 1, 1));
  EXPECT_GT(cut, 900);
  for (const auto v : q) EXPECT_LE(std::abs(v), 10);
}

TEST(DpParams, ShareVarianceAndRefusedBound) {
  PrivacySection privacy;
  privacy.clip = 1.0;
  privacy.noise_multiplier = 1.0;
  QuantizeParams quantize{10, 1 << 20};
  auto params = make_dp_params(privacy, 10, 100, quantize, 400);
  ASSERT_TRUE(params) << params.error().message;
  // sensitivity 1024 + sqrt(400) / 2 = 1034 units; 1034^2 / 10 = 106915.6 -> 106916.
  EXPECT_EQ(params->share_variance, 106916);
  EXPECT_DOUBLE_EQ(params->sampling_rate, 0.1);
  EXPECT_EQ(params->denominator, 10);
  auto all = make_dp_params(privacy, 100, 100, quantize, 400);
  ASSERT_TRUE(all);
  EXPECT_DOUBLE_EQ(all->sampling_rate, 1.0);
  auto cut = make_dp_params(privacy, 10, 100, QuantizeParams{10, 2048}, 400);
  ASSERT_FALSE(cut);
  EXPECT_EQ(cut.error().kind, ErrorKind::kConfig);
  EXPECT_NE(cut.error().message.find("aggregate.clip"), std::string::npos);
}

TEST(PrivateFedavg, DividesByTheFixedDenominatorWhateverTheCount) {
  const std::vector<std::int64_t> sum{30, -30, 15, 25};
  const std::vector<std::uint32_t> counted{2, 5, 9};
  auto result = private_fedavg_over_sum(sum, counted, 10);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->values, (std::vector<std::int32_t>{3, -3, 2, 2}));  // halves to even
  EXPECT_EQ(result->selected_ranks, (std::vector<std::int64_t>{2, 5, 9}));
}

}  // namespace
}  // namespace fedchain::aggregate
