// The Tendermint rules for one validator (docs/consensus.md). Inputs check what a peer sent
// and store it; advance() then applies every rule whose condition now holds, until none
// does. All state changes happen here; the caller carries out the returned actions.
#include "fedchain/consensus/state_machine.hpp"

#include <algorithm>
#include <limits>
#include <tuple>

namespace fedchain::consensus {

using ledger::Vote;
using ledger::VoteType;

std::uint64_t TimeoutConfig::duration(TimeoutKind kind, std::uint32_t round) const {
  std::uint64_t base = 0;
  std::uint64_t delta = 0;
  switch (kind) {
    case TimeoutKind::kPropose:
      base = propose_ms, delta = propose_delta_ms;
      break;
    case TimeoutKind::kPrevote:
      base = prevote_ms, delta = prevote_delta_ms;
      break;
    case TimeoutKind::kPrecommit:
      base = precommit_ms, delta = precommit_delta_ms;
      break;
    case TimeoutKind::kRetransmit:
      base = retransmit_ms, delta = retransmit_delta_ms;
      break;
  }
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  if (delta != 0 && round > (kMax - base) / delta) return kMax;
  return base + delta * round;
}

StateMachine::StateMachine(Config config, Signer& signer, const BlockHasher& hasher)
    : config_(std::move(config)),
      signer_(signer),
      hasher_(hasher),
      set_(ValidatorSet::equal(1)),
      votes_(set_) {}

Outcome StateMachine::start_height(std::uint64_t height, ValidatorSet validators) {
  if (started_ && height <= height_) {
    return {reject("stale-height", "height {} is not above the current height {}", height, height_),
            {}};
  }
  if (!validators.contains(config_.self)) {
    return {config_error("validator index {} is outside the set of {} at height {}", config_.self,
                         validators.size(), height),
            {}};
  }
  std::vector<Message> buffered;
  if (started_ && height == height_ + 1) buffered.swap(next_height_);
  next_height_.clear();

  if (started_ && height == height_ + 1) {
    last_votes_.emplace(std::move(votes_));
    last_round_ = round_;
  } else {
    last_votes_.reset();
  }
  started_ = true;
  height_ = height;
  set_ = std::move(validators);
  round_ = 0;
  phase_ = Phase::kPropose;
  locked_block_.reset();
  locked_round_.reset();
  valid_block_.reset();
  valid_round_.reset();
  proposals_.clear();
  proposal_round_of_.clear();
  other_carriers_.clear();
  carriers_per_round_.clear();
  validity_.clear();
  votes_ = VoteBook(set_);
  buffered_by_.assign(set_.size(), {});
  requested_round_.reset();
  prevote_timeout_rounds_.clear();
  precommit_timeout_rounds_.clear();
  valid_updated_rounds_.clear();

  Outcome outcome;
  start_round(0, outcome.actions);
  // Only verified messages were buffered (buffer_next_height): Ed25519 is the dearest step of
  // a height, so each is verified once.
  for (const Message& message : buffered) {
    if (const auto* proposal = std::get_if<Proposal>(&message)) {
      (void)accept_proposal(*proposal, outcome.actions, Arrival::kVerified);
    } else {
      (void)accept_vote(std::get<Vote>(message), outcome.actions, Arrival::kVerified);
    }
  }
  advance(outcome.actions);
  return outcome;
}

Outcome StateMachine::on_message(const Message& message) {
  if (const auto* proposal = std::get_if<Proposal>(&message)) return on_proposal(*proposal);
  return on_vote(std::get<Vote>(message));
}

Outcome StateMachine::on_vote(const Vote& vote) {
  Outcome outcome;
  outcome.status = accept_vote(vote, outcome.actions);
  advance(outcome.actions);
  return outcome;
}

Outcome StateMachine::on_proposal(const Proposal& proposal) {
  Outcome outcome;
  outcome.status = accept_proposal(proposal, outcome.actions);
  advance(outcome.actions);
  return outcome;
}

Status StateMachine::check_sender(const Hash32& chain_id, std::uint32_t validator) const {
  if (!started_) return reject("not-started", "no height has been started");
  if (chain_id != config_.chain_id) return reject("wrong-chain", "message for another chain");
  if (!set_.contains(validator)) {
    return reject("unknown-validator", "validator {} is not in the set of {}", validator,
                  set_.size());
  }
  if (!set_.is_active(validator)) {
    return reject("inactive-validator", "validator {} is jailed or has no power", validator);
  }
  return {};
}

// Authenticate, then store, then act: nothing a vote says changes the state or draws a
// reply before its sender is in the set and its signature verifies. WARNING: a vote already
// held skips the signature check (replays cost one lookup; the held copy was verified), but
// any other vote, a conflicting one above all, is verified before it is stored: otherwise
// anyone could forge "evidence" against an honest validator.
Status StateMachine::accept_vote(const Vote& vote, std::vector<Action>& out, Arrival arrival) {
  if (!started_) return reject("not-started", "no height has been started");
  if (vote.chain_id != config_.chain_id) return reject("wrong-chain", "vote for another chain");
  if (vote.height < height_) return accept_old_vote(vote, out);
  if (auto st = check_sender(vote.chain_id, vote.validator); !st) return st;
  const bool held = vote.height == height_ && votes_.holds(vote);
  auto authentic = [&] {
    return held || arrival == Arrival::kVerified ||
           signer_.verify(vote.validator, vote.sign_bytes(), vote.signature);
  };
  if (vote.height > height_ + 1) {
    // Verified only when an ask is due: a peer far ahead sends a stream of these, and
    // checking each would cost a lagging validator the time it needs to catch up.
    if (ask_due(vote.validator)) {
      if (!authentic()) return bad_vote_signature(vote);
      ask_for_catchup(vote.validator, out);
    }
    return reject("future-height", "vote for height {} beyond {}", vote.height, height_ + 1);
  }
  if (vote.round > round_ + config_.round_window) {
    return reject("far-round", "vote for round {} beyond {}", vote.round,
                  round_ + config_.round_window);
  }
  // Refusals that need no signature come before the check: they cost a lookup, not an
  // Ed25519 verify.
  if (vote.height == height_ + 1) {
    if (is_buffered(vote)) return {};
    if (!may_buffer(vote.validator, false)) {
      return reject("buffer-full", "validator {} has filled its share of the next height",
                    vote.validator);
    }
  }
  if (vote.height == height_ && !held && votes_.slot_full(vote)) {
    return reject("conflicting-vote", "validator {} already caught equivocating here",
                  vote.validator);
  }
  if (!authentic()) return bad_vote_signature(vote);
  if (vote.height == height_ + 1) {
    buffer_next_height(vote.validator, vote);
    return {};
  }
  // WARNING: a decided validator is held at its height until every rank has committed it
  // (net::ConsensusLoop::run_height), so no one is a height ahead to answer a peer that is
  // stuck there. A peer voting for anything but the decided block may never have received
  // it (an equivocating proposer showed it another): answer as if it were a height behind.
  if (phase_ == Phase::kDecided && !decisions_.empty() && decisions_.back().height == height_ &&
      vote.block_hash != decisions_.back().proposal.block_hash && catchup_due(vote)) {
    serve_catchup(vote, out);
  }
  if (vote.round < round_) help_laggard(vote, out);
  switch (votes_.add(vote)) {
    case VoteBook::AddResult::kDuplicate:
      return reject("duplicate-vote", "vote already counted");
    case VoteBook::AddResult::kDropped:
      return reject("conflicting-vote", "validator {} already caught equivocating here",
                    vote.validator);
    case VoteBook::AddResult::kConflict:
      out.push_back(EquivocationFound{*votes_.slot(vote), vote});
      if (config_.relay_fanout > 0) {
        out.push_back(Broadcast{*votes_.slot(vote)});
        out.push_back(Broadcast{vote});
      }
      return {};
    case VoteBook::AddResult::kConflictCounted:
    case VoteBook::AddResult::kAdded:
      relay(vote, out);
      return {};
  }
  return {};
}

Status StateMachine::bad_vote_signature(const Vote& vote) {
  return reject("bad-signature", "vote signature of validator {} does not verify", vote.validator);
}

// A vote for a height we left: a lagging peer asking for what was decided (catch-up), or a
// late vote of the previous height, which may still be evidence. Its validator may be
// jailed by now, but must be in the set. It is verified only if it is to be answered or
// kept, and not already held: a stream of old votes costs lookups, not signature checks.
Status StateMachine::accept_old_vote(const Vote& vote, std::vector<Action>& out) {
  if (!set_.contains(vote.validator)) {
    return reject("unknown-validator", "validator {} is not in the set of {}", vote.validator,
                  set_.size());
  }
  const auto refused = [&] {
    return reject("old-height", "vote for height {} below {}", vote.height, height_);
  };
  const bool previous = vote.height + 1 == height_ && last_votes_.has_value();
  const bool held = previous && last_votes_->holds(vote);
  const bool answer = catchup_due(vote);
  const bool keep = previous && !held && may_record_late(vote);
  if (!answer && !keep) return refused();
  if (!held && !signer_.verify(vote.validator, vote.sign_bytes(), vote.signature)) {
    return bad_vote_signature(vote);
  }
  if (answer) serve_catchup(vote, out);
  if (keep) record_late_vote(vote, out);
  return refused();
}

Status StateMachine::accept_proposal(const Proposal& proposal, std::vector<Action>& out,
                                     Arrival arrival) {
  if (auto st = check_sender(proposal.chain_id, proposal.proposer); !st) return st;
  if (proposal.height < height_) {
    return reject("old-height", "proposal for height {} below {}", proposal.height, height_);
  }
  auto signed_by_proposer = [&] {
    return arrival == Arrival::kVerified ||
           signer_.verify(proposal.proposer, proposal.sign_bytes(), proposal.signature);
  };
  if (proposal.height > height_ + 1) {
    if (ask_due(proposal.proposer)) {
      if (!signed_by_proposer()) return bad_proposal_signature(proposal);
      ask_for_catchup(proposal.proposer, out);
    }
    return reject("future-height", "proposal for height {} beyond {}", proposal.height,
                  height_ + 1);
  }
  if (proposal.round > round_ + config_.round_window) {
    return reject("far-round", "proposal for round {} beyond {}", proposal.round,
                  round_ + config_.round_window);
  }
  if (proposal.pol_round && *proposal.pol_round >= proposal.round) {
    return reject("bad-pol-round", "pol round {} is not below round {}", *proposal.pol_round,
                  proposal.round);
  }
  if (proposal.block.size() > config_.max_block_bytes) {
    return reject("oversized-block", "block of {} bytes", proposal.block.size());
  }
  const bool current = proposal.height == height_;
  if (current && proposal.proposer != set_.proposer(height_, proposal.round)) {
    return reject("wrong-proposer", "validator {} is not the proposer of round {}",
                  proposal.proposer, proposal.round);
  }
  const auto held = current ? proposals_.find(proposal.round) : proposals_.end();
  if (held != proposals_.end()) {
    if (held->second == proposal || proposal_carrying(proposal.block_hash) != nullptr) {
      return reject("duplicate-proposal", "proposal already held");
    }
    if (!may_carry(proposal)) {
      return reject("carrier-limit", "round {} carries as many other proposals as it may",
                    proposal.round);
    }
  }
  if (!current && is_buffered(proposal)) return {};
  if (!current && !may_buffer(proposal.proposer, true)) {
    return reject("buffer-full", "validator {} already has a proposal for the next height",
                  proposal.proposer);
  }
  if (!signed_by_proposer()) return bad_proposal_signature(proposal);
  if (arrival == Arrival::kFresh && hasher_.hash(proposal.block) != proposal.block_hash) {
    return reject("block-hash-mismatch", "block bytes do not hash to the proposed hash");
  }
  if (!current) {
    buffer_next_height(proposal.proposer, proposal);
    return {};
  }
  // Stored before it is validated, so that every block with a verdict has a carrier: a
  // decision (R8) needs the block's bytes.
  if (held == proposals_.end()) {
    proposals_.emplace(proposal.round, proposal);
    proposal_round_of_.try_emplace(proposal.block_hash, proposal.round);
  } else {
    ++carriers_per_round_[proposal.round];
    other_carriers_.emplace(proposal.block_hash, proposal);
  }
  if (validity_.try_emplace(proposal.block_hash, Validity::kPending).second) {
    out.push_back(ValidateBlock{height_, proposal.block_hash, proposal.block});
  }
  if (held == proposals_.end()) return {};
  return reject("conflicting-proposal", "round {} already has another proposal", proposal.round);
}

Status StateMachine::bad_proposal_signature(const Proposal& proposal) {
  return reject("bad-signature", "proposal signature of validator {} does not verify",
                proposal.proposer);
}

// WARNING: the proposer of this round equivocated. Only the first proposal of a round is
// voted on, but another may be the block a quorum decides, and without its bytes we could
// never commit it. A proposer can sign any number of them, so a round keeps at most
// kCarriersPerRound, enough for an equivocation's twin; beyond that only a block that a
// quorum already precommitted, the one block that can be decided (the refused ones come
// again: a decided peer sends the certificate, then the proposal, to a validator still
// voting for something else, serve_catchup).
bool StateMachine::may_carry(const Proposal& proposal) const {
  auto it = carriers_per_round_.find(proposal.round);
  if (it == carriers_per_round_.end() || it->second < kCarriersPerRound) return true;
  for (std::uint32_t round : votes_.rounds()) {
    if (set_.is_quorum(votes_.power_for(round, VoteType::kPrecommit, proposal.block_hash))) {
      return true;
    }
  }
  return false;
}

// A validator's share of the next height's buffer: kBufferedVotesPerValidator votes and one
// proposal. Shares, not one pool: a validator flooding the next height fills only its own,
// and an honest validator's early messages still wait for us.
bool StateMachine::may_buffer(std::uint32_t validator, bool proposal) const {
  const auto [votes, proposals] = buffered_by_[validator];
  return proposal ? proposals < 1 : votes < kBufferedVotesPerValidator;
}

bool StateMachine::is_buffered(const Message& message) const {
  return std::find(next_height_.begin(), next_height_.end(), message) != next_height_.end();
}

// WARNING: only messages whose signature (and block hash) were just checked may come here:
// start_height replays them without checking again.
void StateMachine::buffer_next_height(std::uint32_t validator, Message message) {
  auto& [votes, proposals] = buffered_by_[validator];
  ++(std::holds_alternative<Proposal>(message) ? proposals : votes);
  next_height_.push_back(std::move(message));
}

const StateMachine::Decision* StateMachine::decision_at(std::uint64_t height) const {
  auto it = std::find_if(decisions_.begin(), decisions_.end(),
                         [&](const Decision& d) { return d.height == height; });
  return it == decisions_.end() ? nullptr : &*it;
}

// Whether `vote` is a peer's ask for a height we decided that is due an answer. Keyed on
// the height alone: the answer does not depend on the round, which the asker chooses (a
// new round per ask once drew a new answer each). WARNING: the certificate's own
// precommits, arriving late or as another node's catch-up reply, are not a peer asking.
// Answering them too grows a storm: each reply carries several precommits, and each would
// draw a reply of its own.
bool StateMachine::catchup_due(const Vote& vote) const {
  if (vote.validator == config_.self) return false;
  const Decision* decision = decision_at(vote.height);
  if (decision == nullptr || std::find(decision->precommits.begin(), decision->precommits.end(),
                                       vote) != decision->precommits.end()) {
    return false;
  }
  auto served = served_.find(vote.validator);
  return served == served_.end() || answer_due(served->second, vote.height, 0);
}

// Sends a peer asking for a height we decided (or, decided, voting at ours for another
// block) the certificate, then the block's proposal: precommits first, so that a receiver
// at its carrier limit already holds the quorum that makes it keep the proposal
// (may_carry). The caller has authenticated the ask and checked catchup_due.
void StateMachine::serve_catchup(const Vote& vote, std::vector<Action>& out) {
  const Decision* decision = decision_at(vote.height);
  mark_answered(served_[vote.validator], vote.height, 0);
  for (const Vote& precommit : decision->precommits) {
    out.push_back(SendTo{vote.validator, precommit});
  }
  out.push_back(SendTo{vote.validator, decision->proposal});
}

// A peer stuck in one place asks with every message it (re-)sends. Its first ask from a
// newer place is answered; after that, in case an answer was lost, kRepeatsPerRound more
// while we stay in one (height, round) of ours, however often it asks: a flood of asks
// draws a bounded count of replies, and checking whether one is due needs no signature
// check. Callers pass a place that the asker cannot raise at will: heights we decided,
// rounds below ours, or our own.
bool StateMachine::answer_due(const Served& served, std::uint64_t height,
                              std::uint32_t round) const {
  if (!served.answered || std::tie(height, round) > std::tie(served.height, served.round)) {
    return true;
  }
  return std::tie(served.our_height, served.our_round) != std::tie(height_, round_) ||
         served.repeats < kRepeatsPerRound;
}

void StateMachine::mark_answered(Served& served, std::uint64_t height, std::uint32_t round) {
  if (!served.answered || std::tie(height, round) > std::tie(served.height, served.round)) {
    served.answered = true;
    served.height = height;
    served.round = round;
    return;
  }
  if (std::tie(served.our_height, served.our_round) != std::tie(height_, round_)) {
    served.our_height = height_;
    served.our_round = round_;
    served.repeats = 0;
  }
  ++served.repeats;
}

// A peer at our height but an older round may be waiting for > 2/3 votes of its round that
// it lost; ours are among them. Without this, lost messages can leave honest validators in
// different rounds forever: each re-sends only its own round.
void StateMachine::help_laggard(const Vote& vote, std::vector<Action>& out) {
  if (vote.validator == config_.self) return;
  Served& helped = helped_[vote.validator];
  if (!answer_due(helped, vote.height, vote.round)) return;
  mark_answered(helped, vote.height, vote.round);
  for (VoteType type : {VoteType::kPrevote, VoteType::kPrecommit}) {
    if (const Vote* own = votes_.find(vote.round, type, config_.self)) {
      out.push_back(SendTo{vote.validator, *own});
    }
  }
}

// The vote of ours that shows a peer heights ahead where we are: a prevote first, since a
// precommit of ours may sit in the peer's certificate, and those are never taken as asks.
const Vote* StateMachine::own_latest_vote() const {
  for (VoteType type : {VoteType::kPrevote, VoteType::kPrecommit}) {
    if (const Vote* own = votes_.find(round_, type, config_.self)) return own;
  }
  return nullptr;
}

// Whether a message from `peer`, heights ahead of us, is due an ask: once per (height,
// round) of ours, and only when we have a vote to show.
bool StateMachine::ask_due(std::uint32_t peer) const {
  if (peer == config_.self || own_latest_vote() == nullptr) return false;
  auto asked = asked_.find(peer);
  return asked == asked_.end() || answer_due(asked->second, height_, round_);
}

// A peer is heights ahead: its messages for those heights are dropped, so show it where we
// are and it answers with the decision we lack (serve_catchup). The caller has
// authenticated the peer's message and checked ask_due.
void StateMachine::ask_for_catchup(std::uint32_t peer, std::vector<Action>& out) {
  mark_answered(asked_[peer], height_, round_);
  out.push_back(SendTo{peer, *own_latest_vote()});
}

// A re-proposal travels with the > 2/3 prevotes of its proof-of-lock round: a validator
// that lost them would otherwise refuse it forever (rule R3 waits for the proof).
void StateMachine::broadcast_proposal(const Proposal& proposal, std::vector<Action>& out) {
  out.push_back(Broadcast{proposal});
  if (!proposal.pol_round) return;
  for (const Vote& prevote :
       votes_.votes_for(*proposal.pol_round, VoteType::kPrevote, proposal.block_hash)) {
    out.push_back(Broadcast{prevote});
  }
}

void StateMachine::relay(const Vote& vote, std::vector<Action>& out) const {
  if (vote.validator == config_.self) return;
  // To the next relay_fanout validators after this one that hold power: a rank off the
  // committee does not vote, so a vote relayed to it would help nobody.
  const std::uint32_t n = set_.size();
  std::uint32_t relayed = 0;
  for (std::uint32_t k = 1; relayed < config_.relay_fanout && k < n; ++k) {
    const std::uint32_t to = (config_.self + k) % n;
    if (!set_.is_active(to)) continue;
    ++relayed;
    if (to != vote.validator) out.push_back(SendTo{to, vote});
  }
}

// Whether a late vote of the previous height would be kept: from a validator active
// there, within that height's round window (a Byzantine validator can sign a vote for
// every round), in a slot with room.
bool StateMachine::may_record_late(const Vote& vote) const {
  return last_votes_->validators().is_active(vote.validator) &&
         vote.round <= last_round_ + config_.round_window && !last_votes_->slot_full(vote);
}

// A verified vote of the previous height that we do not hold and may keep.
void StateMachine::record_late_vote(const Vote& vote, std::vector<Action>& out) {
  if (last_votes_->add(vote) == VoteBook::AddResult::kConflict) {
    out.push_back(EquivocationFound{*last_votes_->slot(vote), vote});
    if (config_.relay_fanout > 0) {
      out.push_back(Broadcast{*last_votes_->slot(vote)});
      out.push_back(Broadcast{vote});
    }
  }
}

Outcome StateMachine::on_commit_certificate(const Bytes& block,
                                            const std::vector<Vote>& precommits) {
  Outcome outcome;
  const std::optional<Hash32> block_hash = hasher_.hash(block);
  if (!started_ || phase_ == Phase::kDecided || precommits.empty() || !block_hash) {
    outcome.status = reject("bad-certificate", "no certificate is wanted, or the block is bad");
    return outcome;
  }
  const std::uint32_t round = precommits.front().round;
  std::vector<bool> counted(set_.size());
  std::uint64_t power = 0;
  for (const Vote& v : precommits) {
    if (v.chain_id != config_.chain_id || v.height != height_ || v.round != round ||
        v.type != VoteType::kPrecommit || v.block_hash != block_hash ||
        !set_.is_active(v.validator) || counted[v.validator] ||
        !signer_.verify(v.validator, v.sign_bytes(), v.signature)) {
      outcome.status = reject("bad-certificate",
                              "precommit of validator {} does not certify "
                              "this block at height {}",
                              v.validator, height_);
      return outcome;
    }
    counted[v.validator] = true;
    power += set_.power(v.validator);
  }
  if (!set_.is_quorum(power)) {
    outcome.status =
        reject("bad-certificate", "certificate holds {} of {} power", power, set_.total_power());
    return outcome;
  }
  // Not kept for catch-up replies: we hold no signed proposal to send with it.
  phase_ = Phase::kDecided;
  outcome.actions.push_back(Commit{height_, round, *block_hash, block, precommits});
  return outcome;
}

Outcome StateMachine::on_timeout(const Timeout& timeout) {
  Outcome outcome;
  auto& out = outcome.actions;
  // WARNING: retransmit goes on after deciding, for as long as the driver holds the height
  // (net::ConsensusLoop holds the last height of a run, and each height until every rank
  // has committed it). A peer still at this height may hold the decided block and vote for
  // it, so it draws no catch-up, yet lack the precommits (dropped while it was two heights
  // behind); our re-sent votes are then all that can complete its quorum.
  if (!started_ || timeout.height != height_ || timeout.round != round_ ||
      (phase_ == Phase::kDecided && timeout.kind != TimeoutKind::kRetransmit)) {
    return outcome;  // stale: the state it was set for has passed
  }
  switch (timeout.kind) {
    case TimeoutKind::kPropose:
      if (phase_ == Phase::kPropose) {
        cast(VoteType::kPrevote, std::nullopt, out);
        phase_ = Phase::kPrevote;
      }
      break;
    case TimeoutKind::kPrevote:
      if (phase_ == Phase::kPrevote) {
        cast(VoteType::kPrecommit, std::nullopt, out);
        phase_ = Phase::kPrecommit;
      }
      break;
    case TimeoutKind::kPrecommit:
      start_round(round_ + 1, out);
      break;
    case TimeoutKind::kRetransmit:
      // Messages can be lost; the round's own messages go out again until it moves on.
      if (auto it = proposals_.find(round_);
          it != proposals_.end() && it->second.proposer == config_.self) {
        broadcast_proposal(it->second, out);
      }
      for (VoteType type : {VoteType::kPrevote, VoteType::kPrecommit}) {
        if (const Vote* own = votes_.find(round_, type, config_.self)) {
          out.push_back(Broadcast{*own});
        }
      }
      schedule(TimeoutKind::kRetransmit, out);
      break;
  }
  advance(out);
  return outcome;
}

Outcome StateMachine::on_block_ready(std::uint64_t height, std::uint32_t round, Bytes block) {
  Outcome outcome;
  if (!started_ || height != height_ || round != round_ || phase_ != Phase::kPropose ||
      requested_round_ != round || proposals_.contains(round)) {
    outcome.status =
        reject("stale-block-request", "no block is wanted for height {} round {}", height, round);
    return outcome;
  }
  const std::optional<Hash32> block_hash = hasher_.hash(block);
  if (!block_hash) {
    outcome.status = reject("bad-block", "the application's block does not hash");
    return outcome;
  }
  propose(*block_hash, std::move(block), std::nullopt, outcome.actions);
  advance(outcome.actions);
  return outcome;
}

Outcome StateMachine::on_block_validated(std::uint64_t height, const Hash32& block_hash,
                                         bool valid) {
  Outcome outcome;
  auto it = validity_.find(block_hash);
  if (!started_ || height != height_ || it == validity_.end() || it->second != Validity::kPending) {
    outcome.status = reject("stale-validation", "no validation pending for this block");
    return outcome;
  }
  it->second = valid ? Validity::kValid : Validity::kInvalid;
  advance(outcome.actions);
  return outcome;
}

void StateMachine::start_round(std::uint32_t round, std::vector<Action>& out) {
  round_ = round;
  phase_ = Phase::kPropose;
  schedule(TimeoutKind::kRetransmit, out);
  if (set_.proposer(height_, round) != config_.self) {
    schedule(TimeoutKind::kPropose, out);
    return;
  }
  // A block that gathered > 2/3 prevotes is proposed again, with that round as its proof,
  // so validators locked on it can vote for it and the height can finish.
  if (valid_block_) {
    if (const Proposal* carrier = proposal_carrying(*valid_block_)) {
      propose(*valid_block_, carrier->block, valid_round_, out);
      return;
    }
  }
  requested_round_ = round;
  out.push_back(RequestBlock{height_, round});
}

void StateMachine::propose(const Hash32& block_hash, Bytes block,
                           std::optional<std::uint32_t> pol_round, std::vector<Action>& out) {
  Proposal proposal;
  proposal.chain_id = config_.chain_id;
  proposal.height = height_;
  proposal.round = round_;
  proposal.pol_round = pol_round;
  proposal.block_hash = block_hash;
  proposal.block = std::move(block);
  proposal.proposer = config_.self;
  proposal.signature = signer_.sign(proposal.sign_bytes());
  proposal_round_of_.try_emplace(block_hash, round_);
  validity_.try_emplace(block_hash, Validity::kValid);  // our own application built it
  broadcast_proposal(proposal, out);
  proposals_.emplace(round_, std::move(proposal));
}

void StateMachine::cast(VoteType type, const std::optional<Hash32>& block,
                        std::vector<Action>& out) {
  if (!set_.is_active(config_.self)) return;  // jailed: follow the chain, do not vote
  Vote vote;
  vote.chain_id = config_.chain_id;
  vote.height = height_;
  vote.round = round_;
  vote.type = type;
  vote.block_hash = block;
  vote.validator = config_.self;
  vote.signature = signer_.sign(vote.sign_bytes());
  (void)votes_.add(vote);
  out.push_back(Broadcast{std::move(vote)});
}

void StateMachine::schedule(TimeoutKind kind, std::vector<Action>& out) {
  out.push_back(
      ScheduleTimeout{Timeout{height_, round_, kind}, config_.timeouts.duration(kind, round_)});
}

Footprint StateMachine::footprint() const {
  return Footprint{.proposals = proposals_.size(),
                   .carriers = other_carriers_.size(),
                   .block_verdicts = validity_.size(),
                   .vote_rounds = votes_.round_count(),
                   .late_vote_rounds = last_votes_ ? last_votes_->round_count() : 0,
                   .buffered = next_height_.size(),
                   .decisions = decisions_.size()};
}

const Proposal* StateMachine::proposal_carrying(const Hash32& block_hash) const {
  if (auto it = proposal_round_of_.find(block_hash); it != proposal_round_of_.end()) {
    return &proposals_.at(it->second);
  }
  auto other = other_carriers_.find(block_hash);
  return other == other_carriers_.end() ? nullptr : &other->second;
}

std::optional<StateMachine::Validity> StateMachine::validity(const Hash32& block_hash) const {
  auto it = validity_.find(block_hash);
  if (it == validity_.end()) return std::nullopt;
  return it->second;
}

}  // namespace fedchain::consensus
