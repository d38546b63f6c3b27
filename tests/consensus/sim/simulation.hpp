// The simulator's internals, shared by its two files (not installed; see simulator.hpp for
// the interface): simulator.cpp runs the event loop, the network and the checks;
// simulation_validators.cpp places the Byzantine validators, elects committees, builds and
// grinds blocks, and counts seats and rounds.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "byzantine.hpp"
#include "fake_crypto.hpp"
#include "fedchain/consensus/state_machine.hpp"
#include "sim_app.hpp"
#include "simulator.hpp"

namespace fedchain::consensus::sim::internal {

using ledger::Vote;
using ledger::VoteType;

inline constexpr std::uint64_t kRunLimitMs = 600'000;
// A schedule that needs more deliveries than this is a message storm, itself a bug.
inline constexpr std::uint64_t kMaxDeliveries = 400'000;
inline constexpr std::uint64_t kBuildBlockMs = 60;
inline constexpr std::uint64_t kSyncMs = 30;  // one block-sync round trip
// What a follower keeps for later heights (net::ConsensusLoop::kKeptForLater).
inline constexpr std::size_t kKeptForLater = 4096;
// Genesis hashes tried for one whose committee seats the Byzantine validators.
inline constexpr std::uint64_t kGenesisTries = 4096;
// Blocks a grinding proposer tries for the next committee (Scenario::grind).
inline constexpr std::uint64_t kGrindTries = 256;

struct Event {
  std::uint64_t time = 0;
  std::uint64_t seq = 0;
  std::uint32_t to = 0;
  std::shared_ptr<const Message> message;  // null: a timeout, or a block to propose
  Timeout timeout;
  enum Kind { kMessage, kTimeout, kBlockReady, kSync, kCertified } kind = kMessage;
  std::uint32_t from = 0;  // a message's sender
  // kCertified: a block and its certificate that a voter shares with a follower.
  std::shared_ptr<const Commit> certified = nullptr;
  bool operator>(const Event& other) const {
    return std::tie(time, seq) > std::tie(other.time, other.seq);
  }
};

class Simulation;

struct Node {
  Node(Simulation& sim, std::uint32_t id);

  Simulation& sim;
  std::uint32_t id;
  FakeSigner signer;
  std::unique_ptr<StateMachine> machine;
  std::unique_ptr<faults::OutboundFilter> strategy;  // the shipped fault; null: honest
  std::vector<std::pair<Vote, Vote>> evidence_pool;
  std::set<EvidenceKey> committed_evidence;
  std::vector<bool> jailed;
  std::vector<std::uint32_t> committee;  // this epoch's, elected from this node's chain
  std::vector<std::pair<std::uint32_t, Message>> kept_for_later;  // a follower's, with senders
  std::vector<std::shared_ptr<const Commit>> certified;           // shared blocks, oldest first
  std::uint32_t round_at_heal = 0;
  std::uint64_t height_at_heal = 0;
  bool syncing = false;
};

class Simulation {
 public:
  Simulation(const Scenario& scenario, const RunOptions& options);
  Report run();

  const Scenario scenario;
  const RunOptions options;
  std::mt19937_64 rng;
  FakeKeys keys;
  FakeBlockHasher hasher;
  std::uint64_t now = 0;
  // The two halves an equivocation or a double vote splits the others into: the Byzantine
  // validators and half of the honest ones, and the other honest half.
  std::vector<bool> in_first_half;
  // Shared by every equivocating validator: with f + 1 of them it forks (Fork tests).
  std::shared_ptr<faults::EquivocationPlan> plan = std::make_shared<faults::EquivocationPlan>();

  void send(std::uint32_t from, std::uint32_t to, std::shared_ptr<const Message> message);
  // What a Byzantine validator's filter puts on the wire.
  void send_from(std::uint32_t from, std::optional<std::uint32_t> to, const Message& message);

