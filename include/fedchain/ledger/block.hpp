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

inline constexpr std::uint8_t kBlockHeaderVersion = 1;
inline constexpr std::uint8_t kBlockVersion = 1;
inline constexpr std::uint32_t kMaxEvidencePerBlock = 1024;

// One numeric parameter of the aggregation rule ("trim_beta" = 0.1, "krum_f" = 1).
struct RuleParam {
  std::string name;  // 1 to 64 bytes
  double value = 0;  // raw IEEE-754 bits on the wire
  bool operator==(const RuleParam&) const = default;
};

// The aggregation rule and its parameters, as recorded in genesis and in every header.
struct AggregationRule {
  std::string name = "fedavg";    // fedavg | median | trimmed_mean | krum | multi_krum
  std::vector<RuleParam> params;  // strictly ascending by name
  bool operator==(const AggregationRule&) const = default;
};

// Shared by the header and genesis encodings.
void write_rule(Writer& w, const AggregationRule& rule);
AggregationRule read_rule(Reader& r);

struct BlockHeader {
  std::uint8_t version = kBlockHeaderVersion;
  Hash32 chain_id;
  std::uint64_t height = 0;    // >= 1; genesis is height 0
  Hash32 prev_hash;            // hash of block height-1, or the genesis hash at height 1
  std::uint32_t proposer = 0;  // validator index
  std::uint64_t time_ms = 0;   // proposer's clock, ms since the Unix epoch; never decreases
  Hash32 tx_root;              // merkle_root_of_hashes(tx hashes), txs in rank order
  Hash32 evidence_root;        // merkle_root_of_hashes(evidence hashes)
  Hash32 state_root;           // Merkle root of the model after this round's aggregate
  Hash32 chain_state_hash;     // ChainState::hash() before this block is applied
  AggregationRule rule;        // the rule that made this round's aggregate
  std::vector<std::uint32_t> rejected_ranks;  // ranks whose tx the rule excluded; ascending

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
  Block(BlockHeader header, std::vector<Tx> txs, std::vector<Evidence> evidence);

  BlockHeader header_;
  std::vector<Tx> txs_;             // ascending rank, one per rank
  std::vector<Evidence> evidence_;  // ascending hash
  Hash32 hash_;
};

struct BlockBuilder {
  BlockHeader header;  // tx_root and evidence_root are overwritten by build()
  std::vector<Tx> txs;
  std::vector<Evidence> evidence;

  // Sorts txs by rank and evidence by hash, and sets the header's roots from them.
  Block build() const;
  // Keeps the header exactly as given (roots included): for tests that need a block
  // whose header disagrees with its body.
  Block build_unchecked() const;
};

}  // namespace fedchain::ledger
