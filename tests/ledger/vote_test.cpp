#include <gtest/gtest.h>

#include "fedchain/ledger/vote.hpp"

namespace fedchain::ledger {
namespace {

Vote sample_vote() {
  Vote v;
  v.chain_id.bytes[0] = 7;
  v.height = 12;
  v.round = 3;
  v.type = VoteType::kPrecommit;
  Hash32 block;
  block.bytes[5] = 9;
  v.block_hash = block;
  v.validator = 2;
  v.signature.bytes[63] = 1;
  return v;
}

TEST(Vote, EncodingRoundTripsForBlockAndNil) {
  Vote v = sample_vote();
  auto decoded = Vote::decode(v.encode());
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, v);
  v.block_hash.reset();
  auto nil = Vote::decode(v.encode());
  ASSERT_TRUE(nil);
  EXPECT_FALSE(nil->block_hash);
}

TEST(Vote, SignBytesCoverEveryFieldButTheSignature) {
  const Vote base = sample_vote();
  const Bytes signed_bytes = base.sign_bytes();
  auto changed = [&](auto mutate) {
    Vote v = base;
    mutate(v);
    return v.sign_bytes() != signed_bytes;
  };
  EXPECT_TRUE(changed([](Vote& v) { v.chain_id.bytes[1] ^= 1; }));
  EXPECT_TRUE(changed([](Vote& v) { v.height++; }));
  EXPECT_TRUE(changed([](Vote& v) { v.round++; }));
  EXPECT_TRUE(changed([](Vote& v) { v.type = VoteType::kPrevote; }));
  EXPECT_TRUE(changed([](Vote& v) { v.block_hash.reset(); }));
  EXPECT_TRUE(changed([](Vote& v) { v.validator++; }));
  EXPECT_FALSE(changed([](Vote& v) { v.signature.bytes[0] ^= 1; }));
}

TEST(Vote, DecodeRefusesBadTypeTrailingBytesAndNonCanonicalNil) {
  Bytes bytes = sample_vote().encode();
  Bytes bad_type = bytes;
  bad_type[1 + 32 + 8 + 4] = 3;
  EXPECT_EQ(Vote::decode(bad_type).error().code, "bad-vote-type");
  Bytes trailing = bytes;
  trailing.push_back(0);
  EXPECT_EQ(Vote::decode(trailing).error().code, "trailing-bytes");
  Bytes nil_with_hash = bytes;
  nil_with_hash[1 + 32 + 8 + 4 + 1] = 0;
  EXPECT_EQ(Vote::decode(nil_with_hash).error().code, "non-canonical");
}

TEST(Vote, ConflictMeansSameSlotDifferentBlock) {
  const Vote a = sample_vote();
  Vote b = a;
  EXPECT_FALSE(a.conflicts_with(b));
  b.block_hash.reset();
  EXPECT_TRUE(a.conflicts_with(b));
  b.round++;
  EXPECT_FALSE(a.conflicts_with(b));
}

}  // namespace
}  // namespace fedchain::ledger
