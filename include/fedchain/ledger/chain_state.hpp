// Chain state, the "contract": deterministic rules every rank applies when a block
// commits. It tracks the validator set (voting power, jailing), a contribution ledger per
// rank, the last state root and so the next height's cohort (ledger/cohort.hpp), and its
// hash goes into the next block's header, so ranks that disagree about it cannot sign the
// same block.
//
// Rules for block h (docs/formats.md, "Chain state"):
//   1. each piece of evidence jails its validator;
//   2. each tx credits its signing rank's samples_trained; if its client is not in
//      header.rejected_clients the update is accepted (updates_accepted += 1, rewards +=
//      reward_per_update, the rejection streak resets), else updates_rejected += 1 and the
//      streak grows; a streak reaching jail_after_rejections (> 0) jails the rank;
//   3. height, last block hash and last state root advance, and the next cohort is drawn;
//   4. after an epoch's last block, the next epoch's committee is elected (ledger/committee.hpp)
//      from that block's hash, leaving out jailed validators;
//   5. with privacy.dp in genesis's job, the block is one more noised round, and the epsilon
//      spent after them is recomputed (privacy(): dp_accountant.hpp, docs/privacy.md).
// Only committee members vote and propose, with their stake as power. A validator jailed
// during an epoch keeps its seat on record but has no power left to vote or propose with.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/hash.hpp"
#include "fedchain/core/signature.hpp"
#include "fedchain/ledger/block.hpp"
#include "fedchain/ledger/dp_accountant.hpp"
#include "fedchain/ledger/genesis.hpp"

namespace fedchain::ledger {

// Version 4: the privacy record, in the states of chains whose job has privacy.dp; a state
// without one still encodes as version 3, so such chains keep their hashes. Version 3: the
// committee.
inline constexpr std::uint8_t kChainStateVersion = 4;
inline constexpr std::uint8_t kChainStateVersionWithoutPrivacy = 3;

struct ValidatorState {
  PublicKey key;
  std::uint64_t power = 1;
  bool jailed = false;
  std::uint32_t rejected_streak = 0;  // consecutive rejected updates
  static void wire_fields(auto& s, auto& v) { s(v.key, v.power, v.jailed, v.rejected_streak); }
  bool operator==(const ValidatorState&) const = default;
};

struct Contribution {
  std::uint64_t samples_trained = 0;
  std::uint64_t updates_accepted = 0;
  std::uint64_t updates_rejected = 0;
  std::uint64_t rewards = 0;
  static void wire_fields(auto& s, auto& c) {
    s(c.samples_trained, c.updates_accepted, c.updates_rejected, c.rewards);
  }
  bool operator==(const Contribution&) const = default;
};

// The DP mechanism of genesis's job (privacy.dp) and the privacy it has spent so far: the
// epsilon at privacy.delta after `noised_rounds` steps of the Gaussian mechanism of
// `noise_multiplier` on a sample of rate sampled_clients / clients (sampling_rate()).
struct PrivacyRecord {
  double clip = 0;  // L2 bound of each client's update
  double noise_multiplier = 0;
  double delta = 0;
  std::uint32_t sampled_clients = 0;  // a round's cohort
  std::uint32_t clients = 0;
  std::uint64_t noised_rounds = 0;  // blocks since genesis: each is one step
  std::uint64_t epsilon_micro = 0;  // epsilon_micro() of the accountant's epsilon
  static void wire_fields(auto& s, auto& p) {
    s(p.clip, p.noise_multiplier, p.delta, p.sampled_clients, p.clients, p.noised_rounds,
      p.epsilon_micro);
  }
  bool operator==(const PrivacyRecord&) const = default;
};

class ChainState {
 public:
  static ChainState from_genesis(const Genesis& genesis);

  // The state after `block`. The block must have passed validate_block against this state;
  // apply() itself never fails.
  ChainState apply(const Block& block) const;

  std::uint64_t height() const { return height_; }
  const Hash32& last_block_hash() const { return last_block_hash_; }
  std::uint64_t last_time_ms() const { return last_time_ms_; }
  // The model's state root after the last block (genesis: the initial model's).
  const Hash32& last_state_root() const { return last_state_root_; }
  std::size_t client_count() const { return client_samples_->size(); }
  // The clients that may commit an update at the next height, ascending.
  const std::vector<std::uint32_t>& cohort() const { return cohort_; }
  const std::vector<ValidatorState>& validators() const { return validators_; }      // (n)
  const std::vector<Contribution>& contributions() const { return contributions_; }  // (n)
  // The committee that votes at the next height, ascending validator indices.
  const std::vector<std::uint32_t>& committee() const { return committee_; }
  // Power that may vote: the stake of the committee members that are not jailed.
  std::uint64_t voting_power() const;
  // Not jailed: may sign update transactions for the clients it hosts.
  bool is_active(std::uint32_t validator) const {
    return validator < validators_.size() && !validators_[validator].jailed;
  }
  // Active and on the committee: may propose and vote.
  bool can_vote(std::uint32_t validator) const;
  // With privacy.dp: the mechanism and the epsilon spent through this height.
  const std::optional<PrivacyRecord>& privacy() const { return privacy_; }

  // SHA-256("fedchain/state" || encode()), computed once per state.
  const Hash32& hash() const { return hash_; }
  Bytes encode() const;
  bool operator==(const ChainState& other) const { return hash_ == other.hash_; }

 private:
  ChainState() = default;
  void draw_cohort();                          // cohort_ for the height after last_state_root_
  void elect_committee();                      // committee_ for the epoch after last_block_hash_
  void start_privacy(const Genesis& genesis);  // privacy_ and accountant_, from genesis's job
  void seal();

  ContractParams contract_;
  std::uint64_t height_ = 0;
  Hash32 last_block_hash_;
  std::uint64_t last_time_ms_ = 0;
  Hash32 last_state_root_;
  CohortParams cohort_params_;
  std::shared_ptr<const std::vector<std::uint64_t>> client_samples_;  // (K), from genesis
  std::vector<std::uint32_t> cohort_;
  CommitteeParams committee_params_;
  std::vector<std::uint32_t> committee_;
  std::vector<ValidatorState> validators_;
  std::vector<Contribution> contributions_;
  std::optional<PrivacyRecord> privacy_;
  std::shared_ptr<const RdpAccountant> accountant_;  // privacy.dp: one step's RDP, from genesis
  Hash32 hash_;
};

}  // namespace fedchain::ledger
