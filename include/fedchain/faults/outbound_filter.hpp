// The seam where a consensus fault enters: everything a validator's state machine sends
// passes through an OutboundFilter before the wire (net::ConsensusLoop over MPI, the
// simulator's network in tests/consensus/sim). Honest validators carry none; the state
// machine itself has no fault flags.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "fedchain/consensus/messages.hpp"

namespace fedchain::faults {

// Sends one message: to a validator, or to every other validator when `to` is empty.
using SendFn = std::function<void(std::optional<std::uint32_t> to, const consensus::Message&)>;

class OutboundFilter {
 public:
  virtual ~OutboundFilter() = default;
  // Everything the machine sends passes through here; `send` puts a message on the wire.
  virtual void on_send(std::optional<std::uint32_t> to, const consensus::Message& message,
                       const SendFn& send) = 0;
  // Every decoded message that arrives from validator `from`, before the machine sees it (a
  // replaying validator keeps some to send again later).
  virtual void on_received(std::uint32_t /*from*/, const consensus::Message& /*message*/) {}
};

}  // namespace fedchain::faults
