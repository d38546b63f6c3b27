// The committee: elected by stake from a block hash, recomputable, jailed validators never;
// only its members propose and certify; a new election at every epoch boundary.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "fedchain/crypto/sha256.hpp"
#include "fedchain/ledger/committee.hpp"
#include "fedchain/ledger/validation.hpp"
#include "test_chain.hpp"

namespace fedchain::ledger {
namespace {

using testing::NextBlock;
using testing::TestChain;
using testing::TestChainOptions;

Hash32 seed_hash(int i) {
  return crypto::sha256(as_bytes(fmt::format("block {}", i)));
}

TEST(Committee, AnElectionIsAscendingDistinctAndTheSameForTheSameHash) {
  const std::vector<std::uint64_t> stakes(10, 1);
  const auto committee = elect_committee(stakes, 4, seed_hash(1));
  ASSERT_EQ(committee.size(), 4u);
  EXPECT_TRUE(std::is_sorted(committee.begin(), committee.end()));
  EXPECT_EQ(std::adjacent_find(committee.begin(), committee.end()), committee.end());
  EXPECT_EQ(elect_committee(stakes, 4, seed_hash(1)), committee);
  bool another = false;
  for (int i = 2; i < 10; ++i) another |= elect_committee(stakes, 4, seed_hash(i)) != committee;
  EXPECT_TRUE(another) << "the block hash seeds the draw";
}

// Over many elections, a validator with 3 times the stake sits on a one-seat committee 3
// times as often; stake 0 (or jailed, passed as 0) never.
TEST(Committee, StakeIsTheChanceOfElection) {
  const std::vector<std::uint64_t> stakes = {3, 1, 0, 2};
  std::map<std::uint32_t, int> seats;
  constexpr int kElections = 6000;
  for (int i = 0; i < kElections; ++i) seats[elect_committee(stakes, 1, seed_hash(i)).at(0)] += 1;
  EXPECT_EQ(seats.count(2), 0u);
  EXPECT_NEAR(seats[0] / double(kElections), 0.5, 0.03);
  EXPECT_NEAR(seats[1] / double(kElections), 1.0 / 6, 0.03);
  EXPECT_NEAR(seats[3] / double(kElections), 1.0 / 3, 0.03);
  EXPECT_EQ(elect_committee(stakes, 4, seed_hash(0)), (std::vector<std::uint32_t>{0, 1, 3}))
      << "fewer seats than asked when fewer validators hold stake";
}

TEST(Committee, TheHashNamesTheMembers) {
  EXPECT_EQ(committee_hash(std::vector<std::uint32_t>{1, 2}),
            committee_hash(std::vector<std::uint32_t>{1, 2}));
  EXPECT_NE(committee_hash(std::vector<std::uint32_t>{1, 2}),
            committee_hash(std::vector<std::uint32_t>{1, 3}));
  EXPECT_NE(committee_hash(std::vector<std::uint32_t>{1}),
            committee_hash(std::vector<std::uint32_t>{1, 0}));
}

// 8 validators, a committee of 3, elections every 2 heights: each epoch's committee is the
// election from the last block of the one before, and its first block lists it.
TEST(Committee, EachEpochElectsFromThePreviousEpochsLastBlock) {
  TestChain chain(TestChainOptions{.validators = 8, .committee = 3, .epoch = 2});
  EXPECT_EQ(chain.state().committee(),
            elect_committee(std::vector<std::uint64_t>(8, 1), 3, chain.genesis().hash()));
  bool changed = false;
  for (int i = 0; i < 6; ++i) {
    const std::vector<std::uint32_t> before = chain.state().committee();
    const auto& stored = chain.add_block();
    const std::uint64_t h = stored.block.height();
    EXPECT_EQ(stored.block.header().committee_hash, committee_hash(before));
    EXPECT_EQ(stored.block.header().committee.size(), h % 2 == 1 ? 3u : 0u) << "height " << h;
    if (h % 2 == 0) {
      EXPECT_EQ(chain.state().committee(),
                elect_committee(std::vector<std::uint64_t>(8, 1), 3, stored.block.hash()));
      changed |= chain.state().committee() != before;
    } else {
      EXPECT_EQ(chain.state().committee(), before) << "no election inside an epoch";
    }
  }
  EXPECT_TRUE(changed);
  ChainState replayed = ChainState::from_genesis(chain.genesis());
  for (const auto& b : chain.blocks()) {
    ASSERT_TRUE(validate_commit(b.block, b.certificate, chain.genesis(), replayed));
    replayed = replayed.apply(b.block);
  }
  EXPECT_EQ(replayed, chain.state());
}

TEST(Committee, OnlyMembersProposeAndCertify) {
  TestChain chain(TestChainOptions{.validators = 6, .committee = 3, .epoch = 100});
  const auto& committee = chain.state().committee();
  std::uint32_t outsider = 0;
  while (std::binary_search(committee.begin(), committee.end(), outsider)) ++outsider;
  const Block block = chain.make_block();
  EXPECT_TRUE(
      validate_commit(block, chain.certify(block, 0, committee), chain.genesis(), chain.state()));

  // Two members and an outsider: power 2 of the committee's 3 is not more than 2/3.
  std::vector<std::uint32_t> with_outsider = {committee[0], committee[1], outsider};
  std::sort(with_outsider.begin(), with_outsider.end());
  auto refused = validate_certificate(chain.certify(block, 0, with_outsider), block,
                                      chain.genesis(), chain.state());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "inactive-signer");

  BlockBuilder by_outsider;
  by_outsider.header = block.header();
  by_outsider.header.proposer = outsider;
  by_outsider.txs = block.txs();
  auto wrong_proposer = validate_block(by_outsider.build(), chain.genesis(), chain.state());
  ASSERT_FALSE(wrong_proposer);
  EXPECT_EQ(wrong_proposer.error().code, "bad-proposer");
}

// A member jailed by evidence loses its power at once and is not elected again.
TEST(Committee, AJailedMemberIsNeverElectedAgain) {
  TestChain chain(TestChainOptions{.validators = 4, .committee = 3, .epoch = 2});
  const std::uint32_t cheat = chain.state().committee().front();
  chain.add_block(NextBlock{.evidence = {chain.make_evidence(cheat, 1)}});
  EXPECT_FALSE(chain.state().can_vote(cheat));
  for (int i = 0; i < 8; ++i) {
    chain.add_block();
    const auto& committee = chain.state().committee();
    EXPECT_FALSE(std::binary_search(committee.begin(), committee.end(), cheat));
    EXPECT_EQ(committee.size(), 3u) << "the three others";
  }
}

}  // namespace
}  // namespace fedchain::ledger
