// The votes of one height, by round and type, with running power tallies. Holds at most
// one vote per (validator, round, type) slot: a second, different vote for a filled slot
// is an equivocation and is reported, never counted.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "fedchain/consensus/validator_set.hpp"
#include "fedchain/ledger/vote.hpp"

namespace fedchain::consensus {

class VoteBook {
 public:
  enum class AddResult { kAdded, kDuplicate, kConflict, kConflictAgain };

  explicit VoteBook(const ValidatorSet* set = nullptr) : set_(set) {}

  // Checks the slot only; the caller has verified the signature and the fields.
  AddResult add(const ledger::Vote& vote);
  // The vote already in `vote`'s slot, if any.
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
  // Rounds holding at least one vote, ascending.
  std::vector<std::uint32_t> rounds() const;
  std::optional<std::uint32_t> highest_round() const;

 private:
  struct Tally {
    std::vector<std::optional<ledger::Vote>> by_validator;
    std::vector<bool> conflicted;
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

  const ValidatorSet* set_;
  std::map<std::uint32_t, Round> rounds_;
};

}  // namespace fedchain::consensus
