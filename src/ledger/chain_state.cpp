// The chain-state contract (rules in chain_state.hpp).
#include "fedchain/ledger/chain_state.hpp"

#include <algorithm>

#include "fedchain/core/encoding.hpp"
#include "fedchain/core/job_file.hpp"
#include "fedchain/crypto/sha256.hpp"
#include "fedchain/ledger/committee.hpp"

namespace fedchain::ledger {

namespace {
constexpr std::string_view kStateHashDomain = "fedchain/state";
}

ChainState ChainState::from_genesis(const Genesis& genesis) {
  ChainState s;
  const auto& g = genesis.fields();
  s.contract_ = g.contract;
  s.last_block_hash_ = genesis.hash();
  s.last_time_ms_ = g.time_ms;
  s.last_state_root_ = g.initial_state_root;
  s.cohort_params_ = g.cohort;
  auto samples = std::make_shared<std::vector<std::uint64_t>>();
  for (const auto& shard : g.shards) samples->push_back(shard.samples);
  s.client_samples_ = std::move(samples);
  for (const auto& v : g.validators) s.validators_.push_back({v.key, v.power, false, 0});
  s.contributions_.resize(g.validators.size());
  s.committee_params_ = g.committee;
  s.start_privacy(genesis);
  s.draw_cohort();
  s.elect_committee();
  s.seal();
  return s;
}

ChainState ChainState::apply(const Block& block) const {
  ChainState next = *this;
  const auto& header = block.header();
  for (const auto& e : block.evidence()) {
    if (e.validator() < next.validators_.size()) next.validators_[e.validator()].jailed = true;
  }
  for (const auto& tx : block.txs()) {
    if (tx.rank() >= next.validators_.size()) continue;
    auto& validator = next.validators_[tx.rank()];
    auto& ledger = next.contributions_[tx.rank()];
    ledger.samples_trained += tx.samples();
    const bool rejected = std::binary_search(header.rejected_clients.begin(),
                                             header.rejected_clients.end(), tx.client());
    if (!rejected) {
      ledger.updates_accepted += 1;
      ledger.rewards += contract_.reward_per_update;
      validator.rejected_streak = 0;
      continue;
    }
    ledger.updates_rejected += 1;
    validator.rejected_streak += 1;
    if (contract_.jail_after_rejections > 0 &&
        validator.rejected_streak >= contract_.jail_after_rejections) {
      validator.jailed = true;
    }
  }
  next.height_ = header.height;
  next.last_block_hash_ = block.hash();
  next.last_time_ms_ = header.time_ms;
  next.last_state_root_ = header.state_root;
  next.draw_cohort();
  if (header.height % committee_params_.epoch == 0) next.elect_committee();
  if (auto& privacy = next.privacy_) {
    privacy->noised_rounds += 1;
    privacy->epsilon_micro =
        epsilon_micro(accountant_->spent(privacy->noised_rounds, privacy->delta).epsilon);
  }
  next.seal();
  return next;
}

std::uint64_t ChainState::voting_power() const {
  std::uint64_t total = 0;
  for (const std::uint32_t v : committee_)
    total += validators_[v].jailed ? 0 : validators_[v].power;
  return total;
}

bool ChainState::can_vote(std::uint32_t validator) const {
  return is_active(validator) &&
         std::binary_search(committee_.begin(), committee_.end(), validator);
}

// The mechanism comes from the job genesis records whole (its chain id is the job's hash);
// a job that does not parse, or has no privacy.dp, has no privacy record. The accountant's
// per-step RDP is computed once here; each height takes only the minimum over its orders.
void ChainState::start_privacy(const Genesis& genesis) {
  const auto& g = genesis.fields();
  const auto job = parse_job(g.job_toml, "the job recorded in genesis");
  if (!job || !job->privacy.dp) return;
  PrivacyRecord record;
  record.clip = job->privacy.clip;
  record.noise_multiplier = job->privacy.noise_multiplier;
  record.delta = job->privacy.delta;
  record.sampled_clients = g.cohort.rule.per_round;
  record.clients = static_cast<std::uint32_t>(g.shards.size());
  accountant_ = std::make_shared<const RdpAccountant>(
      sampling_rate(record.sampled_clients, record.clients), record.noise_multiplier);
  record.epsilon_micro = epsilon_micro(accountant_->spent(0, record.delta).epsilon);
  privacy_ = record;
}

void ChainState::draw_cohort() {
  cohort_ = ledger::draw_cohort(cohort_params_.rule, *client_samples_,
                                cohort_seed(cohort_params_.seed, last_state_root_));
}

void ChainState::elect_committee() {
  std::vector<std::uint64_t> stakes;
  for (const auto& v : validators_) stakes.push_back(v.jailed ? 0 : v.power);
  committee_ = ledger::elect_committee(stakes, committee_params_.size, last_block_hash_);
}

// Encoded only, for its hash: nothing decodes a chain state, it is recomputed from the chain.
Bytes ChainState::encode() const {
  Writer w;
  // The cohort follows from last_state_root_ and genesis, so it is not encoded again.
  w.version(privacy_ ? kChainStateVersion : kChainStateVersionWithoutPrivacy)(
      height_, last_block_hash_, last_time_ms_, last_state_root_, contract_, committee_params_,
      limit(committee_, kMaxValidators));
  // One list entry per rank, zipped from the two vectors: its validator state, then its
  // contributions.
  w.u32(static_cast<std::uint32_t>(validators_.size()));
  for (std::size_t i = 0; i < validators_.size(); ++i) w(validators_[i], contributions_[i]);
  if (privacy_) w(*privacy_);
  return w.take();
}

void ChainState::seal() {
  hash_ = crypto::sha256({as_bytes(kStateHashDomain), encode()});
}

}  // namespace fedchain::ledger
