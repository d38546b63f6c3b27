// The chain state's privacy record (chain_state.hpp, rule 5): the mechanism from genesis's
// job, one noised round per block, the voted epsilon the accountant's at every height, and
// all of it in the encoding the state hash covers.
#include <algorithm>
#include <iterator>

#include <gtest/gtest.h>

#include "fedchain/core/encoding.hpp"
#include "fedchain/ledger/chain_state.hpp"
#include "fedchain/ledger/dp_accountant.hpp"
#include "test_chain.hpp"

namespace fedchain::ledger {
namespace {

using testing::TestChain;
using testing::TestChainOptions;

TestChainOptions private_options(std::uint32_t validators, double noise_multiplier) {
  TestChainOptions o;
  o.validators = validators;
  o.clients = 8;
  o.per_round = 4;
  o.noise_multiplier = noise_multiplier;
  return o;
}

TEST(ChainStatePrivacy, EpsilonGrowsWithHeightAsTheAccountantSays) {
  TestChain chain(private_options(4, 1.0));
  ASSERT_TRUE(chain.state().privacy());
  const PrivacyRecord genesis = *chain.state().privacy();
  EXPECT_EQ(genesis.clip, 0.5);
  EXPECT_EQ(genesis.noise_multiplier, 1.0);
  EXPECT_EQ(genesis.delta, 1e-5);
  EXPECT_EQ(genesis.sampled_clients, 4u);
  EXPECT_EQ(genesis.clients, 8u);
  EXPECT_EQ(genesis.noised_rounds, 0u);
  EXPECT_EQ(genesis.epsilon_micro, 0u);
  const RdpAccountant accountant(sampling_rate(4, 8), 1.0);
  std::uint64_t previous = 0;
  for (std::uint64_t h = 1; h <= 6; ++h) {
    chain.add_block();
    const PrivacyRecord& record = *chain.state().privacy();
    EXPECT_EQ(record.noised_rounds, h);
    EXPECT_EQ(record.epsilon_micro, epsilon_micro(accountant.spent(h, 1e-5).epsilon)) << h;
    EXPECT_GT(record.epsilon_micro, previous) << h;
    previous = record.epsilon_micro;
  }
}

TEST(ChainStatePrivacy, TheRecordIsInTheHashedEncoding) {
  const TestChain plain(TestChainOptions{});
  EXPECT_FALSE(plain.state().privacy());
  EXPECT_EQ(plain.state().encode().front(), kChainStateVersionWithoutPrivacy);

  TestChain chain(private_options(4, 1.0));
  chain.add_block();
  const Bytes encoded = chain.state().encode();
  EXPECT_EQ(encoded.front(), kChainStateVersion);
  Writer w;
  w(*chain.state().privacy());
  const Bytes record = w.take();
  ASSERT_GT(encoded.size(), record.size());
  EXPECT_TRUE(std::equal(record.begin(), record.end(), encoded.end() - std::ssize(record)))
      << "the privacy record is not the encoding's tail";
}

// The record depends on the job, never on how many ranks run it: a one-rank chain and a
// four-rank chain of the same clients vote the same epsilon at every height.
TEST(ChainStatePrivacy, SameEpsilonOnOneAndManyRanks) {
  TestChain one(private_options(1, 0.8));
  TestChain four(private_options(4, 0.8));
  for (int h = 1; h <= 4; ++h) {
    one.add_block();
    four.add_block();
    EXPECT_EQ(*one.state().privacy(), *four.state().privacy()) << h;
  }
}

TEST(ChainStatePrivacy, NoNoiseIsUnbounded) {
  TestChain chain(private_options(2, 0.0));
  EXPECT_EQ(chain.state().privacy()->epsilon_micro, 0u);
  chain.add_block();
  EXPECT_EQ(chain.state().privacy()->epsilon_micro, kEpsilonMicroUnbounded);
}

}  // namespace
}  // namespace fedchain::ledger
