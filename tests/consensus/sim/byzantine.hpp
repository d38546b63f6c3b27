// Byzantine behaviours as strategies wrapped around an honest state machine: the inner
// machine runs the protocol, and the strategy rewrites, withholds or adds to what it sends.
// Production code carries no fault flags (STYLE.md, cometbft: inject a strategy).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "fake_crypto.hpp"
#include "fedchain/consensus/messages.hpp"
#include "fedchain/consensus/validator_set.hpp"
#include "scenario.hpp"

namespace fedchain::consensus::sim {

// Colluding validators share the two blocks they show the two halves at (height, round).
struct CollusionPlan {
  std::map<std::pair<std::uint64_t, std::uint32_t>, std::pair<Proposal, Proposal>> split;
};

// What a strategy may do: sign with its own key, and send to anyone.
class ByzantineContext {
 public:
  virtual ~ByzantineContext() = default;
  virtual std::uint32_t self() const = 0;
  virtual std::uint32_t n() const = 0;
  virtual std::uint64_t now() const = 0;
  virtual std::mt19937_64& rng() = 0;
  virtual const FakeKeys& keys() const = 0;
  virtual const ValidatorSet& validators() const = 0;  // of the inner machine's height
  virtual void send(std::uint32_t to, const Message& message) = 0;
  // The two halves the honest validators are split into (other Byzantines join half a).
  virtual const std::vector<std::uint32_t>& half_a() const = 0;
  virtual const std::vector<std::uint32_t>& half_b() const = 0;
  virtual CollusionPlan& plan() = 0;

  void broadcast(const Message& message);
  void send_all(const std::vector<std::uint32_t>& to, const Message& message);
  Signature sign(ByteView bytes) const { return keys().sign(self(), bytes); }
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  // A message the inner machine sends: to one validator, or to all (nullopt).
  virtual void on_send(ByzantineContext& ctx, std::optional<std::uint32_t> to,
                       const Message& message);
  virtual void on_receive(ByzantineContext& /*ctx*/, const Message& /*message*/) {}
  // The block to propose at (height, round), given the one an honest node would.
  virtual Bytes build_block(ByzantineContext& /*ctx*/, Bytes honest) { return honest; }
  // A crashed validator neither receives nor sends from this time on.
  virtual bool crashed(std::uint64_t /*now*/) const { return false; }
};

std::unique_ptr<Strategy> make_strategy(Behaviour behaviour, std::mt19937_64& rng);

}  // namespace fedchain::consensus::sim
