// Byzantine behaviours in the vote, for fault experiments and end-to-end tests: the job
// file's faults.consensus, carried out by the ranks listed in faults.byzantine. Each is an
// OutboundFilter around an honest state machine, the same strategies as the simulator's
// (tests/consensus/sim/byzantine.cpp) but on the real wire: what a behaviour rewrites or
// adds it signs with the rank's own Ed25519 key, and blocks it alters are real ledger
// blocks, re-hashed. Honest ranks carry no filter; production code has no fault flags.
// docs/consensus.md ("Byzantine behaviours from the job file") says what each one does and
// what the honest ranks see.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "fedchain/core/error.hpp"
#include "fedchain/core/job.hpp"
#include "fedchain/crypto/ed25519.hpp"
#include "fedchain/net/consensus_loop.hpp"

namespace fedchain::net {

enum class ConsensusFault : std::uint8_t {
  kNone,
  kEquivocate,       // proposals: block A to even ranks, a twin B to odd ones; votes follow
  kDoubleVote,       // each own vote to even ranks, a conflicting one to odd ranks
  kWithholdVotes,    // proposes, never votes
  kInvalidVote,      // proposes bad-root blocks; every vote names a block nobody honest accepts
  kWrongStateRoot,   // proposes blocks with a made-up state root, and votes for them
  kForgeSignatures,  // honest, plus precommits and proposals in others' names, own signature
  kReplay,           // honest, plus old messages it received, sent again with each own vote
  kSilent,           // sends nothing at all; still listens, commits, trains and exchanges
};

// "equivocate" -> kEquivocate; a config error naming faults.consensus for anything else.
Result<ConsensusFault> parse_consensus_fault(std::string_view name);
std::string_view consensus_fault_name(ConsensusFault fault);

// The filter that makes `rank` misbehave as faults.consensus says, or null when the rank
// is not in faults.byzantine or the behaviour is none. `key` is the rank's own signing key;
// `seed` (the job seed) fixes the made-up hashes and the replay choices, so a rerun of the
// job misbehaves the same way. Call check_consensus_faults (core/job_file.hpp) first.
Result<std::unique_ptr<OutboundFilter>> make_byzantine_filter(const FaultsSection& faults,
                                                              std::uint32_t rank,
                                                              std::uint32_t ranks,
                                                              crypto::SigningKey key,
                                                              std::uint64_t seed);

}  // namespace fedchain::net
