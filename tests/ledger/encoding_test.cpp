// Canonical encodings of the ledger types: pinned bytes, round trips that give back every
// field, and refusal of truncated, trailing, oversized and unknown-version input with typed
// codes.
#include <gtest/gtest.h>

#include <string>

#include "fedchain/core/encoding.hpp"
#include "fedchain/crypto/sha256.hpp"
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

Hash32 filled(std::uint8_t b) {
  Hash32 h;
  h.bytes.fill(b);
  return h;
}

Signature signature_of(std::uint8_t b) {
  Signature s;
  s.bytes.fill(b);
  return s;
}

std::string times(const std::string& hex, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += hex;
  return out;
}

Tx sample_tx() {
  TxBuilder b;
  b.chain_id = filled(0x11);
  b.height = 7;
  b.client = 6;
  b.rank = 3;
  b.weight = 1000;
  b.update_root = filled(0x22);
  b.loss = 0.5;
  b.samples = 999;
  return b.with_signature(signature_of(0x33));
}

Vote sample_vote() {
  Vote v;
  v.chain_id = filled(0x11);
  v.height = 9;
  v.round = 2;
  v.type = VoteType::kPrecommit;
  v.block_hash = filled(0x44);
  v.validator = 5;
  v.signature = signature_of(0x55);
  return v;
}

// The formats in docs/formats.md, written out field by field.
TEST(PinnedEncoding, TxBytes) {
  const std::string fields = times("11", 32)        // chain_id
                             + "0700000000000000"   // height
                             + "06000000"           // client
                             + "03000000"           // rank
                             + "e803000000000000"   // weight
                             + times("22", 32)      // update_root
                             + "000000000000e03f"   // loss 0.5
                             + "e703000000000000";  // samples
  const Tx tx = sample_tx();
  EXPECT_EQ(to_hex(tx.encode()), "02" + fields + times("33", 64));
  EXPECT_EQ(to_hex(tx.sign_bytes()), to_hex(as_bytes("fedchain/tx/v2")) + fields);
  EXPECT_EQ(tx.encode().size(), kTxEncodedBytes);
}

TEST(PinnedEncoding, VoteBytes) {
  const std::string head = times("11", 32)       // chain_id
                           + "0900000000000000"  // height
                           + "02000000"          // round
                           + "02";               // type: precommit
  Vote vote = sample_vote();
  const std::string for_block = head + "01" + times("44", 32) + "05000000";
  EXPECT_EQ(to_hex(vote.encode()), "01" + for_block + times("55", 64));
  EXPECT_EQ(to_hex(vote.sign_bytes()), to_hex(as_bytes("fedchain/vote/v1")) + for_block);
  vote.block_hash.reset();
  const std::string for_nil = head + "00" + times("00", 32) + "05000000";
  EXPECT_EQ(to_hex(vote.encode()), "01" + for_nil + times("55", 64));
}

TEST(RoundTrip, TxAndVoteGiveBackEveryField) {
  const Tx tx = sample_tx();
  auto decoded = Tx::decode(tx.encode());
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(decoded->chain_id(), tx.chain_id());
  EXPECT_EQ(decoded->height(), tx.height());
  EXPECT_EQ(decoded->rank(), tx.rank());
  EXPECT_EQ(decoded->weight(), tx.weight());
  EXPECT_EQ(decoded->update_root(), tx.update_root());
  EXPECT_EQ(decoded->loss(), tx.loss());
  EXPECT_EQ(decoded->samples(), tx.samples());
  EXPECT_EQ(decoded->signature(), tx.signature());
  EXPECT_EQ(decoded->hash(), tx.hash());

  for (Vote vote : {sample_vote(), Vote{}}) {
    auto v = Vote::decode(vote.encode());
    ASSERT_TRUE(v) << v.error().message;
    EXPECT_EQ(*v, vote);
  }
}

TEST(RoundTrip, HeaderGivesBackEveryField) {
  BlockHeader h;
  h.chain_id = filled(1);
  h.height = 3;
  h.prev_hash = filled(2);
  h.proposer = 4;
  h.time_ms = 1700000000123;
  h.tx_root = filled(5);
  h.evidence_root = filled(6);
  h.state_root = filled(7);
  h.chain_state_hash = filled(8);
  h.rule = {"krum", {{"krum_f", 1.0}, {"multi", 2.0}}};
  h.rejected_clients = {1, 3};
  auto decoded = BlockHeader::decode(h.encode());
  ASSERT_TRUE(decoded) << decoded.error().message;
  EXPECT_EQ(*decoded, h);
}

