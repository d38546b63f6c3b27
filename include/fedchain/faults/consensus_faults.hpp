// The Byzantine behaviours of the vote, once, for every place that runs them: the job
// file's faults.consensus on MPI ranks (make_byzantine_filter, through net::ConsensusLoop)
// and the simulator's adversarial schedules (tests/consensus/sim). Each is an
// OutboundFilter around an honest state machine: the machine runs the protocol and the
// filter rewrites, withholds or adds to what it sends, signing with the validator's own
// key. What a block is differs between the two (ledger blocks, the simulator's), so the
// edits a behaviour makes to one are injected as a BlockEditor. docs/consensus.md
// ("Byzantine behaviours from the job file") says what each one does and what the honest
// validators see.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

#include "fedchain/consensus/messages.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/job.hpp"
#include "fedchain/crypto/ed25519.hpp"
#include "fedchain/faults/outbound_filter.hpp"

namespace fedchain::faults {

// In the order of kConsensusFaultNames (core/job.hpp), which names them.
enum class ConsensusFault : std::uint8_t {
  kNone,
  kEquivocate,       // proposals: block A to one half, a twin B to the other; votes follow
  kDoubleVote,       // each own vote to one half, a conflicting one to the other
  kWithholdVotes,    // proposes, never votes
  kInvalidVote,      // proposes bad-root blocks; every vote names a block nobody honest accepts
  kWrongStateRoot,   // proposes blocks with a made-up state root, and votes for them
  kForgeSignatures,  // honest, plus precommits and proposals in others' names, own signature
  kReplay,           // honest, plus old messages it received, sent again with each own vote
  kSilent,           // sends nothing at all; still listens and commits
};

// "equivocate" -> kEquivocate; a config error naming faults.consensus for anything else.
Result<ConsensusFault> parse_consensus_fault(std::string_view name);
std::string_view consensus_fault_name(ConsensusFault fault);

// A block as the behaviours need it: re-encoded with one edit, and hashed as votes name it.
struct EditedBlock {
  Bytes bytes;
  Hash32 hash;
};
class BlockEditor {
 public:
  virtual ~BlockEditor() = default;
  // Another block for the same height, equally valid (another hash); nullopt when `block`
  // does not decode (nothing honest would have proposed it).
  virtual std::optional<EditedBlock> twin(ByteView block) const = 0;
  // The block with `root` as its state root, re-hashed.
  virtual std::optional<EditedBlock> with_state_root(ByteView block, const Hash32& root) const = 0;
  virtual std::optional<Hash32> hash(ByteView block) const = 0;
};

// Ledger blocks (ledger::Block): a twin is one millisecond later; roots and hash re-derived.
const BlockEditor& ledger_blocks();

// The two blocks an equivocating proposer shows the two halves at (height, round). Each
// filter keeps its own; colluding validators (the simulator's fork test) share one.
struct EquivocationPlan {
  std::map<std::pair<std::uint64_t, std::uint32_t>,
           std::pair<consensus::Proposal, consensus::Proposal>>
      split;
};

// Who the misbehaving validator is and what it may use.
struct FaultContext {
  std::uint32_t self = 0;
  std::uint32_t n = 0;
  std::function<Signature(ByteView)> sign;  // with this validator's own key
  const BlockEditor* blocks = nullptr;
  std::uint64_t seed = 0;  // fixes the made-up hashes and the replay choices
  // Which half of the other validators `rank` is in (equivocation and double votes split
  // by it); empty: the even ranks are the first half.
  std::function<bool(std::uint32_t rank)> in_first_half;
  std::shared_ptr<EquivocationPlan> plan;  // empty: a plan of its own
};

// The filter that carries out `fault`, or null for kNone.
std::unique_ptr<OutboundFilter> make_fault_filter(ConsensusFault fault, FaultContext context);

// The filter that makes `rank` misbehave as faults.consensus says, or null when the rank
// is not in faults.byzantine or the behaviour is none. `key` is the rank's own signing key;
// `seed` (the job seed) fixes the made-up hashes and the replay choices, so a rerun of the
// job misbehaves the same way. Call check_consensus_faults (core/job_file.hpp) first.
Result<std::unique_ptr<OutboundFilter>> make_byzantine_filter(const FaultsSection& faults,
                                                              std::uint32_t rank,
                                                              std::uint32_t ranks,
                                                              crypto::SigningKey key,
                                                              std::uint64_t seed);

}  // namespace fedchain::faults
