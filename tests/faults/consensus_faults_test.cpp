// The faults module on its own: the behaviour names come from the one list, the ledger
// block edits re-derive what votes name, and the factory gives filters only to listed
// ranks. What each behaviour does to a vote is tested where it runs: the simulator matrix
// (tests/consensus) and the MPI ranks (tests/net).
#include "fedchain/faults/consensus_faults.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "fedchain/crypto/ed25519.hpp"
#include "fedchain/ledger/block.hpp"

namespace fedchain::faults {
namespace {

TEST(ConsensusFaultNames, EveryNameParsesToItsBehaviourAndBack) {
  for (std::size_t i = 0; i < kConsensusFaultNames.size(); ++i) {
    auto fault = parse_consensus_fault(kConsensusFaultNames[i]);
    ASSERT_TRUE(fault) << kConsensusFaultNames[i];
    EXPECT_EQ(static_cast<std::size_t>(*fault), i);
    EXPECT_EQ(consensus_fault_name(*fault), kConsensusFaultNames[i]);
  }
  auto unknown = parse_consensus_fault("lie");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("forge_signatures"), std::string::npos);
}

ledger::Block sample_block() {
  ledger::BlockBuilder builder;
  builder.header.height = 3;
  builder.header.proposer = 1;
  builder.header.time_ms = 1000;
  return builder.build();
}

TEST(LedgerBlocks, ATwinIsOneMillisecondLaterAndHashedAsVotesNameIt) {
  const ledger::Block block = sample_block();
  auto twin = ledger_blocks().twin(block.encode());
  ASSERT_TRUE(twin);
  auto decoded = ledger::Block::decode(twin->bytes);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->header().time_ms, 1001u);
  EXPECT_EQ(decoded->hash(), twin->hash);
  EXPECT_NE(twin->hash, block.hash());
}

TEST(LedgerBlocks, AnotherStateRootIsRehashed) {
  const ledger::Block block = sample_block();
  Hash32 root;
  root.bytes[0] = 7;
  auto bad = ledger_blocks().with_state_root(block.encode(), root);
  ASSERT_TRUE(bad);
  auto decoded = ledger::Block::decode(bad->bytes);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->header().state_root, root);
  EXPECT_EQ(decoded->hash(), bad->hash);
  EXPECT_EQ(ledger_blocks().hash(bad->bytes), bad->hash);
}

TEST(LedgerBlocks, WhatDoesNotDecodeIsLeftAlone) {
  const Bytes junk{1, 2, 3};
  EXPECT_FALSE(ledger_blocks().twin(junk));
  EXPECT_FALSE(ledger_blocks().with_state_root(junk, Hash32{}));
  EXPECT_FALSE(ledger_blocks().hash(junk));
}

TEST(MakeByzantineFilter, OnlyListedRanksWithABehaviourGetAFilter) {
  FaultsSection faults;
  faults.byzantine = {2};
  faults.consensus = "silent";
  auto unlisted = make_byzantine_filter(faults, 1, 4, crypto::derive_rank_key(1, 1), 1);
  ASSERT_TRUE(unlisted);
  EXPECT_EQ(*unlisted, nullptr);
  auto listed = make_byzantine_filter(faults, 2, 4, crypto::derive_rank_key(1, 2), 1);
  ASSERT_TRUE(listed);
  ASSERT_NE(*listed, nullptr);
  int sent = 0;
  (*listed)->on_send(std::nullopt, ledger::Vote{}, [&](auto, const auto&) { ++sent; });
  EXPECT_EQ(sent, 0) << "a silent rank sends nothing";

  faults.consensus = "none";
  auto none = make_byzantine_filter(faults, 2, 4, crypto::derive_rank_key(1, 2), 1);
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, nullptr);
}

}  // namespace
}  // namespace fedchain::faults
