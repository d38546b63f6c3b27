// Quorum arithmetic and weighted proposer rotation.
#include <gtest/gtest.h>

#include <map>

#include "fedchain/consensus/validator_set.hpp"

namespace fedchain::consensus {
namespace {

TEST(ValidatorSet, QuorumIsStrictlyMoreThanTwoThirds) {
  const ValidatorSet set = ValidatorSet::equal(4);
  EXPECT_FALSE(set.is_quorum(2));
  EXPECT_TRUE(set.is_quorum(3));
  EXPECT_FALSE(set.exceeds_one_third(1));
  EXPECT_TRUE(set.exceeds_one_third(2));
}

TEST(ValidatorSet, RefusesEmptyOrPowerless) {
  EXPECT_FALSE(ValidatorSet::make({}));
  EXPECT_FALSE(ValidatorSet::make({{1, true}, {0, false}}));
}

TEST(ValidatorSet, ProposersFollowPowerAndSkipJailed) {
  auto set = ValidatorSet::make({{3, false}, {1, false}, {5, true}, {2, false}});
  ASSERT_TRUE(set);
  std::map<std::uint32_t, int> turns;
  for (std::uint64_t h = 0; h < 60; ++h) turns[set->proposer(h, 0)]++;  // 10 periods of 6
  EXPECT_EQ(turns[0], 30);
  EXPECT_EQ(turns[1], 10);
  EXPECT_EQ(turns[2], 0);
  EXPECT_EQ(turns[3], 20);
}

TEST(ValidatorSet, EqualPowerVisitsEveryoneOncePerPeriod) {
  for (std::uint32_t n : {4u, 7u, 10u, 13u}) {
    const ValidatorSet set = ValidatorSet::equal(n);
    std::map<std::uint32_t, int> turns;
    for (std::uint32_t r = 0; r < n; ++r) turns[set.proposer(5, r)]++;
    EXPECT_EQ(turns.size(), n);
  }
}

}  // namespace
}  // namespace fedchain::consensus
