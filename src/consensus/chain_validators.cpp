#include "fedchain/consensus/chain_validators.hpp"

#include <vector>

namespace fedchain::consensus {

Result<ValidatorSet> validator_set_of(const ledger::ChainState& state) {
  std::vector<ValidatorInfo> validators;
  validators.reserve(state.validators().size());
  // Only the committee votes: everyone else has power 0, so quorums, proposer turns and
  // certificates count the committee's stake alone.
  for (std::uint32_t i = 0; i < state.validators().size(); ++i) {
    validators.push_back({state.can_vote(i) ? state.validators()[i].power : 0, false});
  }
  return ValidatorSet::make(std::move(validators));
}

std::uint32_t proposer_of(const ledger::ChainState& state, std::uint64_t height,
                          std::uint32_t round) {
  auto set = validator_set_of(state);
  if (!set) return UINT32_MAX;
  return set->proposer(height, round);
}

}  // namespace fedchain::consensus
