// The simulator's Byzantine validators run the shipped behaviours (faults/consensus_faults.hpp)
// as the filters between their honest state machines and the simulated network; what the
// simulator adds is only what a simulated block is, and which behaviour a scenario draws.
#pragma once

#include <random>

#include "fedchain/faults/consensus_faults.hpp"
#include "scenario.hpp"

namespace fedchain::consensus::sim {

// SimBlock edits for the shipped behaviours: a twin has the next nonce; hashes are
// FakeBlockHasher's.
const faults::BlockEditor& sim_blocks();

// The shipped behaviour a Byzantine validator of `behaviour` runs: mixed draws one of the
// eight from `rng`, collude-fork equivocates (with a plan shared among the colluders).
faults::ConsensusFault fault_for(Behaviour behaviour, std::mt19937_64& rng);

}  // namespace fedchain::consensus::sim
