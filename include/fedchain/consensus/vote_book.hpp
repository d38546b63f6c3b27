// The votes of one height, by round and type, with running power tallies. A second,
// different vote for a filled (validator, round, type) slot is an equivocation: it is
// reported, and counted towards its own block only (never twice towards "any vote").
//
// WARNING: the conflicting vote must still count for its block. An equivocator that sends
// A to half the validators and B to the rest may complete a quorum for A; a validator that
// saw B first must still be able to count the A vote in a commit certificate, or it can
// never commit the decided block. Safety does not suffer: two quorums for different blocks
// still overlap in > 1/3 of the power, hence in an honest validator, who never equivocates.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "fedchain/consensus/validator_set.hpp"
#include "fedchain/ledger/vote.hpp"

namespace fedchain::consensus {

class VoteBook {
 public:
  enum class AddResult {
    kAdded,            // first vote in its slot
    kDuplicate,        // already held
    kConflict,         // first conflicting vote in the slot: evidence
    kConflictCounted,  // a further conflicting vote, counted for its block
    kDropped,          // the slot already holds kMaxPerSlot votes
  };
  static constexpr std::size_t kMaxPerSlot = 3;

  explicit VoteBook(ValidatorSet set) : set_(std::move(set)) {}

  // Checks the slot only; the caller has verified the signature and the fields.
  AddResult add(const ledger::Vote& vote);
  // True if this exact vote is already held (first or conflicting).
  bool holds(const ledger::Vote& vote) const;
  // True if add() would drop a vote for another block in `vote`'s slot (kDropped): callers
  // refuse it before paying for its signature check.
  bool slot_full(const ledger::Vote& vote) const;
  // The first vote in `vote`'s slot, if any.
  const ledger::Vote* slot(const ledger::Vote& vote) const;
  const ledger::Vote* find(std::uint32_t round, ledger::VoteType type,
                           std::uint32_t validator) const;

  std::uint64_t power_for(std::uint32_t round, ledger::VoteType type,
                          const std::optional<Hash32>& block) const;
  std::uint64_t power_total(std::uint32_t round, ledger::VoteType type) const;
  // Power of the distinct validators with any vote in `round`.
  std::uint64_t power_any(std::uint32_t round) const;
  // The block (or nil) with > 2/3 of the power in (round, type), if one has it.
  std::optional<std::optional<Hash32>> quorum(std::uint32_t round, ledger::VoteType type) const;
  // Every vote for `block` in (round, type), by validator index.
  std::vector<ledger::Vote> votes_for(std::uint32_t round, ledger::VoteType type,
                                      const Hash32& block) const;
  const ValidatorSet& validators() const { return set_; }
  // Rounds holding at least one vote, ascending.
  std::vector<std::uint32_t> rounds() const;
  std::optional<std::uint32_t> highest_round() const;
  std::size_t round_count() const { return rounds_.size(); }

 private:
  struct Tally {
    std::vector<std::optional<ledger::Vote>> by_validator;  // the first vote per slot
    std::vector<std::vector<ledger::Vote>> conflicting;     // later votes per slot
    std::map<std::optional<Hash32>, std::uint64_t> power_for;
    std::uint64_t total = 0;
  };
  struct Round {
    Tally prevotes;
    Tally precommits;
    std::vector<bool> seen;  // any vote from this validator in the round
    std::uint64_t power_any = 0;
  };
  const Tally* tally(std::uint32_t round, ledger::VoteType type) const;

  ValidatorSet set_;
  std::map<std::uint32_t, Round> rounds_;
};

}  // namespace fedchain::consensus
