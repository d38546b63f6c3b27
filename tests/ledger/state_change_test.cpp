// What a block changed in the chain state: jailing by evidence and by rejection streaks,
// contributions, and the cohort and committee the next height gets, checked against what
// the blocks themselves record.
#include <gtest/gtest.h>

#include "fedchain/ledger/state_change.hpp"
#include "test_chain.hpp"

namespace fedchain::ledger {
namespace {

using testing::TempDir;
using testing::TestChain;

ChainStore stored(const TestChain& chain, const TempDir& dir) {
  chain.write(dir.path());
  auto store = ChainStore::open(dir.path(), OpenMode::kReadOnly);
  if (!store) throw std::runtime_error(store.error().message);
  return std::move(*store);
}

std::vector<std::uint32_t> tx_clients(const Block& block) {
  std::vector<std::uint32_t> clients;
  for (const auto& tx : block.txs()) clients.push_back(tx.client());
  return clients;
}

TEST(StateChange, EvidenceJailsAndRejectionsMoveTheStreak) {
  TestChain chain({.validators = 4, .jail_after_rejections = 2});
  chain.add_block();
  chain.add_block({.rejected_clients = {3}});
  chain.add_block({.rejected_clients = {3}, .evidence = {chain.make_evidence(2, 2)}});
  TempDir dir;
  const ChainStore store = stored(chain, dir);

  const StateChange second = state_change(state_at(store, 1), state_at(store, 2));
  ASSERT_EQ(second.validators.size(), 1u);
  EXPECT_EQ(second.validators[0].validator, 3u);
  EXPECT_EQ(second.validators[0].before.rejected_streak, 0u);
  EXPECT_EQ(second.validators[0].after.rejected_streak, 1u);
  EXPECT_FALSE(second.validators[0].after.jailed);
  ASSERT_EQ(second.contributions.size(), 4u);
  EXPECT_EQ(second.contributions[3].after.updates_rejected, 1u);
  EXPECT_EQ(second.contributions[0].after.updates_accepted, 2u);

  // Height 3: validator 2 by evidence, validator 3 by a second rejection in a row.
  const StateChange third = state_change(state_at(store, 2), state_at(store, 3));
  ASSERT_EQ(third.validators.size(), 2u);
  EXPECT_EQ(third.validators[0].validator, 2u);
  EXPECT_TRUE(third.validators[0].after.jailed);
  EXPECT_EQ(third.validators[1].validator, 3u);
  EXPECT_TRUE(third.validators[1].after.jailed);
  EXPECT_FALSE(third.validators[1].before.jailed);
  // Every client trains in every cohort here, and the committee is elected every 1,000.
  EXPECT_FALSE(third.cohort.has_value());
  EXPECT_FALSE(third.committee.has_value());
  EXPECT_EQ(state_at(store, 3).hash(), chain.state().hash());
  EXPECT_EQ(state_at(store, 0).hash(), ChainState::from_genesis(chain.genesis()).hash());
}

TEST(StateChange, TheNextCohortAndCommitteeAreTheOnesTheNextBlockRecords) {
  TestChain chain({.validators = 6, .clients = 12, .per_round = 3, .committee = 3, .epoch = 2});
  for (int h = 0; h < 4; ++h) chain.add_block();
  TempDir dir;
  const ChainStore store = stored(chain, dir);

  for (std::uint64_t h = 1; h < 4; ++h) {
    const StateChange change = state_change(state_at(store, h - 1), state_at(store, h));
    const Block& next = store.at(h + 1).block;
    if (change.cohort) {
      EXPECT_EQ(change.cohort->after, tx_clients(next)) << "height " << h;
    }
    if (h % 2 == 0) {
      // An epoch's last block elects the committee the next block lists.
      ASSERT_FALSE(next.header().committee.empty());
      const auto elected = state_at(store, h).committee();
      EXPECT_EQ(elected, next.header().committee);
      if (change.committee) {
        EXPECT_EQ(change.committee->after, elected);
      }
    } else {
      EXPECT_FALSE(change.committee.has_value()) << "height " << h;
    }
  }
  // 3 of 12 clients drawn from each new state root: over three heights it moves.
  int moved = 0;
  for (std::uint64_t h = 1; h < 4; ++h) {
    moved += state_change(state_at(store, h - 1), state_at(store, h)).cohort.has_value() ? 1 : 0;
  }
  EXPECT_GT(moved, 0);
}

}  // namespace
}  // namespace fedchain::ledger
