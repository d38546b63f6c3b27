// Each attack does what docs/aggregation.md says, only on Byzantine ranks, and the random
// ones replay bit for bit from (seed, rank, height).
#include <cmath>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "fedchain/aggregate/attacks.hpp"

namespace fedchain::aggregate {
namespace {

AttackConfig config_with(Attack attack) {
  AttackConfig config;
  config.attack = attack;
  config.byzantine = {1, 3};
  config.seed = 42;
  return config;
}

AttackContext at(std::int64_t rank, std::int64_t height = 0,
                 std::span<const std::span<const float>> colluders = {}) {
  AttackContext context;
  context.rank = rank;
  context.height = height;
  context.ranks = 8;
  context.colluders = colluders;
  return context;
}

TEST(Attacks, SignFlipScalingAndZeroTransformTheDelta) {
  std::vector<float> delta{1.0f, -2.0f, 0.5f};
  auto config = config_with(Attack::kSignFlip);
  config.sign_flip_scale = 2.0;
  ASSERT_TRUE(apply_attack(config, at(1), delta));
  EXPECT_EQ(delta, (std::vector<float>{-2.0f, 4.0f, -1.0f}));
  config = config_with(Attack::kScaling);
  config.scaling_factor = 10.0;
  ASSERT_TRUE(apply_attack(config, at(3), delta));
  EXPECT_EQ(delta, (std::vector<float>{-20.0f, 40.0f, -10.0f}));
  ASSERT_TRUE(apply_attack(config_with(Attack::kZero), at(1), delta));
  EXPECT_EQ(delta, (std::vector<float>{0.0f, 0.0f, 0.0f}));
}

TEST(Attacks, HonestRanksAndLabelFlipLeaveTheDeltaAlone) {
  const std::vector<float> original{1.0f, -2.0f, 0.5f};
  for (Attack attack : {Attack::kSignFlip, Attack::kGaussian, Attack::kScaling, Attack::kZero}) {
    auto delta = original;
    ASSERT_TRUE(apply_attack(config_with(attack), at(2), delta));
    EXPECT_EQ(delta, original);
  }
  auto delta = original;
  ASSERT_TRUE(apply_attack(config_with(Attack::kLabelFlip), at(1), delta));
  EXPECT_EQ(delta, original);
}

// attacks_update says where apply_attack changes a delta (the round skips the float delta
// elsewhere): every update attack on a Byzantine rank, never an honest rank, none or
// label_flip.
TEST(Attacks, AttacksUpdateIsWhereApplyAttackChangesTheDelta) {
  for (Attack attack :
       {Attack::kSignFlip, Attack::kGaussian, Attack::kScaling, Attack::kZero, Attack::kAlie}) {
    EXPECT_TRUE(attacks_update(config_with(attack), 1));
    EXPECT_FALSE(attacks_update(config_with(attack), 2));
  }
  EXPECT_FALSE(attacks_update(config_with(Attack::kNone), 1));
  EXPECT_FALSE(attacks_update(config_with(Attack::kLabelFlip), 1));
}

TEST(Attacks, LabelFlipMapsYToNineMinusY) {
  for (int y = 0; y < 10; ++y) EXPECT_EQ(flip_label(y), 9 - y);
  EXPECT_EQ(flip_label(flip_label(4)), 4);
  EXPECT_EQ(flip_label(0, 2), 1);
}

TEST(Attacks, GaussianNoiseReplaysFromSeedRankAndHeight) {
  auto config = config_with(Attack::kGaussian);
  config.gaussian_sigma = 0.5;
  std::vector<float> a(100000, 1.0f), b(100000, 7.0f), c(100000), d(100000);
  ASSERT_TRUE(apply_attack(config, at(1, 5), a));
  ASSERT_TRUE(apply_attack(config, at(1, 5), b));
  ASSERT_TRUE(apply_attack(config, at(3, 5), c));
  ASSERT_TRUE(apply_attack(config, at(1, 6), d));
  EXPECT_EQ(a, b);  // the honest delta does not matter, the stream does
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  const double mean = std::accumulate(a.begin(), a.end(), 0.0) / a.size();
  double squares = 0.0;
  for (float value : a) squares += (value - mean) * (value - mean);
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(std::sqrt(squares / a.size()), 0.5, 0.01);
}

// NormalGenerator(1).next(), as computed on x86-64 with GCC; any IEEE-754 machine agrees.
constexpr double kPinnedFirstNormal = -0.039399956754155308;

TEST(Attacks, NormalGeneratorIsStandardNormalAndPinned) {
  NormalGenerator normal(1);
  std::vector<double> samples(200000);
  for (auto& sample : samples) sample = normal.next();
  const double mean = std::accumulate(samples.begin(), samples.end(), 0.0) / samples.size();
  double squares = 0.0, beyond_two = 0.0;
  for (double sample : samples) {
    squares += (sample - mean) * (sample - mean);
    beyond_two += std::abs(sample) > 1.959963985 ? 1.0 : 0.0;
  }
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(squares / samples.size(), 1.0, 0.01);
  EXPECT_NEAR(beyond_two / samples.size(), 0.05, 0.003);
  // The first sample depends only on mt19937_64's fixed output and +, -, *, /, sqrt:
  // pinned, so a platform that differs is caught.
  NormalGenerator again(1);
  const double first = again.next();
  EXPECT_EQ(first, samples[0]);
  EXPECT_EQ(first, kPinnedFirstNormal);
}

TEST(Attacks, InverseNormalCdfMatchesKnownQuantiles) {
  EXPECT_NEAR(inverse_normal_cdf(0.5), 0.0, 1e-12);
  EXPECT_NEAR(inverse_normal_cdf(0.975), 1.959963984540054, 1e-8);
  EXPECT_NEAR(inverse_normal_cdf(0.025), -1.959963984540054, 1e-8);
  EXPECT_NEAR(inverse_normal_cdf(0.001), -3.090232306167813, 1e-8);
  EXPECT_NEAR(inverse_normal_cdf(0.625), 0.318639363964375, 1e-8);
}

TEST(Attacks, AlieSendsMeanMinusZStd) {
  const std::vector<float> r0{1.0f, 0.0f, 5.0f}, r1{3.0f, 0.0f, 5.0f};
  const std::vector<std::span<const float>> colluders{r0, r1};
  auto config = config_with(Attack::kAlie);
  config.alie_z = 1.5;
  std::vector<float> delta(3);
  ASSERT_TRUE(apply_attack(config, at(1, 0, colluders), delta));
  // mean 2, std 1 -> 2 - 1.5; mean 0, std 0; mean 5, std 0
  EXPECT_EQ(delta, (std::vector<float>{0.5f, 0.0f, 5.0f}));
}

TEST(Attacks, AlieZMaxFollowsBaruchEtAl) {
  // n = 8, f = 2: s = floor(8/2 + 1) - 2 = 3, z = Phi^-1(5/8).
  auto z = alie_z_max(8, 2);
  ASSERT_TRUE(z);
  EXPECT_NEAR(*z, 0.318639363964375, 1e-8);
  // n = 50, f = 12 (the paper's setting): s = 14, z = Phi^-1(36/50) ~ 0.58.
  EXPECT_NEAR(*alie_z_max(50, 12), 0.582841507271216, 1e-8);
  EXPECT_FALSE(alie_z_max(4, 3));
  auto config = config_with(Attack::kAlie);  // alie_z = 0: computed from n and f = 2
  const std::vector<float> r0{1.0f}, r1{3.0f};
  const std::vector<std::span<const float>> colluders{r0, r1};
  std::vector<float> delta(1);
  ASSERT_TRUE(apply_attack(config, at(1, 0, colluders), delta));
  EXPECT_FLOAT_EQ(delta[0], static_cast<float>(2.0 - *z));
  EXPECT_FALSE(apply_attack(config, at(1), delta));  // no colluders
}

TEST(Attacks, EveryNameParsesToItsAttack) {
  FaultsSection faults;
  for (std::size_t i = 0; i < kAttackNames.size(); ++i) {
    faults.attack = std::string(kAttackNames[i]);
    auto config = attack_config(faults, 42, 4);
    ASSERT_TRUE(config) << kAttackNames[i];
    EXPECT_EQ(config->attack, static_cast<Attack>(i)) << kAttackNames[i];
  }
  faults.attack = "flip";
  auto unknown = attack_config(faults, 42, 4);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("label_flip"), std::string::npos);
}

TEST(Attacks, ConfigRefusesRepeatedAndUnknownRanks) {
  FaultsSection faults;
  faults.attack = "sign_flip";
  faults.byzantine = {3, 1};
  auto config = attack_config(faults, 42, 4);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->byzantine, (std::vector<std::int64_t>{1, 3}));
  EXPECT_TRUE(is_byzantine(*config, 3));
  EXPECT_FALSE(is_byzantine(*config, 2));
  faults.byzantine = {1, 1};
  auto twice = attack_config(faults, 42, 4);
  ASSERT_FALSE(twice);
  EXPECT_NE(twice.error().message.find("faults.byzantine"), std::string::npos);
  faults.byzantine = {4};
  EXPECT_FALSE(attack_config(faults, 42, 4));
  EXPECT_TRUE(attack_config(faults, 42, 0));  // rank count not known yet
  faults.attack = "flip";
  EXPECT_NE(attack_config(faults, 42, 4).error().message.find("faults.attack"), std::string::npos);
}

}  // namespace
}  // namespace fedchain::aggregate
