// Proposal and envelope encoding: round trips, every field signed, hostile bytes refused.
#include <gtest/gtest.h>

#include <random>

#include "fedchain/consensus/messages.hpp"

namespace fedchain::consensus {
namespace {

Proposal sample_proposal() {
  Proposal p;
  p.chain_id.bytes[0] = 3;
  p.height = 9;
  p.round = 4;
  p.pol_round = 2;
  p.block_hash.bytes[7] = 5;
  p.block = {1, 2, 3, 4, 5};
  p.proposer = 6;
  p.signature.bytes[0] = 8;
  return p;
}

TEST(Proposal, RoundTripsWithAndWithoutPolRound) {
  Proposal p = sample_proposal();
  auto decoded = Proposal::decode(p.encode());
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, p);
  p.pol_round.reset();
  auto fresh = Proposal::decode(p.encode());
  ASSERT_TRUE(fresh);
  EXPECT_FALSE(fresh->pol_round);
}

TEST(Proposal, SignBytesCoverEveryHeaderField) {
  const Proposal base = sample_proposal();
  const Bytes signed_bytes = base.sign_bytes();
  auto changed = [&](auto mutate) {
    Proposal p = base;
    mutate(p);
    return p.sign_bytes() != signed_bytes;
  };
  EXPECT_TRUE(changed([](Proposal& p) { p.chain_id.bytes[1] = 1; }));
  EXPECT_TRUE(changed([](Proposal& p) { p.height++; }));
  EXPECT_TRUE(changed([](Proposal& p) { p.round++; }));
  EXPECT_TRUE(changed([](Proposal& p) { p.pol_round.reset(); }));
  EXPECT_TRUE(changed([](Proposal& p) { p.block_hash.bytes[0] = 9; }));
  EXPECT_TRUE(changed([](Proposal& p) { p.proposer++; }));
  EXPECT_FALSE(changed([](Proposal& p) { p.signature.bytes[5] = 1; }));
}

TEST(Proposal, RefusesPolRoundNotBelowRound) {
  Proposal p = sample_proposal();
  p.pol_round = p.round;
  auto decoded = Proposal::decode(p.encode());
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, "bad-pol-round");
}

TEST(Proposal, RefusesOversizedBlock) {
  const Proposal p = sample_proposal();
  auto decoded = Proposal::decode(p.encode(), 4);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, "oversized-length");
}

TEST(Message, EnvelopeRoundTripsBothKinds) {
  const Message proposal = sample_proposal();
  ledger::Vote vote;
  vote.height = 2;
  vote.block_hash = Hash32{};
  const Message as_vote = vote;
  for (const Message& m : {proposal, as_vote}) {
    auto decoded = decode_message(encode_message(m));
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(*decoded, m);
  }
  EXPECT_EQ(decode_message(Bytes{}).error().code, "truncated");
  EXPECT_EQ(decode_message(Bytes{9, 1, 2}).error().code, "unknown-message");
}

TEST(Message, EveryPrefixAndRandomBytesAreRefusedWithoutThrowing) {
  const Bytes full = encode_message(sample_proposal());
  for (std::size_t n = 0; n < full.size(); ++n) {
    EXPECT_FALSE(decode_message(ByteView(full.data(), n))) << "prefix of " << n << " bytes";
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    Bytes junk(rng() % 200);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    if (!junk.empty()) junk[0] = static_cast<std::uint8_t>(1 + rng() % 2);
    (void)decode_message(junk);  // must return, whatever it says
  }
}

}  // namespace
}  // namespace fedchain::consensus
