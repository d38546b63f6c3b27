#include "fedchain/consensus/chain_validators.hpp"

#include <vector>

namespace fedchain::consensus {

Result<ValidatorSet> validator_set_of(const ledger::ChainState& state) {
  std::vector<ValidatorInfo> validators;
  validators.reserve(state.validators().size());
  for (const auto& v : state.validators()) validators.push_back({v.power, v.jailed});
  return ValidatorSet::make(std::move(validators));
}

std::uint32_t proposer_of(const ledger::ChainState& state, std::uint64_t height,
                          std::uint32_t round) {
  auto set = validator_set_of(state);
  if (!set) return UINT32_MAX;
  return set->proposer(height, round);
}

}  // namespace fedchain::consensus
