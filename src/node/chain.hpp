// The chain side of a rank (consensus.protocol = "bft"): genesis, chain state, this rank's
// key, the block every rank expects for the round, and the consensus application that
// proposes, checks and commits blocks. Rank 0 also appends each block to the primary chain
// file, and a replica writer (ledger.replicas) to its replica.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "fedchain/consensus/validator_set.hpp"
#include "fedchain/crypto/ed25519.hpp"
#include "fedchain/ledger/block.hpp"
#include "fedchain/ledger/chain_state.hpp"
#include "fedchain/ledger/chain_store.hpp"
#include "fedchain/ledger/genesis.hpp"
#include "fedchain/net/consensus_loop.hpp"

namespace fedchain::node {

// What a rank computed for one round, against which proposals are checked.
struct RoundExpectation {
  std::uint64_t height = 0;
  Hash32 state_root;
  std::vector<ledger::Tx> txs;  // the counted clients' transactions, ascending client
  std::vector<std::uint32_t> rejected_clients;
};

// Votes name a block by its ledger hash, recomputed from the bytes (never trusted).
class LedgerBlockHasher final : public consensus::BlockHasher {
 public:
  std::optional<Hash32> hash(ByteView block) const override;
};

class ChainParticipant final : public net::Application {
 public:
  ChainParticipant(ledger::Genesis genesis, ledger::ChainState state,
                   std::optional<ledger::ChainStore> store, std::uint32_t self);

  const ledger::Genesis& genesis() const { return genesis_; }
  const ledger::ChainState& state() const { return state_; }
  // The validator set for the next height: voting power, jailed validators at zero.
  Result<consensus::ValidatorSet> validator_set() const;

  // Before consensus at a height: what this rank computed for it.
  void expect(RoundExpectation expectation) { expected_ = std::move(expectation); }
  // The block committed at the last height, once commit() has run.
  const std::optional<ledger::Block>& committed() const { return committed_; }
  std::uint32_t committed_round() const { return committed_round_; }

  // With the block: the certificate this rank holds for it (its precommits).
  const std::optional<ledger::CommitCertificate>& committed_certificate() const {
    return committed_certificate_;
  }

  // A follower's way to the committed block (it does not vote): `record` is a block and its
  // certificate as the chain file stores them, sent by a committee member. Checked against
  // this rank's chain state (the certificate first: more than 2/3 of the committee's power,
  // valid signatures, the proposer of its round; then the block's links, committee and
  // fields, but not its transactions' signatures, which the certifying quorum checked), then
  // stored and applied as commit() does. Never throws; a refusal says why.
  Status accept_certified(ByteView record);
  // Certificate signatures accept_certified has checked so far.
  std::uint64_t certificate_signatures_checked() const { return certificate_signatures_checked_; }

  Bytes propose_block(std::uint64_t height, std::uint32_t round) override;
  bool validate_block(std::uint64_t height, const Hash32& block_hash, ByteView block) override;
  Result<consensus::ValidatorSet> commit(const consensus::Commit& commit) override;
  void evidence(const consensus::EquivocationFound& found) override;

 private:
  ledger::Genesis genesis_;
  ledger::ChainState state_;
  std::optional<ledger::ChainStore> store_;
  std::uint32_t self_;
  RoundExpectation expected_;
  std::vector<ledger::Evidence> pending_evidence_;
  // Stores and applies a block that consensus or a certificate made final.
  Status adopt(ledger::Block block, ledger::CommitCertificate certificate);

  std::optional<ledger::Block> committed_;
  std::optional<ledger::CommitCertificate> committed_certificate_;
  std::uint32_t committed_round_ = 0;
  std::uint64_t certificate_signatures_checked_ = 0;
};

}  // namespace fedchain::node
