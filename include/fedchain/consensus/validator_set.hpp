// The validator set for one height: voting power and jail flags per validator index.
// Quorum arithmetic and proposer rotation live here so that every rule in the state
// machine counts power the same way. The node derives a set per height from chain state
// (jailing on evidence, power changes) and hands it to StateMachine::start_height.
#pragma once

#include <cstdint>
#include <vector>

#include "fedchain/core/error.hpp"

namespace fedchain::consensus {

struct ValidatorInfo {
  std::uint64_t power = 1;
  bool jailed = false;  // a jailed validator neither votes nor proposes
};

class ValidatorSet {
 public:
  // Refuses an empty set, no active power, or total power above 2^60 (keeps 3 * power exact).
  static Result<ValidatorSet> make(std::vector<ValidatorInfo> validators);
  // n validators with power 1 and none jailed.
  static ValidatorSet equal(std::uint32_t n);

  std::uint32_t size() const { return static_cast<std::uint32_t>(validators_.size()); }
  bool contains(std::uint32_t index) const { return index < validators_.size(); }
  bool is_active(std::uint32_t index) const;
  // Zero for a jailed validator or an index outside the set.
  std::uint64_t power(std::uint32_t index) const;
  std::uint64_t total_power() const { return total_power_; }
  const std::vector<ValidatorInfo>& validators() const { return validators_; }

  // More than 2/3 of the active power: enough to lock or commit.
  bool is_quorum(std::uint64_t power) const { return 3 * power > 2 * total_power_; }
  // More than 1/3 of the active power: at least one honest validator is among them.
  bool exceeds_one_third(std::uint64_t power) const { return 3 * power > total_power_; }

  // The proposer of (height, round). Over any window of P consecutive (height + round)
  // values, where P is the total active power divided by the gcd of the powers, each active
  // validator proposes exactly power / gcd times, spread by a stride coprime to P.
  std::uint32_t proposer(std::uint64_t height, std::uint32_t round) const;

 private:
  std::vector<ValidatorInfo> validators_;
  std::uint64_t total_power_ = 0;
  std::uint64_t period_ = 1;  // P
  std::uint64_t unit_ = 1;    // gcd of the active powers
  std::uint64_t stride_ = 1;  // coprime to P, near P * 0.618
};

}  // namespace fedchain::consensus
