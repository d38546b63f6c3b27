// Builds real signed chains for tests while `fedchain train` does not exist: a genesis
// with Ed25519 keys derived from a seed, blocks whose txs every active validator signs,
// commit certificates of real precommits, and a RUN_DIR with job.toml and blocks.log.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

#include "fedchain/crypto/ed25519.hpp"
#include "fedchain/ledger/block.hpp"
#include "fedchain/ledger/certificate.hpp"
#include "fedchain/ledger/chain_state.hpp"
#include "fedchain/ledger/chain_store.hpp"
#include "fedchain/ledger/genesis.hpp"
#include "fedchain/ledger/validation.hpp"
#include "temp_dir.hpp"

namespace fedchain::ledger::testing {

struct TestChainOptions {
  std::uint32_t validators = 4;
  std::int64_t seed = 7;
  std::vector<std::uint64_t> powers = {};  // empty: power 1 each
  std::uint32_t jail_after_rejections = 3;
  std::uint32_t clients = 0;    // 0: one per validator (client r is rank r)
  std::uint32_t per_round = 0;  // 0: every client in every cohort
  std::uint32_t committee = 0;  // 0: every validator
  std::uint64_t epoch = 1000;   // heights between committee elections
  // Set: the job has privacy.dp with this noise multiplier (clip 0.5, delta 1e-5).
  std::optional<double> noise_multiplier = {};
  // Who proposes (height, round); empty: (height + round) % n, skipping validators that
  // cannot vote (jailed or off the committee).
  ProposerRule proposer_rule = {};
};

// What goes into the next block; defaults give a plain round where everyone contributes.
struct NextBlock {
  std::uint32_t round = 0;
  std::vector<std::uint32_t> rejected_clients = {};
  std::vector<Evidence> evidence = {};
  std::vector<std::uint32_t> signers = {};  // empty: every committee member not jailed
  std::optional<Hash32> state_root = {};    // empty: a hash of "model after <height>"
};

class TestChain {
 public:
  explicit TestChain(const TestChainOptions& options = {});

  const Genesis& genesis() const { return genesis_; }
  const std::vector<crypto::SigningKey>& keys() const { return keys_; }
  const ChainState& state() const { return states_.back(); }
  const std::vector<StoredBlock>& blocks() const { return blocks_; }

  // A signed tx for `client` at `height` from the rank hosting it, its update root derived
  // from (height, client).
  Tx make_tx(std::uint64_t height, std::uint32_t client) const;
  // Two conflicting precommits by `validator` at `height`: equivocation evidence.
  Evidence make_evidence(std::uint32_t validator, std::uint64_t height) const;
  // The next block (not yet committed), built against the current state.
  Block make_block(const NextBlock& next = {}) const;
  CommitCertificate certify(const Block& block, std::uint32_t round,
                            const std::vector<std::uint32_t>& signers) const;
  // make_block + certify + commit to the in-memory chain.
  const StoredBlock& add_block(const NextBlock& next = {});

  // Writes RUN_DIR/job.toml and RUN_DIR/chain/blocks.log with every block so far.
  void write(const std::filesystem::path& run_dir) const;

 private:
  Genesis genesis_;
  std::vector<crypto::SigningKey> keys_;
  ProposerRule proposer_rule_;
  std::vector<ChainState> states_;  // (height + 1): states_[h] is the state after height h
  std::vector<StoredBlock> blocks_;
};

using fedchain::testing::TempDir;

Bytes read_bytes(const std::filesystem::path& path);
void write_bytes(const std::filesystem::path& path, ByteView bytes);

}  // namespace fedchain::ledger::testing
