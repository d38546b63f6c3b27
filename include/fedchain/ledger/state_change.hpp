// What one block changed in the chain state (chain_state.hpp's rules): validators jailed
// or whose rejection streak moved, each rank's contribution ledger, the next cohort and
// committee, the privacy spent. `fedchain inspect --height` shows it and `fedchain report` lists
// the jailing heights from it; both replay the chain from genesis, which apply() allows without
// validation (it never indexes past the validator set), so a reader of an unverified
// chain sees what the rules make of it while `fedchain verify` says whether it holds.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "fedchain/ledger/chain_state.hpp"
#include "fedchain/ledger/chain_store.hpp"

namespace fedchain::ledger {

struct ValidatorChange {
  std::uint32_t validator = 0;
  ValidatorState before;
  ValidatorState after;
};

struct ContributionChange {
  std::uint32_t validator = 0;
  Contribution before;
  Contribution after;
};

// Lists that changed, as (before, after); unset when equal.
struct ListChange {
  std::vector<std::uint32_t> before;
  std::vector<std::uint32_t> after;
};

struct PrivacyChange {
  PrivacyRecord before;
  PrivacyRecord after;
};

struct StateChange {
  std::vector<ValidatorChange> validators;        // ascending validator, only those that changed
  std::vector<ContributionChange> contributions;  // ascending validator, only those that changed
  std::optional<ListChange> cohort;               // the clients that may commit next
  std::optional<ListChange> committee;            // who votes at the next height
  std::optional<PrivacyChange> privacy;           // privacy.dp: rounds and epsilon spent
};

StateChange state_change(const ChainState& before, const ChainState& after);

// The chain state after block `height` of `store` (0: genesis), by apply() from genesis.
// `height` must be at most store.height().
ChainState state_at(const ChainStore& store, std::uint64_t height);

}  // namespace fedchain::ledger
