// Block headers and blocks: canonical encoding, hash, and the builder that fills the roots.
#include "fedchain/ledger/block.hpp"

#include <algorithm>

#include "fedchain/core/encoding.hpp"
#include "fedchain/crypto/merkle.hpp"
#include "fedchain/crypto/sha256.hpp"

namespace fedchain::ledger {

namespace {
constexpr std::string_view kBlockHashDomain = "fedchain/block";
}  // namespace

void check_rule(Reader& r, const AggregationRule& rule) {
  r.ascending(rule.params, "rule parameters", &RuleParam::name);
  if (r.ok() && rule.name.empty()) r.fail("bad-rule", "the aggregation rule has no name");
}

Bytes BlockHeader::encode() const {
  Writer w;
  wire_fields(w, *this);
  return w.take();
}

Result<BlockHeader> BlockHeader::decode(ByteView bytes) {
  Reader r(bytes, "block header");
  BlockHeader h;
  wire_fields(r, h);
  check_rule(r, h.rule);
  r.ascending(h.rejected_clients, "rejected clients");
  r.ascending(h.committee, "committee");
  if (auto st = r.finish(); !st) return st.error();
  return h;
}

Hash32 BlockHeader::hash() const {
  return crypto::sha256({as_bytes(kBlockHashDomain), encode()});
}

Block::Block(BlockHeader header, std::vector<Tx> txs, std::vector<Evidence> evidence)
    : header_(std::move(header)), txs_(std::move(txs)), evidence_(std::move(evidence)) {
  seal();
}

void Block::seal() {
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
  wire_fields(w, *this);
  return w.take();
}

Result<Block> Block::decode(ByteView bytes) {
  Reader r(bytes, "block");
  Block b;
  wire_fields(r, b);
  if (auto st = r.finish(); !st) return st.error();
  b.seal();
  return b;
}

Block BlockBuilder::build() const {
  std::vector<Tx> sorted_txs = txs;
  std::stable_sort(sorted_txs.begin(), sorted_txs.end(),
                   [](const Tx& a, const Tx& b) { return a.client() < b.client(); });
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
