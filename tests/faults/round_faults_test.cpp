// The round's fault strategy: an attack changes only a listed rank's update (label_flip
// only its labels), alie pools
// through the injected collective on every rank, and the memory fault hits one rank at one
// height, never in a replayed round.
#include "fedchain/faults/round_faults.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace fedchain::faults {
namespace {

std::unique_ptr<RoundFaults> make(const FaultsSection& faults, std::int64_t rank, int& pools) {
  auto attack = aggregate::attack_config(faults, 42, 4);
  EXPECT_TRUE(attack);
  return make_round_faults(faults, *attack, rank, 4,
                           [&](bool colluding, std::span<const float> delta) {
                             ++pools;
                             std::vector<std::vector<float>> pooled;
                             if (colluding) pooled.emplace_back(delta.begin(), delta.end());
                             return Result<std::vector<std::vector<float>>>(pooled);
                           });
}

TEST(RoundFaults, AnAttackChangesOnlyAListedRanksUpdate) {
  FaultsSection faults;
  faults.byzantine = {3};
  faults.attack = "sign_flip";
  int pools = 0;
  std::vector<float> honest{1.0f, -2.0f};
  ASSERT_TRUE(make(faults, 1, pools)->on_update(1, honest));
  EXPECT_EQ(honest, (std::vector<float>{1.0f, -2.0f}));
  std::vector<float> attacked{1.0f, -2.0f};
  ASSERT_TRUE(make(faults, 3, pools)->on_update(1, attacked));
  EXPECT_EQ(attacked, (std::vector<float>{-1.0f, 2.0f}));
  EXPECT_EQ(pools, 0) << "only alie pools";
}

TEST(RoundFaults, LabelFlipChangesOnlyAListedRanksLabels) {
  FaultsSection faults;
  faults.byzantine = {3};
  faults.attack = "label_flip";
  int pools = 0;
  const std::vector<std::int32_t> labels{0, 4, 9};
  std::vector<std::int32_t> honest = labels;
  make(faults, 1, pools)->on_training_labels(honest, 10);
  EXPECT_EQ(honest, labels);
  std::vector<std::int32_t> flipped = labels;
  make(faults, 3, pools)->on_training_labels(flipped, 10);
  EXPECT_EQ(flipped, (std::vector<std::int32_t>{9, 5, 0}));
  std::vector<float> delta{1.0f, -2.0f};
  ASSERT_TRUE(make(faults, 3, pools)->on_update(1, delta));
  EXPECT_EQ(delta, (std::vector<float>{1.0f, -2.0f})) << "label_flip is data-side only";
}

TEST(RoundFaults, AlieEntersTheCollectiveOnEveryRank) {
  FaultsSection faults;
  faults.byzantine = {3};
  faults.attack = "alie";
  int pools = 0;
  std::vector<float> delta{1.0f, 2.0f};
  ASSERT_TRUE(make(faults, 0, pools)->on_update(1, delta));
  EXPECT_EQ(pools, 1) << "an honest rank must join the split";
}

TEST(RoundFaults, TheMemoryFaultHitsOneRankAtOneHeightAndNeverOnReplay) {
  FaultsSection faults;
  faults.flip_bit_rank = 2;
  faults.flip_bit_height = 5;
  int pools = 0;
  const std::vector<float> theta{1.0f, 2.0f};
  auto flipped = [&](std::int64_t rank, std::uint64_t height, bool replay) {
    std::vector<float> model = theta;
    make(faults, rank, pools)->on_new_model(height, model, replay);
    return model != theta;
  };
  EXPECT_TRUE(flipped(2, 5, false));
  EXPECT_FALSE(flipped(2, 5, true));
  EXPECT_FALSE(flipped(2, 4, false));
  EXPECT_FALSE(flipped(1, 5, false));
}

}  // namespace
}  // namespace fedchain::faults
