// The round's fault strategy: an attack changes only a listed client's update (label_flip
// only its samples' labels), alie pools
// through the injected collective on every rank, and the memory fault hits one rank at one
// height, never in a replayed round.
#include "fedchain/faults/round_faults.hpp"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace fedchain::faults {
namespace {

std::unique_ptr<RoundFaults> make(const FaultsSection& faults, std::int64_t rank, int& pools) {
  auto attack = aggregate::attack_config(faults, 42, 4);
  EXPECT_TRUE(attack);
  return make_round_faults(
      faults, *attack, rank,
      [&](std::span<const std::span<const float>> mine, std::size_t, std::size_t) {
        ++pools;
        std::vector<std::vector<float>> pooled;
        for (const auto& delta : mine) pooled.emplace_back(delta.begin(), delta.end());
        return Result<std::vector<std::vector<float>>>(pooled);
      });
}

// One hosted client's delta through on_updates, in a cohort of 4.
Status on_update(RoundFaults& faults, std::uint32_t client, std::vector<float>& delta) {
  ClientDelta member{client, delta};
  return faults.on_updates(1, std::span<ClientDelta>(&member, 1), 4);
}

TEST(RoundFaults, AnAttackChangesOnlyAListedClientsUpdate) {
  FaultsSection faults;
  faults.byzantine = {3};
  faults.attack = "sign_flip";
  int pools = 0;
  std::vector<float> honest{1.0f, -2.0f};
  ASSERT_TRUE(on_update(*make(faults, 0, pools), 1, honest));
  EXPECT_EQ(honest, (std::vector<float>{1.0f, -2.0f}));
  std::vector<float> attacked{1.0f, -2.0f};
  ASSERT_TRUE(on_update(*make(faults, 0, pools), 3, attacked));
  EXPECT_EQ(attacked, (std::vector<float>{-1.0f, 2.0f}));
  EXPECT_EQ(pools, 0) << "only alie pools";
}

TEST(RoundFaults, LabelFlipChangesOnlyAListedClientsLabels) {
  FaultsSection faults;
  faults.byzantine = {3};
  faults.attack = "label_flip";
  int pools = 0;
  std::vector<std::int32_t> labels{0, 4, 9, 2};
  // This rank hosts client 1 (samples 0, 1) and client 3 (samples 2, 3).
  const std::map<std::uint32_t, std::vector<std::int64_t>> hosted{{1, {0, 1}}, {3, {2, 3}}};
  make(faults, 1, pools)->on_training_labels(labels, 10, hosted);
  EXPECT_EQ(labels, (std::vector<std::int32_t>{0, 4, 0, 7})) << "only client 3's samples";
  std::vector<float> delta{1.0f, -2.0f};
  ASSERT_TRUE(on_update(*make(faults, 1, pools), 3, delta));
  EXPECT_EQ(delta, (std::vector<float>{1.0f, -2.0f})) << "label_flip is data-side only";
}

TEST(RoundFaults, AlieEntersTheCollectiveOnEveryRank) {
  FaultsSection faults;
  faults.byzantine = {3};
  faults.attack = "alie";
  int pools = 0;
  std::vector<float> delta{1.0f, 2.0f};
  ASSERT_TRUE(on_update(*make(faults, 0, pools), 0, delta));
  EXPECT_EQ(pools, 1) << "a rank hosting no attacker must join the pool";
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