 private:
  bool honest(std::uint32_t id) const { return !nodes_[id]->strategy; }
  bool committee_mode() const { return scenario.committee > 0; }
  std::uint64_t stake(std::uint32_t v) const {
    return scenario.stakes.empty() ? 1 : scenario.stakes[v];
  }
  // Off the committee, or jailed on it: does not vote at its height (ConsensusLoop::follow_height).
  bool follows(const Node& node) const {
    return committee_mode() && !node.machine->validators().is_active(node.id);
  }
  std::vector<std::uint32_t> elect(const std::vector<bool>& jailed, const Hash32& seed) const;
  Result<ValidatorSet> set_of(const std::vector<std::uint32_t>& committee,
                              const std::vector<bool>& jailed) const;
  std::set<std::uint32_t> choose_byzantine(const std::vector<std::uint32_t>& ids);
  std::vector<std::uint32_t> seat_byzantine(const std::vector<std::uint32_t>& ids);
  Hash32 genesis_hash(std::uint64_t k) const;
  void split_halves();
  ValidatorSet validator_set(const Node& node) const;
  void enter_height(Node& node, std::uint64_t height);
  void next_epoch(Node& node, const Commit& commit);
  void share_block(Node& node, const Commit& commit);
  Commit forged_certificate(const Commit& commit, const ValidatorSet& set) const;
  void follow(Node& node);
  void receive(Node& node, std::uint32_t from, const Message& message);
  void deliver(Node& node, const Event& event);
  void broadcast(const Node& node, const std::shared_ptr<const Message>& message);
  void check_byzantine_share(const ValidatorSet& set);
  void count_rounds(const Node& node, const Commit& commit);
  void count_seats();
  std::uint64_t delay();
  void apply(Node& node, Outcome outcome);
  void handle(Node& node, Action& action);
  void on_commit(Node& node, const Commit& commit);
  void build_block(Node& node, const Timeout& request);
  bool grinds(const Node& node, std::uint64_t height) const;
  void grind(const Node& node, SimBlock& block) const;
  void sync(Node& node);
  void on_delivered(Node& node, const Message& message, const Status& status);
  bool done();
  std::uint64_t lowest_honest_height() const {
    std::uint64_t lowest = UINT64_MAX;
    for (const auto& node : nodes_) {
      if (honest(node->id)) lowest = std::min(lowest, node->machine->height());
    }
    return lowest;
  }
  void fail(std::string why);
  void note(std::string line) {
    if (options.trace) report_.trace += fmt::format("t={} {}\n", now, line);
  }
  std::string states() const;

  Hash32 chain_id_;
  Hash32 genesis_;  // seeds the first committee's election
  std::set<std::uint32_t> byzantine_;
  std::map<std::uint64_t, std::vector<std::uint32_t>> elected_;  // epoch -> honest election
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<int> group_;  // partition side, until heal
  std::uint64_t heal_ms_ = 0;
  // Every honest validator must reach it: the scenario's heights, and two heights past the
  // highest any honest validator held when the network healed.
  std::uint64_t goal_height_ = 0;
  std::map<std::uint64_t, std::uint32_t> round_at_heal_;  // height -> highest honest round
  std::string over_bound_;  // the first height that took more rounds than the bound
  // validator -> the lowest height of an equivocation of its that an honest validator found,
  // and the height whose block first held evidence against it.
  std::map<std::uint32_t, std::uint64_t> first_detected_, jailed_at_;
  bool healed_ = false;
  double drop_ = 0;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
  std::uint64_t seq_ = 0;
  std::map<std::uint64_t, Hash32> chain_;      // the first honest commit at each height
  std::map<std::uint64_t, Commit> certified_;  // what block sync hands out
  std::set<EvidenceKey> committed_keys_, detected_keys_, happened_keys_;
  std::map<EvidenceKey, std::optional<Hash32>> accepted_;  // first vote honest nodes took
  Report report_;
};

}  // namespace fedchain::consensus::sim::internal
