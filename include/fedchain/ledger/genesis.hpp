// Genesis: height 0, what every rank agrees on before the first round. The chain id is
// SHA-256 of the resolved job TOML (stored here whole, so anyone can recompute it); the
// rest fixes who may sign (validators and their power), what the model is, where it
// starts, how updates are weighted, quantized, combined and committed, and the contract's
// parameters. Record 0 of blocks.log (docs/formats.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/encoding.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/hash.hpp"
#include "fedchain/core/signature.hpp"
#include "fedchain/ledger/block.hpp"
#include "fedchain/ledger/cohort.hpp"

namespace fedchain::ledger {

// Version 4: the content hash of the job's data is recorded. Version 3: validators' power is
// their stake (0 allowed), and the committee rule is recorded. Version 2 made shards per
// client and recorded the cohort rule.
inline constexpr std::uint8_t kGenesisVersion = 4;
// clients.total's bound: a genesis of 100,000 clients is 4 MB of shard commitments.
inline constexpr std::uint32_t kMaxClients = 100000;
inline constexpr std::size_t kMaxJobTomlBytes = 1 << 20;
inline constexpr std::size_t kMaxArchBytes = 4096;

// Each struct below lists its fields in wire order (core/encoding.hpp).

struct GenesisValidator {
  std::uint32_t rank = 0;  // equals its index in the list
  PublicKey key;
  std::uint64_t power = 1;  // stake: voting power when elected; 0 is never elected
  static void wire_fields(auto& s, auto& v) { s(v.rank, v.key, v.power); }
  bool operator==(const GenesisValidator&) const = default;
};

// A client's data shard: how many training samples it holds (its aggregation weight) and a
// hash committing to which ones (the data module defines it; ledger only records it).
struct ShardCommitment {
  std::uint64_t samples = 0;
  Hash32 commitment;
  static void wire_fields(auto& s, auto& c) { s(c.samples, c.commitment); }
  bool operator==(const ShardCommitment&) const = default;
};

struct ModelSpec {
  std::string arch;              // "mlp:784-200-200-10", as the train module names it
  std::uint64_t parameters = 0;  // number of float parameters
  static void wire_fields(auto& s, auto& m) { s(limit(m.arch, kMaxArchBytes), m.parameters); }
  bool operator==(const ModelSpec&) const = default;
};

// q = clamp(round(delta * 2^scale_bits)) after |delta| is clipped to `clip`.
struct QuantizationParams {
  std::uint32_t scale_bits = 20;
  double clip = 8.0;
  static void wire_fields(auto& s, auto& q) { s(q.scale_bits, q.clip); }
  bool operator==(const QuantizationParams&) const = default;
};

// The chain-state contract's rules (chain_state.hpp).
struct ContractParams {
  std::uint32_t jail_after_rejections = 3;  // consecutive rejected updates that jail; 0: never
  std::uint64_t reward_per_update = 1;      // credited per accepted update
  static void wire_fields(auto& s, auto& c) { s(c.jail_after_rejections, c.reward_per_update); }
  bool operator==(const ContractParams&) const = default;
};

// How each height's cohort is drawn (ledger/cohort.hpp): the job's seed and the rule.
struct CohortParams {
  std::uint64_t seed = 0;
  CohortRule rule;
  static void wire_fields(auto& s, auto& c) { s(c.seed, c.rule.per_round, c.rule.sampling); }
  bool operator==(const CohortParams&) const = default;
};

// Who votes (ledger/committee.hpp): `size` validators elected by stake for every `epoch`
// heights.
struct CommitteeParams {
  std::uint32_t size = 1;   // c, 1 to the validators with stake
  std::uint64_t epoch = 1;  // heights per election, >= 1
  static void wire_fields(auto& s, auto& c) { s(c.size, c.epoch); }
  bool operator==(const CommitteeParams&) const = default;
};

class Genesis;

struct GenesisBuilder {
  std::string job_toml;                      // the resolved job; chain id = SHA-256 of these bytes
  std::uint64_t time_ms = 0;                 // ms since the Unix epoch
  std::vector<GenesisValidator> validators;  // (n), rank i at index i
  ModelSpec model;
  Hash32 initial_state_root;            // Merkle root of the initial model
  std::vector<ShardCommitment> shards;  // (K), one per client; client k is hosted by rank k mod n
  CohortParams cohort;
  AggregationRule rule;
  QuantizationParams quantization;
  std::uint32_t merkle_chunk_bytes = 65536;
  ContractParams contract;
  CommitteeParams committee;
  Hash32 data_hash;  // SHA-256 of the arrays the job trains and tests on (the data module's)

  static void wire_fields(auto& s, auto& g) {
    s(limit(g.job_toml, kMaxJobTomlBytes), g.time_ms, limit(g.validators, kMaxValidators), g.model,
      g.initial_state_root, limit(g.shards, kMaxClients), g.cohort, g.rule, g.quantization,
      g.merkle_chunk_bytes, g.contract, g.committee, g.data_hash);
  }

  // Checks the fields (check_genesis) and makes the genesis.
  Result<Genesis> build() const;
};

class Genesis {
 public:
  static Result<Genesis> decode(ByteView bytes);

  const GenesisBuilder& fields() const { return fields_; }
  const Hash32& chain_id() const { return chain_id_; }
  std::uint32_t validator_count() const {
    return static_cast<std::uint32_t>(fields_.validators.size());
  }
  // SHA-256("fedchain/genesis" || encode()): block 1's prev_hash.
  const Hash32& hash() const { return hash_; }
  Bytes encode() const;
  bool operator==(const Genesis& other) const { return hash_ == other.hash_; }

 private:
  friend struct GenesisBuilder;
  Genesis() = default;  // for decode, which fills it field by field
  explicit Genesis(GenesisBuilder fields);
  // The encoding: a version byte, the chain id, then the builder's fields.
  static void wire_fields(auto& s, auto& g) { s.version(kGenesisVersion)(g.chain_id_, g.fields_); }

  GenesisBuilder fields_;
  Hash32 chain_id_;
  Hash32 hash_;
};

// Context-free checks on genesis fields: ranks in order, stake total in 1..2^60, a committee
// of 1 to the validators with stake and an epoch >= 1, at least one shard, chunk size > 0, a
// rule name.
Status check_genesis(const GenesisBuilder& fields);

}  // namespace fedchain::ledger
