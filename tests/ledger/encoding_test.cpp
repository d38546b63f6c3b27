// Canonical encodings of the ledger types: round trips, and refusal of truncated,
// trailing, oversized and unknown-version input with typed codes.
#include <gtest/gtest.h>

#include "fedchain/core/encoding.hpp"
#include "fedchain/ledger/block.hpp"
#include "fedchain/ledger/chain_store.hpp"
#include "fedchain/ledger/crc32c.hpp"
#include "test_chain.hpp"

namespace fedchain::ledger {
namespace {

template <typename T>
void expect_round_trip(const Bytes& bytes) {
  auto decoded = T::decode(bytes);
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->encode(), bytes);
}

// Every strict prefix is refused, one trailing byte is refused, a bumped version is refused.
template <typename T>
void expect_strict(const Bytes& bytes) {
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto cut = T::decode(ByteView(bytes.data(), n));
    ASSERT_FALSE(cut) << "prefix of " << n << " bytes decoded";
  }
  Bytes longer = bytes;
  longer.push_back(0);
  auto trailing = T::decode(longer);
  ASSERT_FALSE(trailing);
  EXPECT_EQ(trailing.error().code, "trailing-bytes");
  Bytes version = bytes;
  version[0] = 99;
  auto unknown = T::decode(version);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "unknown-version");
}

class LedgerEncoding : public ::testing::Test {
 protected:
  LedgerEncoding() {
    chain.add_block();
    chain.add_block({.rejected_ranks = {1}, .evidence = {chain.make_evidence(2, 1)}});
  }
  testing::TestChain chain;
};

TEST_F(LedgerEncoding, EveryTypeRoundTrips) {
  const auto& stored = chain.blocks()[1];
  expect_round_trip<Tx>(stored.block.txs()[0].encode());
  expect_round_trip<Evidence>(stored.block.evidence()[0].encode());
  expect_round_trip<CommitCertificate>(stored.certificate.encode());
  expect_round_trip<BlockHeader>(stored.block.header().encode());
  expect_round_trip<Block>(stored.block.encode());
  expect_round_trip<Genesis>(chain.genesis().encode());
  const Bytes record = encode_block_record(stored.block, stored.certificate);
  auto decoded = decode_block_record(record);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->block, stored.block);
  EXPECT_EQ(decoded->certificate, stored.certificate);
  EXPECT_EQ(Tx::decode(stored.block.txs()[0].encode())->hash(), stored.block.txs()[0].hash());
}

TEST_F(LedgerEncoding, DecodersRefuseTruncatedTrailingAndUnknownVersions) {
  const auto& stored = chain.blocks()[1];
  expect_strict<Tx>(stored.block.txs()[0].encode());
  expect_strict<Evidence>(stored.block.evidence()[0].encode());
  expect_strict<CommitCertificate>(stored.certificate.encode());
  expect_strict<BlockHeader>(stored.block.header().encode());
  expect_strict<Block>(stored.block.encode());
  expect_strict<Genesis>(chain.genesis().encode());
}

TEST_F(LedgerEncoding, OversizedCountsAreRefusedBeforeAllocating) {
  Writer w;
  w.u8(kCertificateVersion).u64(1).u32(0).hash(Hash32{}).u32(0xffffffff);
  auto cert = CommitCertificate::decode(w.data());
  ASSERT_FALSE(cert);
  EXPECT_EQ(cert.error().code, "bad-signature-count");

  Writer b;
  b.u8(kBlockVersion).bytes(chain.blocks()[0].block.header().encode()).u32(0x7fffffff);
  auto block = Block::decode(b.data());
  ASSERT_FALSE(block);
  EXPECT_EQ(block.error().code, "oversized-length");
}

TEST_F(LedgerEncoding, GenesisChainIdIsTheJobHash) {
  Bytes bytes = chain.genesis().encode();
  bytes[1] ^= 1;  // first byte of the stored chain id
  auto decoded = Genesis::decode(bytes);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, "bad-chain-id");
}

TEST_F(LedgerEncoding, CertificateSignersMustAscend) {
  const auto& cert = chain.blocks()[0].certificate;
  Bytes bytes = cert.encode();
  // Swap the first two (validator, signature) entries: 1+8+4+32+4 bytes of prefix.
  const std::size_t first = 49, entry = 68;
  std::swap_ranges(bytes.begin() + first, bytes.begin() + first + entry,
                   bytes.begin() + first + entry);
  auto decoded = CommitCertificate::decode(bytes);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().code, "non-canonical");
}

TEST(Crc32c, KnownAnswers) {
  EXPECT_EQ(crc32c(as_bytes("123456789")), 0xE3069283u);
  EXPECT_EQ(crc32c({}), 0u);
  // RFC 3720 B.4: 32 bytes of zeros.
  EXPECT_EQ(crc32c(Bytes(32, 0)), 0x8A9136AAu);
  EXPECT_EQ(crc32c_extend(crc32c(as_bytes("1234")), as_bytes("56789")), 0xE3069283u);
}

}  // namespace
}  // namespace fedchain::ledger
