// One validator's Tendermint state machine (docs/consensus.md). Pure and deterministic:
// no MPI, clock, files, threads or randomness. The driver feeds it decoded messages,
// fired timeouts and the application's answers, and carries out the returned actions.
//
// Driving it (node/ with net/, or the simulator):
//   StateMachine sm(config, signer, hasher);
//   run(sm.start_height(h, validator_set_for(h)));
//   loop: message -> run(sm.on_message(m)); timer -> run(sm.on_timeout(t));
//         RequestBlock -> run(sm.on_block_ready(h, r, block));
//         ValidateBlock -> run(sm.on_block_validated(h, hash, ok));
//         Commit -> store the block, then run(sm.start_height(h + 1, next_set)).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "fedchain/consensus/actions.hpp"
#include "fedchain/consensus/messages.hpp"
#include "fedchain/consensus/signer.hpp"
#include "fedchain/consensus/validator_set.hpp"
#include "fedchain/consensus/vote_book.hpp"

namespace fedchain::consensus {

// Abstract milliseconds; a round r waits base + delta * r, so that after the network
// settles some round is long enough for every honest message to arrive.
struct TimeoutConfig {
  std::uint64_t propose_ms = 300;
  std::uint64_t propose_delta_ms = 100;
  std::uint64_t prevote_ms = 100;
  std::uint64_t prevote_delta_ms = 50;
  std::uint64_t precommit_ms = 100;
  std::uint64_t precommit_delta_ms = 50;
  std::uint64_t retransmit_ms = 600;
  std::uint64_t retransmit_delta_ms = 100;

  std::uint64_t duration(TimeoutKind kind, std::uint32_t round) const;
};

struct Config {
  Hash32 chain_id;
  std::uint32_t self = 0;  // this validator's index in every height's set
  TimeoutConfig timeouts;
  // Messages for rounds more than this far above ours are dropped ("far-round"), which
  // bounds what a Byzantine validator can make us store.
  std::uint32_t round_window = 64;
  // Every vote we accept is passed on once to the next relay_fanout validators (ring order
  // after us), so that an equivocation sent to disjoint halves reaches someone who holds
  // the other half; both halves then go to everyone, as evidence. 0 turns relaying off.
  std::uint32_t relay_fanout = 2;
  // Decided heights kept to bring lagging peers up (catch-up replies).
  std::uint32_t catchup_heights = 16;
  std::size_t max_block_bytes = kDefaultMaxBlockBytes;
};

enum class Phase : std::uint8_t { kPropose, kPrevote, kPrecommit, kDecided };

// What the machine holds on behalf of its peers, for tests and counters: every entry has a
// bound (docs/consensus.md, Threats).
struct Footprint {
  std::size_t proposals = 0;         // the first proposal of each round, this height
  std::size_t carriers = 0;          // further proposals kept for their block
  std::size_t block_verdicts = 0;    // blocks validated or being validated
  std::size_t vote_rounds = 0;       // rounds of this height holding votes
  std::size_t late_vote_rounds = 0;  // rounds of the previous height holding votes
  std::size_t buffered = 0;          // messages waiting for the next height
  std::size_t decisions = 0;         // decided heights kept for catch-up replies
};

class StateMachine {
 public:
  StateMachine(Config config, Signer& signer, const BlockHasher& hasher);
  StateMachine(const StateMachine&) = delete;
  StateMachine& operator=(const StateMachine&) = delete;

  // Enters `height` (greater than the current one) at round 0 with its validator set.
  // Indices must mean the same validators at every height; jail or zero power instead of
  // removing one.
  Outcome start_height(std::uint64_t height, ValidatorSet validators);

  Outcome on_message(const Message& message);
  Outcome on_proposal(const Proposal& proposal);
  Outcome on_vote(const ledger::Vote& vote);
  Outcome on_timeout(const Timeout& timeout);
  // The answer to RequestBlock(height, round).
  Outcome on_block_ready(std::uint64_t height, std::uint32_t round, Bytes block);
  // The answer to ValidateBlock(height, block_hash).
  Outcome on_block_validated(std::uint64_t height, const Hash32& block_hash, bool valid);

  // Block sync for a validator more than catchup_heights behind: a block and the > 2/3
  // precommits that certified it at the current height, fetched by the driver from a
  // peer's chain. Every precommit is checked; the block is decided without asking the
  // application, since > 2/3 of the power (so at least one honest validator) validated it.
  Outcome on_commit_certificate(const Bytes& block, const std::vector<ledger::Vote>& precommits);

  std::uint64_t height() const { return height_; }
  std::uint32_t round() const { return round_; }
  Phase phase() const { return phase_; }
  std::optional<std::uint32_t> locked_round() const { return locked_round_; }
  const ValidatorSet& validators() const { return set_; }
  const Config& config() const { return config_; }
  Footprint footprint() const;

 private:
  // Bounds on what peers can make us hold or send (docs/consensus.md, Threats).
  // Proposals kept per round besides the first, for their block (may_carry).
  static constexpr std::uint32_t kCarriersPerRound = 2;
  // A validator's share of the next height's buffer: votes, and one proposal (may_buffer).
  static constexpr std::uint32_t kBufferedVotesPerValidator = 8;
  // Repeated answers to one peer while we stay in one (height, round) (answer_due).
  static constexpr std::uint32_t kRepeatsPerRound = 1;

  enum class Validity : std::uint8_t { kPending, kValid, kInvalid };
  struct Decision {
    std::uint64_t height = 0;
    Proposal proposal;  // the proposal that carried the decided block
    std::vector<ledger::Vote> precommits;
  };

