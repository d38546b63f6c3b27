#include "fedchain/consensus/chain_validators.hpp"

#include <algorithm>
#include <vector>

namespace fedchain::consensus {

Result<ValidatorSet> validator_set_of(const ledger::ChainState& state) {
  std::vector<ValidatorInfo> validators;
  validators.reserve(state.validators().size());
  // Only the committee votes: everyone else has power 0, so quorums, proposer turns and
  // certificates count the committee's stake alone. A jailed member keeps its power on
  // record, flagged: it votes no more, but still hears the committee (ConsensusLoop).
  const auto& committee = state.committee();
  for (std::uint32_t i = 0; i < state.validators().size(); ++i) {
    const auto& v = state.validators()[i];
    const bool member = std::binary_search(committee.begin(), committee.end(), i);
    validators.push_back({member ? v.power : 0, v.jailed});
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
