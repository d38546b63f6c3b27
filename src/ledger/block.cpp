// Block headers and blocks: canonical encoding, hash, and the builder that fills the roots.
#include "fedchain/ledger/block.hpp"

#include <algorithm>

#include "fedchain/core/encoding.hpp"
#include "fedchain/crypto/merkle.hpp"
#include "fedchain/crypto/sha256.hpp"

namespace fedchain::ledger {

namespace {
constexpr std::string_view kBlockHashDomain = "fedchain/block";
constexpr std::size_t kMaxRuleName = 64;
constexpr std::uint32_t kMaxRuleParams = 64;
constexpr std::size_t kMaxHeaderBytes = 1 << 20;
constexpr std::size_t kMaxEvidenceBytes = 1024;
}  // namespace

void write_rule(Writer& w, const AggregationRule& rule) {
  w.text(rule.name).u32(static_cast<std::uint32_t>(rule.params.size()));
  for (const auto& p : rule.params) w.text(p.name).f64(p.value);
}

AggregationRule read_rule(Reader& r) {
  AggregationRule rule;
  rule.name = r.text(kMaxRuleName);
  const std::uint32_t count = r.u32();
  if (r.ok() && count > kMaxRuleParams) {
    r.fail("oversized-length",
           fmt::format("{} rule parameters (at most {})", count, kMaxRuleParams));
  }
  for (std::uint32_t i = 0; r.ok() && i < count; ++i) {
    RuleParam p;
    p.name = r.text(kMaxRuleName);
    p.value = r.f64();
    if (r.ok() && !rule.params.empty() && !(rule.params.back().name < p.name)) {
      r.fail("non-canonical", "rule parameters must be in strictly ascending name order");
    }
    rule.params.push_back(std::move(p));
  }
  if (r.ok() && rule.name.empty()) r.fail("bad-rule", "the aggregation rule has no name");
  return rule;
}

Bytes BlockHeader::encode() const {
  Writer w;
  w.u8(version);
  w.hash(chain_id).u64(height).hash(prev_hash).u32(proposer).u64(time_ms);
  w.hash(tx_root).hash(evidence_root).hash(state_root).hash(chain_state_hash);
  write_rule(w, rule);
  w.u32(static_cast<std::uint32_t>(rejected_ranks.size()));
  for (auto rank : rejected_ranks) w.u32(rank);
  return w.take();
}

Result<BlockHeader> BlockHeader::decode(ByteView bytes) {
  Reader r(bytes, "block header");
  BlockHeader h;
  r.version(kBlockHeaderVersion);
  h.chain_id = r.hash();
  h.height = r.u64();
  h.prev_hash = r.hash();
  h.proposer = r.u32();
  h.time_ms = r.u64();
  h.tx_root = r.hash();
  h.evidence_root = r.hash();
  h.state_root = r.hash();
  h.chain_state_hash = r.hash();
  h.rule = read_rule(r);
  const std::uint32_t rejected = r.u32();
  if (r.ok() && rejected > kMaxValidators) {
    r.fail("oversized-length",
           fmt::format("{} rejected ranks (at most {})", rejected, kMaxValidators));
  }
  for (std::uint32_t i = 0; r.ok() && i < rejected; ++i) {
    const std::uint32_t rank = r.u32();
    if (r.ok() && !h.rejected_ranks.empty() && rank <= h.rejected_ranks.back()) {
      r.fail("non-canonical", "rejected ranks must be strictly ascending");
    }
    h.rejected_ranks.push_back(rank);
  }
  if (auto st = r.finish(); !st) return st.error();
  return h;
}

Hash32 BlockHeader::hash() const {
  return crypto::sha256({as_bytes(kBlockHashDomain), encode()});
}

Block::Block(BlockHeader header, std::vector<Tx> txs, std::vector<Evidence> evidence)
    : header_(std::move(header)), txs_(std::move(txs)), evidence_(std::move(evidence)) {
  hash_ = header_.hash();
}

Hash32 Block::computed_tx_root() const {
  std::vector<Hash32> hashes;
  hashes.reserve(txs_.size());
  for (const auto& tx : txs_) hashes.push_back(tx.hash());
  return crypto::merkle_root_of_hashes(hashes);
}

Hash32 Block::computed_evidence_root() const {
  std::vector<Hash32> hashes;
  hashes.reserve(evidence_.size());
  for (const auto& e : evidence_) hashes.push_back(e.hash());
  return crypto::merkle_root_of_hashes(hashes);
}

Bytes Block::encode() const {
  Writer w;
  w.u8(kBlockVersion).bytes(header_.encode());
  w.u32(static_cast<std::uint32_t>(txs_.size()));
  for (const auto& tx : txs_) w.raw(tx.encode());
  w.u32(static_cast<std::uint32_t>(evidence_.size()));
  for (const auto& e : evidence_) w.bytes(e.encode());
  return w.take();
}

Result<Block> Block::decode(ByteView bytes) {
  Reader r(bytes, "block");
  r.version(kBlockVersion);
  const Bytes header_bytes = r.bytes(kMaxHeaderBytes);
  const std::uint32_t tx_count = r.u32();
  if (r.ok() && tx_count > kMaxValidators) {
    r.fail("oversized-length", fmt::format("{} txs (at most {})", tx_count, kMaxValidators));
  }
  std::vector<Tx> txs;
  for (std::uint32_t i = 0; r.ok() && i < tx_count; ++i) {
    const Bytes tx_bytes = r.raw(kTxEncodedBytes);
    if (!r.ok()) break;
    auto tx = Tx::decode(tx_bytes);
    if (!tx) return reject(tx.error().code, "block tx {}: {}", i, tx.error().message);
    txs.push_back(std::move(*tx));
  }
  const std::uint32_t evidence_count = r.u32();
  if (r.ok() && evidence_count > kMaxEvidencePerBlock) {
    r.fail("oversized-length",
           fmt::format("{} pieces of evidence (at most {})", evidence_count, kMaxEvidencePerBlock));
  }
  std::vector<Evidence> evidence;
  for (std::uint32_t i = 0; r.ok() && i < evidence_count; ++i) {
    const Bytes e_bytes = r.bytes(kMaxEvidenceBytes);
    if (!r.ok()) break;
    auto e = Evidence::decode(e_bytes);
    if (!e) return reject(e.error().code, "block evidence {}: {}", i, e.error().message);
    evidence.push_back(std::move(*e));
  }
  if (auto st = r.finish(); !st) return st.error();
  auto header = BlockHeader::decode(header_bytes);
  if (!header) return header.error();
  return Block(std::move(*header), std::move(txs), std::move(evidence));
}

Block BlockBuilder::build() const {
  std::vector<Tx> sorted_txs = txs;
  std::stable_sort(sorted_txs.begin(), sorted_txs.end(),
                   [](const Tx& a, const Tx& b) { return a.rank() < b.rank(); });
  std::vector<Evidence> sorted_evidence = evidence;
  std::sort(sorted_evidence.begin(), sorted_evidence.end(),
            [](const Evidence& a, const Evidence& b) { return a.hash() < b.hash(); });
  Block block(header, std::move(sorted_txs), std::move(sorted_evidence));
  BlockHeader filled = header;
  filled.tx_root = block.computed_tx_root();
  filled.evidence_root = block.computed_evidence_root();
  return Block(std::move(filled), std::move(block.txs_), std::move(block.evidence_));
}

Block BlockBuilder::build_unchecked() const {
  return Block(header, txs, evidence);
}

}  // namespace fedchain::ledger