  // kVerified: a message buffered for the next height, whose signature (and a proposal's
  // block hash) was checked when it arrived; replaying it skips that check.
  enum class Arrival : std::uint8_t { kFresh, kVerified };
  Status accept_vote(const ledger::Vote& vote, std::vector<Action>& out,
                     Arrival arrival = Arrival::kFresh);
  Status accept_proposal(const Proposal& proposal, std::vector<Action>& out,
                         Arrival arrival = Arrival::kFresh);
  Status accept_old_vote(const ledger::Vote& vote, std::vector<Action>& out);
  static Status bad_vote_signature(const ledger::Vote& vote);
  static Status bad_proposal_signature(const Proposal& proposal);
  Status check_sender(const Hash32& chain_id, std::uint32_t validator) const;
  bool may_carry(const Proposal& proposal) const;
  bool may_buffer(std::uint32_t validator, bool proposal) const;
  bool is_buffered(const Message& message) const;
  const Decision* decision_at(std::uint64_t height) const;
  bool catchup_due(const ledger::Vote& vote) const;
  void serve_catchup(const ledger::Vote& vote, std::vector<Action>& out);
  bool may_record_late(const ledger::Vote& vote) const;
  void record_late_vote(const ledger::Vote& vote, std::vector<Action>& out);
  void help_laggard(const ledger::Vote& vote, std::vector<Action>& out);
  const ledger::Vote* own_latest_vote() const;
  bool ask_due(std::uint32_t peer) const;
  void ask_for_catchup(std::uint32_t peer, std::vector<Action>& out);
  void broadcast_proposal(const Proposal& proposal, std::vector<Action>& out);
  void relay(const ledger::Vote& vote, std::vector<Action>& out) const;
  void buffer_next_height(std::uint32_t validator, Message message);

  // The rules (docs/consensus.md, Rules); each returns true when it changed the state.
  void advance(std::vector<Action>& out);
  bool try_commit(std::vector<Action>& out);
  bool try_skip_round(std::vector<Action>& out);
  bool try_prevote(std::vector<Action>& out);
  bool try_precommit(std::vector<Action>& out);
  void schedule_vote_timeouts(std::vector<Action>& out);

  void start_round(std::uint32_t round, std::vector<Action>& out);
  void propose(const Hash32& block_hash, Bytes block, std::optional<std::uint32_t> pol_round,
               std::vector<Action>& out);
  void cast(ledger::VoteType type, const std::optional<Hash32>& block, std::vector<Action>& out);
  void schedule(TimeoutKind kind, std::vector<Action>& out);
  void decide(std::uint32_t round, const Hash32& block_hash, std::vector<Action>& out);
  const Proposal* proposal_carrying(const Hash32& block_hash) const;
  std::optional<Validity> validity(const Hash32& block_hash) const;

  Config config_;
  Signer& signer_;
  const BlockHasher& hasher_;

  bool started_ = false;
  std::uint64_t height_ = 0;
  ValidatorSet set_;
  std::uint32_t round_ = 0;
  Phase phase_ = Phase::kPropose;
  std::optional<Hash32> locked_block_;
  std::optional<std::uint32_t> locked_round_;
  std::optional<Hash32> valid_block_;
  std::optional<std::uint32_t> valid_round_;

  std::map<std::uint32_t, Proposal> proposals_;  // by round: the first from its proposer
  std::unordered_map<Hash32, std::uint32_t> proposal_round_of_;  // block -> proposals_ key
  // Second, validly signed proposals of a round: never voted on, but a block a quorum
  // precommitted may only have reached us this way (an equivocating proposer).
  std::unordered_map<Hash32, Proposal> other_carriers_;
  std::map<std::uint32_t, std::uint32_t> carriers_per_round_;  // other_carriers_ by round
  std::unordered_map<Hash32, Validity> validity_;
  VoteBook votes_;
  // The previous height's votes: a conflicting vote that arrives after we moved on is still
  // evidence.
  std::optional<VoteBook> last_votes_;
  std::uint32_t last_round_ = 0;                  // the round we left the previous height in
  std::optional<std::uint32_t> requested_round_;  // RequestBlock already sent for it
  std::set<std::uint32_t> prevote_timeout_rounds_;
  std::set<std::uint32_t> precommit_timeout_rounds_;
  std::set<std::uint32_t> valid_updated_rounds_;  // rule "> 2/3 prevotes for v" fired

  std::vector<Message> next_height_;  // verified messages for height_ + 1
  // next_height_ by validator: (votes, proposals), each below its share (may_buffer).
  std::vector<std::pair<std::uint32_t, std::uint32_t>> buffered_by_;
  std::deque<Decision> decisions_;  // the last catchup_heights decisions
  struct Served {
    bool answered = false;
    std::uint64_t height = 0;  // the newest place the peer asked from and was answered
    std::uint32_t round = 0;
    std::uint64_t our_height = 0;  // where we were when we last repeated an answer
    std::uint32_t our_round = 0;
    std::uint32_t repeats = 0;  // repeated answers since we got there
  };
  // Answers to peers that are behind, by peer: whole heights (catch-up), or rounds of
  // our height (our own votes of their round).
  bool answer_due(const Served& served, std::uint64_t height, std::uint32_t round) const;
  void mark_answered(Served& served, std::uint64_t height, std::uint32_t round);
  std::map<std::uint32_t, Served> served_;
  std::map<std::uint32_t, Served> helped_;
  std::map<std::uint32_t, Served> asked_;  // peers seen heights ahead of us
};

}  // namespace fedchain::consensus
