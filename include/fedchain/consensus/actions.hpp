// What the state machine asks of its driver. Every input returns an Outcome: whether the
// input was accepted (a reject code if not) and the actions to carry out, in order.
#pragma once

#include <cstdint>
#include <variant>
#include <vector>

#include "fedchain/consensus/messages.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/ledger/vote.hpp"

namespace fedchain::consensus {

enum class TimeoutKind : std::uint8_t {
  kPropose,     // no proposal arrived in time: prevote nil
  kPrevote,     // > 2/3 prevotes but none for one block: precommit nil
  kPrecommit,   // > 2/3 precommits but none for one block: next round
  kRetransmit,  // the round has not moved: send our own messages of this round again
};

struct Timeout {
  std::uint64_t height = 0;
  std::uint32_t round = 0;
  TimeoutKind kind = TimeoutKind::kPropose;
  bool operator==(const Timeout&) const = default;
};

// Send to every other validator.
struct Broadcast {
  Message message;
};
// Send to one validator (catch-up replies to a peer that is heights behind).
struct SendTo {
  std::uint32_t validator = 0;
  Message message;
};
// Call on_timeout(timeout) after `after_ms` of the driver's clock.
struct ScheduleTimeout {
  Timeout timeout;
  std::uint64_t after_ms = 0;
};
// This validator proposes at (height, round): answer with on_block_ready.
struct RequestBlock {
  std::uint64_t height = 0;
  std::uint32_t round = 0;
};
// Is this block valid at `height`? Answer with on_block_validated. The block's bytes
// already hash to block_hash (BlockHasher).
struct ValidateBlock {
  std::uint64_t height = 0;
  Hash32 block_hash;
  Bytes block;
};
// The height is decided: append `block`, certified by `precommits` (> 2/3 of the power,
// all for block_hash in `round`), then call start_height(height + 1, ...).
struct Commit {
  std::uint64_t height = 0;
  std::uint32_t round = 0;
  Hash32 block_hash;
  Bytes block;
  std::vector<ledger::Vote> precommits;
};
// Two validly signed votes by one validator for the same height, round and type but
// different blocks: evidence for the next block this validator proposes.
struct EquivocationFound {
  ledger::Vote first;
  ledger::Vote second;
};

using Action = std::variant<Broadcast, SendTo, ScheduleTimeout, RequestBlock, ValidateBlock, Commit,
                            EquivocationFound>;

struct [[nodiscard]] Outcome {
  Status status;  // not ok: the input was refused; error().code says why
  std::vector<Action> actions;
};

}  // namespace fedchain::consensus
