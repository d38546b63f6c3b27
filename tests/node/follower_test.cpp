// A follower's way to a committed block (ChainParticipant::accept_certified): it takes a
// block certified by more than 2/3 of the committee's power and nothing else, whoever
// sends it, and a refused record leaves its chain state as it was.
#include <gtest/gtest.h>

#include <algorithm>

#include "chain.hpp"
#include "fedchain/consensus/chain_validators.hpp"
#include "fedchain/ledger/chain_store.hpp"
#include "test_chain.hpp"

namespace fedchain::node {
namespace {

using ledger::testing::TestChain;
using ledger::testing::TestChainOptions;

// 6 validators, a committee of 4; the follower is a validator off the committee.
class FollowerTest : public ::testing::Test {
 protected:
  // Blocks proposed in consensus's rotation, which the follower checks.
  FollowerTest()
      : chain_(TestChainOptions{.validators = 6,
                                .committee = 4,
                                .epoch = 100,
                                .proposer_rule = consensus::proposer_of}) {
    const auto& committee = chain_.state().committee();
    while (std::binary_search(committee.begin(), committee.end(), follower_)) ++follower_;
  }
  ChainParticipant participant() const {
    return ChainParticipant(chain_.genesis(), chain_.state(), std::nullopt, follower_);
  }
  Bytes record(const ledger::Block& block, const std::vector<std::uint32_t>& signers) const {
    return ledger::encode_block_record(block, chain_.certify(block, 0, signers));
  }

  TestChain chain_;
  std::uint32_t follower_ = 0;
};

TEST_F(FollowerTest, AcceptsABlockTheCommitteeCertified) {
  ChainParticipant p = participant();
  const ledger::Block block = chain_.make_block();
  const Status accepted = p.accept_certified(record(block, chain_.state().committee()));
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_EQ(p.state().height(), 1u);
  ASSERT_TRUE(p.committed());
  EXPECT_EQ(p.committed()->hash(), block.hash());
  EXPECT_EQ(p.certificate_signatures_checked(), 4u);
}

TEST_F(FollowerTest, RefusesWhatTheCommitteeDidNotCertifyAndKeepsItsState) {
  ChainParticipant p = participant();
  const auto& committee = chain_.state().committee();
  const ledger::Block block = chain_.make_block();
  const Hash32 before = p.state().hash();

  // Two of four members: not more than 2/3 of the committee's power.
  EXPECT_EQ(p.accept_certified(record(block, {committee[0], committee[1]})).error().code,
            "no-quorum");
  // Signed by ranks off the committee.
  std::vector<std::uint32_t> outsiders;
  for (std::uint32_t v = 0; v < 6; ++v) {
    if (!std::binary_search(committee.begin(), committee.end(), v)) outsiders.push_back(v);
  }
  EXPECT_EQ(p.accept_certified(record(block, outsiders)).error().code, "inactive-signer");
  // A certificate of another block.
  ledger::BlockBuilder other;
  other.header = block.header();
  other.header.time_ms += 1;
  other.txs = block.txs();
  const Bytes mixed =
      ledger::encode_block_record(block, chain_.certify(other.build(), 0, committee));
  EXPECT_FALSE(p.accept_certified(mixed));
  // Bytes that are no record at all.
  EXPECT_FALSE(p.accept_certified(Bytes{1, 2, 3}));
  EXPECT_FALSE(p.accept_certified(Bytes{}));

  EXPECT_EQ(p.state().hash(), before) << "nothing refused is applied";
  EXPECT_FALSE(p.committed());
  EXPECT_TRUE(p.accept_certified(record(block, committee))) << "the good one still goes in";
}

}  // namespace
}  // namespace fedchain::node
