// What a block changed in the chain state (state_change.hpp).
#include "fedchain/ledger/state_change.hpp"

#include <algorithm>

namespace fedchain::ledger {

namespace {

std::optional<ListChange> list_change(const std::vector<std::uint32_t>& before,
                                      const std::vector<std::uint32_t>& after) {
  if (before == after) return std::nullopt;
  return ListChange{before, after};
}

}  // namespace

StateChange state_change(const ChainState& before, const ChainState& after) {
  StateChange change;
  // Both states come from one genesis, so they hold the same validators in the same order.
  const std::size_t n = std::min(before.validators().size(), after.validators().size());
  for (std::uint32_t v = 0; v < n; ++v) {
    if (before.validators()[v] != after.validators()[v]) {
      change.validators.push_back({v, before.validators()[v], after.validators()[v]});
    }
    if (before.contributions()[v] != after.contributions()[v]) {
      change.contributions.push_back({v, before.contributions()[v], after.contributions()[v]});
    }
  }
  change.cohort = list_change(before.cohort(), after.cohort());
  change.committee = list_change(before.committee(), after.committee());
  if (before.privacy() && after.privacy() && before.privacy() != after.privacy()) {
    change.privacy = PrivacyChange{*before.privacy(), *after.privacy()};
  }
  return change;
}

ChainState state_at(const ChainStore& store, std::uint64_t height) {
  ChainState state = ChainState::from_genesis(store.genesis());
  for (std::uint64_t h = 1; h <= height && h <= store.height(); ++h) {
    state = state.apply(store.at(h).block);
  }
  return state;
}

}  // namespace fedchain::ledger
