// The upon-rules of Tendermint (arXiv:1807.04938, Algorithm 1), for the current height.
// advance() applies them until none fires. Each rule names its line in docs/consensus.md.
#include "fedchain/consensus/state_machine.hpp"

namespace fedchain::consensus {

using ledger::Vote;
using ledger::VoteType;

void StateMachine::advance(std::vector<Action>& out) {
  if (!started_) return;
  while (phase_ != Phase::kDecided) {
    if (try_commit(out)) return;
    if (try_skip_round(out) || try_prevote(out) || try_precommit(out)) continue;
    break;
  }
  if (phase_ != Phase::kDecided) schedule_vote_timeouts(out);
}

// R8, commit: > 2/3 precommits for one block in any round, and the block is known.
// WARNING: the round is any round, not only ours: a validator that fell behind
// must still decide what a quorum decided. Safety comes from the lock rules (R2, R3, R5),
// which make a quorum of precommits in two rounds for two blocks impossible.
bool StateMachine::try_commit(std::vector<Action>& out) {
  for (std::uint32_t round : votes_.rounds()) {
    const auto quorum = votes_.quorum(round, VoteType::kPrecommit);
    if (!quorum || !*quorum) continue;
    // WARNING: decide a certified block even if this validator refused it. > 2/3 of the
    // power precommitted it, so with at most f Byzantine some honest validators judged it
    // valid; a validator that disagrees with them is the faulty one (fedchain: a rank whose
    // own state root is wrong, say from a flipped bit) and must follow the chain, not stall
    // on it forever. Only the block's bytes are needed: wait while it is unknown or its
    // validation is pending.
    const auto verdict = validity(**quorum);
    if (!verdict || *verdict == Validity::kPending) continue;
    decide(round, **quorum, out);
    return true;
  }
  return false;
}

// R9, catch up: validators with > 1/3 of the power (so at least one honest) are in a
// higher round; join the highest such round.
bool StateMachine::try_skip_round(std::vector<Action>& out) {
  const auto highest = votes_.highest_round();
  if (!highest || *highest <= round_) return false;
  for (std::uint32_t round = *highest; round > round_; --round) {
    if (set_.exceeds_one_third(votes_.power_any(round))) {
      start_round(round, out);
      return true;
    }
  }
  return false;
}

// R2 and R3, prevote on the round's proposal. A fresh proposal gets our vote unless we are
// locked on another block; a re-proposal with proof-of-lock round vr gets it if we locked
// no later than vr, since > 2/3 prevoted for it there.
bool StateMachine::try_prevote(std::vector<Action>& out) {
  if (phase_ != Phase::kPropose) return false;
  auto it = proposals_.find(round_);
  if (it == proposals_.end()) return false;
  const Proposal& proposal = it->second;
  const auto verdict = validity(proposal.block_hash);
  if (verdict == Validity::kPending) return false;
  const bool valid = verdict == Validity::kValid;
  const bool same_as_lock = locked_block_ == proposal.block_hash;
  bool vote_block = false;
  if (!proposal.pol_round) {
    vote_block = valid && (!locked_round_ || same_as_lock);
  } else {
    const std::uint32_t pol = *proposal.pol_round;
    if (!set_.is_quorum(votes_.power_for(pol, VoteType::kPrevote, proposal.block_hash))) {
      return false;  // the proof is not here yet; the propose timeout bounds the wait
    }
    vote_block = valid && (!locked_round_ || *locked_round_ <= pol || same_as_lock);
  }
  cast(VoteType::kPrevote, vote_block ? std::optional(proposal.block_hash) : std::nullopt, out);
  phase_ = Phase::kPrevote;
  return true;
}

// R5 and R6. > 2/3 prevotes for the round's valid proposal: lock on it and precommit it
// (if we have not precommitted yet), and remember it as the block to re-propose.
// > 2/3 prevotes for nil: precommit nil.
bool StateMachine::try_precommit(std::vector<Action>& out) {
  if (phase_ != Phase::kPrevote && phase_ != Phase::kPrecommit) return false;
  const auto quorum = votes_.quorum(round_, VoteType::kPrevote);
  if (!quorum) return false;
  if (*quorum && !valid_updated_rounds_.contains(round_)) {
    auto it = proposals_.find(round_);
    if (it == proposals_.end() || it->second.block_hash != **quorum ||
        validity(**quorum) != Validity::kValid) {
      return false;
    }
    valid_updated_rounds_.insert(round_);
    if (phase_ == Phase::kPrevote) {
      locked_block_ = **quorum;
      locked_round_ = round_;
      cast(VoteType::kPrecommit, **quorum, out);
      phase_ = Phase::kPrecommit;
    }
    valid_block_ = **quorum;
    valid_round_ = round_;
    return true;
  }
  if (!*quorum && phase_ == Phase::kPrevote) {
    cast(VoteType::kPrecommit, std::nullopt, out);
    phase_ = Phase::kPrecommit;
    return true;
  }
  return false;
}

// R4 and R7: > 2/3 of the power voted in this round but not (yet) for one block; wait a
// bounded time for the rest before giving up on the round.
void StateMachine::schedule_vote_timeouts(std::vector<Action>& out) {
  if (phase_ == Phase::kPrevote && set_.is_quorum(votes_.power_total(round_, VoteType::kPrevote)) &&
      prevote_timeout_rounds_.insert(round_).second) {
    schedule(TimeoutKind::kPrevote, out);
  }
  if (set_.is_quorum(votes_.power_total(round_, VoteType::kPrecommit)) &&
      precommit_timeout_rounds_.insert(round_).second) {
    schedule(TimeoutKind::kPrecommit, out);
  }
}

void StateMachine::decide(std::uint32_t round, const Hash32& block_hash, std::vector<Action>& out) {
  phase_ = Phase::kDecided;
  // A verdict implies a carrier: accept_proposal stores a proposal before validating it.
  const Proposal* carrier = proposal_carrying(block_hash);
  Decision decision{height_, *carrier, votes_.votes_for(round, VoteType::kPrecommit, block_hash)};
  out.push_back(Commit{height_, round, block_hash, carrier->block, decision.precommits});
  decisions_.push_back(std::move(decision));
  while (decisions_.size() > config_.catchup_heights) decisions_.pop_front();
}

}  // namespace fedchain::consensus
