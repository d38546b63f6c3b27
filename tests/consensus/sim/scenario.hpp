// One simulated schedule, named by a line that replays it exactly:
//   n=7 behaviour=double_vote mix=lossy seed=42 byzantine=2 heights=3
// and with a committee (docs/consensus.md, "The committee"):
//   n=10 behaviour=silent mix=calm seed=3 byzantine=1 heights=15 committee=4 epoch=3
//   stakes=1,2,3,1,2,3,1,2,3,1
// Everything random in a run (Byzantine choice, delays, drops, partitions, strategy coin
// flips) is drawn from `seed`, so the line is all a failure report needs to carry.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fedchain/faults/consensus_faults.hpp"

namespace fedchain::consensus::sim {

enum class Behaviour {
  kNone,                  // all honest
  kEquivocatingProposer,  // two blocks to two halves, and votes to match
  kDoubleVote,            // every vote, and a conflicting one to the other half
  kWithholdVotes,         // proposes, never votes
  kInvalidVote,           // proposes bad state roots, votes for blocks that are invalid
  kWrongStateRoot,        // proposes bad state roots, otherwise honest
  kForgeSignatures,       // honest, plus votes and proposals forged in others' names
  kReplayOldMessages,     // honest, plus re-sends of old messages from anyone
  kSilent,                // sends nothing at all; still listens
  kMixed,                 // each Byzantine validator draws one of the above
  kColludeFork,           // f+1 or more: equivocate together to split honest validators
};

enum class NetworkMix {
  kCalm,       // 1-10 ms, nothing lost
  kJitter,     // heavy-tailed delays up to 400 ms: reordering, nothing lost
  kLossy,      // 20% of messages lost until the heal time, then none
  kPartition,  // two groups cut apart until the heal time
};

struct Scenario {
  std::uint32_t n = 4;
  Behaviour behaviour = Behaviour::kNone;
  NetworkMix mix = NetworkMix::kCalm;
  std::uint64_t seed = 1;
  std::uint32_t byzantine = 1;
  std::uint64_t heights = 3;  // every honest validator must commit heights 0 .. heights-1
  // 0: every validator votes at every height. Otherwise only `committee` of the n vote,
  // elected by stake (ledger::elect_committee) for each epoch of `epoch` heights; the
  // Byzantine validators are members of the first epoch's committee holding the smallest
  // stake (simulator.hpp).
  std::uint32_t committee = 0;
  std::uint64_t epoch = 3;
  std::vector<std::uint64_t> stakes;  // one per validator, their voting power; empty: 1 each
  // With a committee: the Byzantine validators are any of the n, drawn from the seed, as the
  // job file's bound counts them (f of all ranks), not members of the first committee.
  bool anywhere = false;
  // With a committee: a Byzantine validator proposing an epoch's last height picks, of many
  // equally valid blocks, the one whose hash elects the most Byzantine validators next.
  bool grind = false;
};

// The shipped behaviour (faults/consensus_faults.hpp) that `behaviour` is, named as the job
// file names it; nullopt for mixed and collude-fork, which the simulator composes.
std::optional<faults::ConsensusFault> shipped_fault(Behaviour behaviour);
std::string_view name(Behaviour behaviour);
std::string_view name(NetworkMix mix);
std::string describe(const Scenario& scenario);
// Parses describe()'s output; nullopt on anything it does not recognise.
std::optional<Scenario> parse_scenario(std::string_view line);

}  // namespace fedchain::consensus::sim