class LedgerEncoding : public ::testing::Test {
 protected:
  LedgerEncoding() {
    chain.add_block();
    chain.add_block({.rejected_clients = {1}, .evidence = {chain.make_evidence(2, 1)}});
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

TEST_F(LedgerEncoding, BlockCertificateEvidenceAndRecordGiveBackEveryField) {
  const auto& stored = chain.blocks()[1];
  auto block = Block::decode(stored.block.encode());
  ASSERT_TRUE(block) << block.error().message;
  EXPECT_EQ(block->header(), stored.block.header());
  ASSERT_EQ(block->txs().size(), stored.block.txs().size());
  for (std::size_t i = 0; i < block->txs().size(); ++i) {
    EXPECT_EQ(block->txs()[i].hash(), stored.block.txs()[i].hash());
  }
  ASSERT_EQ(block->evidence().size(), 1u);
  EXPECT_EQ(block->evidence()[0].first(), stored.block.evidence()[0].first());
  EXPECT_EQ(block->evidence()[0].second(), stored.block.evidence()[0].second());
  EXPECT_EQ(block->hash(), stored.block.hash());

  auto cert = CommitCertificate::decode(stored.certificate.encode());
  ASSERT_TRUE(cert) << cert.error().message;
  EXPECT_EQ(cert->height(), stored.certificate.height());
  EXPECT_EQ(cert->round(), stored.certificate.round());
  EXPECT_EQ(cert->block_hash(), stored.certificate.block_hash());
  EXPECT_EQ(cert->signatures(), stored.certificate.signatures());
  EXPECT_EQ(cert->hash(), stored.certificate.hash());

  auto record = decode_block_record(encode_block_record(stored.block, stored.certificate));
  ASSERT_TRUE(record) << record.error().message;
  EXPECT_EQ(record->block, stored.block);
  EXPECT_EQ(record->certificate, stored.certificate);
}

TEST_F(LedgerEncoding, GenesisGivesBackEveryField) {
  GenesisBuilder b = chain.genesis().fields();
  b.time_ms = 1700000000999;
  b.model = {"mlp:4-2", 10};
  b.initial_state_root = filled(9);
  b.rule = {"median", {}};
  b.quantization = {12, 3.5};
  b.merkle_chunk_bytes = 4096;
  b.contract = {5, 7};
  const auto genesis = b.build();
  ASSERT_TRUE(genesis) << genesis.error().message;
  auto decoded = Genesis::decode(genesis->encode());
  ASSERT_TRUE(decoded) << decoded.error().message;
  const auto& f = decoded->fields();
  EXPECT_EQ(decoded->chain_id(), genesis->chain_id());
  EXPECT_EQ(f.job_toml, b.job_toml);
  EXPECT_EQ(f.time_ms, b.time_ms);
  EXPECT_EQ(f.validators, b.validators);
  EXPECT_EQ(f.model, b.model);
  EXPECT_EQ(f.initial_state_root, b.initial_state_root);
  EXPECT_EQ(f.shards, b.shards);
  EXPECT_EQ(f.rule, b.rule);
  EXPECT_EQ(f.quantization, b.quantization);
  EXPECT_EQ(f.merkle_chunk_bytes, b.merkle_chunk_bytes);
  EXPECT_EQ(f.contract, b.contract);
  EXPECT_EQ(f.committee, b.committee);
}

// SHA-256 of each encoding of the fixture chain: any change to any type's bytes shows here.
TEST_F(LedgerEncoding, EveryTypeKeepsItsPinnedBytes) {
  const auto& stored = chain.blocks()[1];
  struct Pinned {
    const char* type;
    Bytes encoding;
    const char* sha256;
  };
  const std::vector<Pinned> pinned = {
      {"genesis", chain.genesis().encode(),
       "153b184eff6d9377e0eca7e1796d8464e1a6373c81cd2916f832604f05c0b0f0"},
      {"block", stored.block.encode(),
       "4ecdcd5b0842eae410525da5693d2e96c6bbf88aacf174de65326262f64b9ce5"},
      {"certificate", stored.certificate.encode(),
       "11cbf201dbe7775a8ca5e468790f5d1efd746c5a79aeda42b60217ca24258dae"},
      {"evidence", stored.block.evidence()[0].encode(),
       "9b0618cf65b272fc4c255bf05c840a45c50d94501319cdcd8bb7501a2ebf5753"},
      {"record", encode_block_record(stored.block, stored.certificate),
       "305e4d4906b2293d7b65463d45e0239df9f5b32e48b1389149899124c4b13342"},
      {"chain state", chain.state().encode(),
       "74cf7b992ca0740b0b6e7e294e8b4fbfb2c8df48188bac3df9c742644e9b0534"},
  };
  for (const auto& p : pinned) EXPECT_EQ(crypto::sha256(p.encoding).hex(), p.sha256) << p.type;
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
