// The consensus view of a ledger chain state: the validator set it implies (committee
// members hold their stake as power; jailed validators and every rank off the committee
// hold none) and the proposer rotation over that set. The node hands the
// set to the state machine each height; the audit (`fedchain verify`) and a resuming run
// that restores blocks check each certificate's proposer with proposer_of
// (a ledger::ProposerRule).
#pragma once

#include <cstdint>

#include "fedchain/consensus/validator_set.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/ledger/chain_state.hpp"

namespace fedchain::consensus {

Result<ValidatorSet> validator_set_of(const ledger::ChainState& state);

// The proposer of (height, round) under `state`; UINT32_MAX when no validator holds power
// (no proposer can be right, and ledger validation refuses such a block anyway).
std::uint32_t proposer_of(const ledger::ChainState& state, std::uint64_t height,
                          std::uint32_t round);

}  // namespace fedchain::consensus
