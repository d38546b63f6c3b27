// A block: one federated round. The header names what the round produced (the new model's
// Merkle root, the updates that went in, the rule that combined them) and links to the
// previous block by hash; the body carries the signed update transactions and any
// equivocation evidence. A block is final only together with a CommitCertificate.
//
// Block is immutable with its hash computed once; BlockBuilder makes one and fills in the
// tx and evidence roots from the body, so they cannot disagree.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/encoding.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/hash.hpp"
#include "fedchain/ledger/certificate.hpp"
#include "fedchain/ledger/tx.hpp"

namespace fedchain::ledger {

// Version 3: the header records the committee (its hash; the list in an epoch's first
// block). Version 2: transactions name clients, and rejected_clients replaced rejected_ranks.
inline constexpr std::uint8_t kBlockHeaderVersion = 3;
inline constexpr std::uint8_t kBlockVersion = 3;
// A block holds at most one transaction per cohort member: clients.per_round's bound.
inline constexpr std::uint32_t kMaxTxsPerBlock = 65536;
inline constexpr std::uint32_t kMaxEvidencePerBlock = 1024;
inline constexpr std::size_t kMaxRuleName = 64;
inline constexpr std::uint32_t kMaxRuleParams = 64;
inline constexpr std::size_t kMaxHeaderBytes = 1 << 20;
inline constexpr std::size_t kMaxEvidenceBytes = 1024;

// One numeric parameter of the aggregation rule ("trim_beta" = 0.1, "krum_f" = 1).
struct RuleParam {
  std::string name;  // 1 to 64 bytes
  double value = 0;  // raw IEEE-754 bits on the wire
  static void wire_fields(auto& s, auto& p) { s(limit(p.name, kMaxRuleName), p.value); }
  bool operator==(const RuleParam&) const = default;
};

// The aggregation rule and its parameters, as recorded in genesis and in every header.
struct AggregationRule {
  std::string name = "fedavg";    // fedavg | median | trimmed_mean | krum | multi_krum
  std::vector<RuleParam> params;  // strictly ascending by name
  static void wire_fields(auto& s, auto& r) {
    s(limit(r.name, kMaxRuleName), limit(r.params, kMaxRuleParams));
  }
  bool operator==(const AggregationRule&) const = default;
};

// What the header and genesis decoders check of a rule they read: a name, and parameters
// in strictly ascending name order.
void check_rule(Reader& r, const AggregationRule& rule);

struct BlockHeader {
  std::uint8_t version = kBlockHeaderVersion;
  Hash32 chain_id;
  std::uint64_t height = 0;    // >= 1; genesis is height 0
  Hash32 prev_hash;            // hash of block height-1, or the genesis hash at height 1
  std::uint32_t proposer = 0;  // validator index
  std::uint64_t time_ms = 0;   // proposer's clock, ms since the Unix epoch; never decreases
  Hash32 tx_root;              // merkle_root_of_hashes(tx hashes), txs in client order
  Hash32 evidence_root;        // merkle_root_of_hashes(evidence hashes)
  Hash32 state_root;           // Merkle root of the model after this round's aggregate
  Hash32 chain_state_hash;     // ChainState::hash() before this block is applied
  AggregationRule rule;        // the rule that made this round's aggregate
  std::vector<std::uint32_t> rejected_clients;  // clients whose tx the rule excluded; ascending
  Hash32 committee_hash;                        // committee_hash() of who votes at this height
  std::vector<std::uint32_t> committee;  // that committee, ascending, in an epoch's first block

  // The encoding, in wire order (core/encoding.hpp). A Reader fills a fresh header, so it
  // checks the version byte against kBlockHeaderVersion.
  static void wire_fields(auto& s, auto& h) {
    s.version(h.version);
    s(h.chain_id, h.height, h.prev_hash, h.proposer, h.time_ms, h.tx_root, h.evidence_root,
      h.state_root, h.chain_state_hash, h.rule, limit(h.rejected_clients, kMaxTxsPerBlock),
      h.committee_hash, limit(h.committee, kMaxValidators));
  }

  Bytes encode() const;
  static Result<BlockHeader> decode(ByteView bytes);
  // SHA-256("fedchain/block" || encode()): the block hash that votes sign.
  Hash32 hash() const;
  bool operator==(const BlockHeader&) const = default;
};

class Block {
 public:
  static Result<Block> decode(ByteView bytes);

  const BlockHeader& header() const { return header_; }
  const std::vector<Tx>& txs() const { return txs_; }
  const std::vector<Evidence>& evidence() const { return evidence_; }
  std::uint64_t height() const { return header_.height; }
  const Hash32& hash() const { return hash_; }
  // The tx and evidence roots recomputed from the body (check_block compares them).
  Hash32 computed_tx_root() const;
  Hash32 computed_evidence_root() const;

  Bytes encode() const;
  bool operator==(const Block& other) const { return encode() == other.encode(); }

 private:
  friend struct BlockBuilder;
  Block() = default;  // for decode, which fills it field by field
  Block(BlockHeader header, std::vector<Tx> txs, std::vector<Evidence> evidence);
  // The encoding: a version byte, then the header, txs and evidence, each its own encoding.
  static void wire_fields(auto& s, auto& b) {
    s.version(kBlockVersion)(
        nested(b.header_, at_most(kMaxHeaderBytes)),
        nested_list(b.txs_, kMaxTxsPerBlock, exactly(kTxEncodedBytes)),
        nested_list(b.evidence_, kMaxEvidencePerBlock, at_most(kMaxEvidenceBytes)));
  }
  void seal();  // computes hash_

  BlockHeader header_;
  std::vector<Tx> txs_;             // ascending client, one per client
  std::vector<Evidence> evidence_;  // ascending hash
  Hash32 hash_;
};

struct BlockBuilder {
  BlockHeader header;  // tx_root and evidence_root are overwritten by build()
  std::vector<Tx> txs;
  std::vector<Evidence> evidence;

  // Sorts txs by client and evidence by hash, and sets the header's roots from them.
  Block build() const;
  // Keeps the header exactly as given (roots included): for tests that need a block
  // whose header disagrees with its body.
  Block build_unchecked() const;
};

}  // namespace fedchain::ledger
