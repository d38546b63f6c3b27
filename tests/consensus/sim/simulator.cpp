// The simulator's event loop, network and checks (see simulator.hpp).
#include "simulator.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>

#include <fmt/format.h>

#include "byzantine.hpp"
#include "fedchain/consensus/state_machine.hpp"
#include "sim_app.hpp"

namespace fedchain::consensus::sim {

namespace {

using ledger::Vote;
using ledger::VoteType;

constexpr std::uint64_t kRunLimitMs = 600'000;
// A schedule that needs more deliveries than this is a message storm, itself a bug.
constexpr std::uint64_t kMaxDeliveries = 400'000;
constexpr std::uint64_t kBuildBlockMs = 60;
constexpr std::uint64_t kSyncMs = 30;  // one block-sync round trip

std::string brief(const Message& m) {
  if (const auto* p = std::get_if<Proposal>(&m)) {
    return fmt::format("proposal h={} r={} pol={} from={} block={}", p->height, p->round,
                       p->pol_round ? static_cast<std::int64_t>(*p->pol_round) : -1, p->proposer,
                       p->block_hash.short_hex(8));
  }
  const auto& v = std::get<Vote>(m);
  return fmt::format("{} h={} r={} from={} block={}",
                     v.type == VoteType::kPrevote ? "prevote" : "precommit", v.height, v.round,
                     v.validator, v.block_hash ? v.block_hash->short_hex(8) : "nil");
}

struct Event {
  std::uint64_t time = 0;
  std::uint64_t seq = 0;
  std::uint32_t to = 0;
  std::shared_ptr<const Message> message;  // null: a timeout, or a block to propose
  Timeout timeout;
  enum Kind { kMessage, kTimeout, kBlockReady, kSync } kind = kMessage;
  std::uint32_t from = 0;  // a message's sender
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
  std::uint64_t delay();
  void apply(Node& node, Outcome outcome);
  void handle(Node& node, Action& action);
  void on_commit(Node& node, const Commit& commit);
  void build_block(Node& node, const Timeout& request);
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
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<int> group_;  // partition side, until heal
  std::uint64_t heal_ms_ = 0;
  // Every honest validator must reach it: the scenario's heights, and two heights past the
  // highest any honest validator held when the network healed.
  std::uint64_t goal_height_ = 0;
  std::map<std::uint64_t, std::uint32_t> round_at_heal_;  // height -> highest honest round
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

Node::Node(Simulation& s, std::uint32_t i) : sim(s), id(i), signer(s.keys, i) {}

Simulation::Simulation(const Scenario& s, const RunOptions& o)
    : scenario(s), options(o), rng(s.seed * 0x9e3779b97f4a7c15ULL + s.n), keys(s.n, s.seed) {
  chain_id_ = fake_hash(as_bytes("fedchain-sim"), s.seed);
  // The Byzantine validators; colluders must hold the first proposer to split height 0.
  std::vector<std::uint32_t> ids(s.n);
  for (std::uint32_t i = 0; i < s.n; ++i) ids[i] = i;
  std::shuffle(ids.begin(), ids.end(), rng);
  if (s.behaviour == Behaviour::kColludeFork) {
    const std::uint32_t first = ValidatorSet::equal(s.n).proposer(0, 0);
    std::iter_swap(ids.begin(), std::find(ids.begin(), ids.end(), first));
  }
  std::set<std::uint32_t> byzantine;
  if (s.behaviour != Behaviour::kNone) byzantine.insert(ids.begin(), ids.begin() + s.byzantine);

  Config config;
  config.chain_id = chain_id_;
  for (std::uint32_t i = 0; i < s.n; ++i) {
    auto node = std::make_unique<Node>(*this, i);
    config.self = i;
    node->machine = std::make_unique<StateMachine>(config, node->signer, hasher);
    if (byzantine.contains(i)) {
      faults::FaultContext context;
      context.self = i;
      context.n = s.n;
      context.sign = [this, i](ByteView bytes) { return keys.sign(i, bytes); };
      context.blocks = &sim_blocks();
      context.seed = rng();
      context.in_first_half = [this](std::uint32_t rank) { return in_first_half[rank]; };
      context.plan = plan;
      node->strategy = faults::make_fault_filter(fault_for(s.behaviour, rng), std::move(context));
    }
    node->jailed.assign(s.n, false);
    nodes_.push_back(std::move(node));
  }
  bool to_first = true;
  for (std::uint32_t i = 0; i < s.n; ++i) {
    if (byzantine.contains(i)) {
      in_first_half.push_back(true);
    } else {
      in_first_half.push_back(to_first);
      to_first = !to_first;
    }
  }

  group_.assign(s.n, 0);
  switch (s.mix) {
    case NetworkMix::kCalm:
    case NetworkMix::kJitter:
      break;
    case NetworkMix::kLossy:
      drop_ = 0.2;
      heal_ms_ = 300 + rng() % 1700;
      break;
    case NetworkMix::kPartition: {
      const std::uint32_t cut = 1 + static_cast<std::uint32_t>(rng() % (s.n - 1));
      std::vector<std::uint32_t> order(ids);
      std::shuffle(order.begin(), order.end(), rng);
      for (std::uint32_t k = 0; k < cut; ++k) group_[order[k]] = 1;
      heal_ms_ = 300 + rng() % 1700;
      break;
    }
  }
  report_.heal_ms = heal_ms_;
  goal_height_ = s.heights;
}

std::uint64_t Simulation::delay() {
  switch (scenario.mix) {
    case NetworkMix::kCalm:
      return 1 + rng() % 10;
    case NetworkMix::kJitter: {
      std::exponential_distribution<double> tail(1.0 / 40);
      return 1 + std::min<std::uint64_t>(400, static_cast<std::uint64_t>(tail(rng)));
    }
    case NetworkMix::kLossy:
    case NetworkMix::kPartition:
      return 1 + rng() % 20;
  }
  return 1;
}

void Simulation::send(std::uint32_t from, std::uint32_t to,
                      std::shared_ptr<const Message> message) {
  if (to == from || to >= scenario.n) return;
  if (now < heal_ms_) {
    if (group_[from] != group_[to]) return;
    if (drop_ > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < drop_) return;
  }
  Event event{now + delay(), seq_++, to, std::move(message), {}};
  event.from = from;
  events_.push(std::move(event));
}

void Simulation::send_from(std::uint32_t from, std::optional<std::uint32_t> to,
                           const Message& message) {
  auto shared = std::make_shared<const Message>(message);
  if (to) return send(from, *to, std::move(shared));
  for (std::uint32_t v = 0; v < scenario.n; ++v) send(from, v, shared);
}

void Simulation::apply(Node& node, Outcome outcome) {
  for (Action& action : outcome.actions) handle(node, action);
}

void Simulation::handle(Node& node, Action& action) {
  StateMachine& m = *node.machine;
  const faults::SendFn wire = [this, &node](std::optional<std::uint32_t> to,
                                            const Message& message) {
    send_from(node.id, to, message);
  };
  if (auto* b = std::get_if<Broadcast>(&action)) {
    if (node.strategy) return node.strategy->on_send(std::nullopt, b->message, wire);
    auto shared = std::make_shared<const Message>(std::move(b->message));
    for (std::uint32_t to = 0; to < scenario.n; ++to) send(node.id, to, shared);
  } else if (auto* s = std::get_if<SendTo>(&action)) {
    if (node.strategy) return node.strategy->on_send(s->validator, s->message, wire);
    send(node.id, s->validator, std::make_shared<const Message>(std::move(s->message)));
  } else if (auto* t = std::get_if<ScheduleTimeout>(&action)) {
    events_.push(Event{now + t->after_ms, seq_++, node.id, nullptr, t->timeout, Event::kTimeout});
  } else if (auto* r = std::get_if<RequestBlock>(&action)) {
    // Building a block takes a while (training and aggregation, in fedchain).
    events_.push(Event{now + kBuildBlockMs, seq_++, node.id, nullptr,
                       Timeout{r->height, r->round, TimeoutKind::kPropose}, Event::kBlockReady});
  } else if (auto* v = std::get_if<ValidateBlock>(&action)) {
    const auto block = SimBlock::decode(v->block);
    const bool valid = block && block_is_valid(*block, v->height, keys, scenario.n);
    apply(node, m.on_block_validated(v->height, v->block_hash, valid));
  } else if (auto* c = std::get_if<Commit>(&action)) {
    on_commit(node, *c);
    std::vector<ValidatorInfo> next(scenario.n);
    for (std::uint32_t i = 0; i < scenario.n; ++i) next[i].jailed = node.jailed[i];
    auto set = ValidatorSet::make(std::move(next));
    apply(node, m.start_height(c->height + 1, set ? std::move(set).value() : m.validators()));
  } else if (auto* e = std::get_if<EquivocationFound>(&action)) {
    if (node.strategy) return;
    const EvidenceKey key = key_of(e->first);
    note(fmt::format("node {} found equivocation by {} h={} r={}", node.id, key.validator,
                     key.height, key.round));
    if (key.height < scenario.heights) detected_keys_.insert(key);
    const bool pooled = std::any_of(node.evidence_pool.begin(), node.evidence_pool.end(),
                                    [&](const auto& item) { return key_of(item.first) == key; });
    if (!pooled) node.evidence_pool.emplace_back(e->first, e->second);
  }
}

void Simulation::build_block(Node& node, const Timeout& request) {
  SimBlock block{request.height, node.id, honest_state_root(request.height), 0, {}};
  for (const auto& item : node.evidence_pool) {
    if (!node.committed_evidence.contains(key_of(item.first))) block.evidence.push_back(item);
  }
  Outcome outcome = node.machine->on_block_ready(request.height, request.round, block.encode());
  apply(node, std::move(outcome));  // a stale request is refused, and that is fine
}

// Block sync: one certified block per round trip, until the node is within reach of the
// consensus messages again.
void Simulation::sync(Node& node) {
  node.syncing = false;
  auto it = certified_.find(node.machine->height());
  if (it == certified_.end() || node.machine->phase() == Phase::kDecided) return;
  note(fmt::format("node {} syncs height {}", node.id, it->first));
  apply(node, node.machine->on_commit_certificate(it->second.block, it->second.precommits));
  if (certified_.contains(node.machine->height() + 1)) {
    node.syncing = true;
    events_.push(Event{now + kSyncMs, seq_++, node.id, nullptr, {}, Event::kSync});
  }
}

void Simulation::on_commit(Node& node, const Commit& commit) {
  note(fmt::format("node {} commits h={} r={} block={}", node.id, commit.height, commit.round,
                   commit.block_hash.short_hex(8)));
  const auto block = SimBlock::decode(commit.block);
  if (block) {
    for (const auto& [first, second] : block->evidence) {
      node.committed_evidence.insert(key_of(first));
      node.jailed[first.validator] = true;
    }
  }
  if (!honest(node.id)) return;
  report_.max_decision_round = std::max(report_.max_decision_round, commit.round);
  if (healed_) {
    // Counted from the highest round an honest validator held at heal: a validator cut off
    // alone sat in round 0 and only skips ahead.
    auto base = round_at_heal_.find(commit.height);
    const std::uint32_t from = base == round_at_heal_.end() ? 0 : base->second;
    const std::uint32_t used = commit.round - std::min(commit.round, from);
    report_.max_rounds_after_heal = std::max(report_.max_rounds_after_heal, used);
  }
  // The certificate: distinct validators, valid signatures, > 2/3 of the height's power.
  const ValidatorSet& set = node.machine->validators();
  std::uint64_t power = 0;
  std::set<std::uint32_t> signers;
  for (const Vote& v : commit.precommits) {
    if (v.block_hash != commit.block_hash || v.height != commit.height ||
        v.type != VoteType::kPrecommit || !keys.verify(v.validator, v.sign_bytes(), v.signature) ||
        !signers.insert(v.validator).second) {
      return fail(fmt::format("node {} commit certificate at height {} holds a bad vote", node.id,
                              commit.height));
    }
    power += set.power(v.validator);
  }
  if (!set.is_quorum(power)) {
    return fail(fmt::format("node {} committed height {} with {} of {} power", node.id,
                            commit.height, power, set.total_power()));
  }
  if (!block || !block_is_valid(*block, commit.height, keys, scenario.n)) {
    return fail(
        fmt::format("node {} committed an invalid block at height {}", node.id, commit.height));
  }
  auto [it, first] = chain_.try_emplace(commit.height, commit.block_hash);
  if (!first && it->second != commit.block_hash) {
    report_.fork = true;
    return fail(fmt::format("FORK at height {}: node {} committed {}, another honest node {}",
                            commit.height, node.id, commit.block_hash.short_hex(),
                            it->second.short_hex()));
  }
  if (first) {
    certified_.emplace(commit.height, commit);
    for (const auto& [evidence, other] : block->evidence) {
      if (committed_keys_.insert(key_of(evidence)).second) ++report_.evidence_committed;
    }
  }
}

// Which equivocations happened: two honest validators took different votes for one slot.
void Simulation::on_delivered(Node& node, const Message& message, const Status& status) {
  if (!status && status.error().code == "bad-signature") ++report_.bad_signatures;
  const auto* vote = std::get_if<Vote>(&message);
  if (vote == nullptr || !status || vote->height >= scenario.heights) return;
  if (vote->height != node.machine->height()) return;
  auto [it, first] = accepted_.try_emplace(key_of(*vote), vote->block_hash);
  if (!first && it->second != vote->block_hash) happened_keys_.insert(key_of(*vote));
}

bool Simulation::done() {
  if (!healed_) return false;
  for (const auto& node : nodes_) {
    if (honest(node->id) && node->machine->height() < goal_height_) return false;
  }
  // Nothing is lost in calm networks, so there every equivocation must be seen.
  if (scenario.mix == NetworkMix::kCalm &&
      !std::includes(detected_keys_.begin(), detected_keys_.end(), happened_keys_.begin(),
                     happened_keys_.end())) {
    return false;
  }
  return std::includes(committed_keys_.begin(), committed_keys_.end(), detected_keys_.begin(),
                       detected_keys_.end());
}

void Simulation::fail(std::string why) {
  if (!report_.ok) return;
  report_.ok = false;
  report_.failure = std::move(why);
}

std::string Simulation::states() const {
  std::string out;
  for (const auto& node : nodes_) {
    const StateMachine& m = *node->machine;
    out += fmt::format("  node {} {}: height {} round {} phase {} locked {}\n", node->id,
                       node->strategy ? "byzantine" : "honest", m.height(), m.round(),
                       static_cast<int>(m.phase()),
                       m.locked_round() ? static_cast<std::int64_t>(*m.locked_round()) : -1);
  }
  return out;
}

Report Simulation::run() {
  for (auto& node : nodes_) {
    apply(*node, node->machine->start_height(0, ValidatorSet::equal(scenario.n)));
  }
  while (report_.ok && !events_.empty()) {
    Event event = events_.top();
    events_.pop();
    now = event.time;
    if (!healed_ && now >= heal_ms_) {
      healed_ = true;
      for (auto& node : nodes_) {
        node->height_at_heal = node->machine->height();
        node->round_at_heal = node->machine->round();
        if (honest(node->id)) {
          goal_height_ = std::max(goal_height_, node->height_at_heal + 2);
          std::uint32_t& base = round_at_heal_[node->height_at_heal];
          base = std::max(base, node->round_at_heal);
        }
      }
    }
    if (now > heal_ms_ + kRunLimitMs) break;
    Node& node = *nodes_[event.to];
    if (event.message) {
      if (++report_.deliveries > kMaxDeliveries) {
        fail(fmt::format("message storm: {} deliveries by t={} ms\n{}", kMaxDeliveries, now,
                         states()));
        break;
      }
      note(fmt::format("deliver to {}: {}", node.id, brief(*event.message)));
      if (node.strategy) node.strategy->on_received(event.from, *event.message);
      Outcome outcome = node.machine->on_message(*event.message);
      if (honest(node.id)) on_delivered(node, *event.message, outcome.status);
      if (!outcome.status && outcome.status.error().code == "future-height" && !node.syncing) {
        node.syncing = true;  // a peer is heights ahead: fetch certified blocks (block sync)
        events_.push(Event{now + kSyncMs, seq_++, node.id, nullptr, {}, Event::kSync});
      }
      apply(node, std::move(outcome));
    } else if (event.kind == Event::kBlockReady) {
      build_block(node, event.timeout);
    } else if (event.kind == Event::kSync) {
      sync(node);
    } else {
      apply(node, node.machine->on_timeout(event.timeout));
    }
    if (done()) break;
    if (healed_ && lowest_honest_height() > goal_height_ + 3 * scenario.n + 6) {
      fail(fmt::format("detected evidence still not committed at height {}",
                       lowest_honest_height()));
    }
  }
  report_.end_ms = now;
  report_.equivocations_seen = detected_keys_.size();
  if (report_.ok && !done()) {
    fail(
        fmt::format("liveness: not done {} ms after heal (evidence detected {}, committed {}, "
                    "happened {})\n{}",
                    now - std::min(now, heal_ms_), detected_keys_.size(), committed_keys_.size(),
                    happened_keys_.size(), states()));
  }
  if (report_.ok && report_.max_rounds_after_heal > liveness_round_bound(scenario)) {
    fail(fmt::format("liveness: a height took {} rounds after heal, bound {}",
                     report_.max_rounds_after_heal, liveness_round_bound(scenario)));
  }
  return std::move(report_);
}

}  // namespace

std::uint32_t liveness_round_bound(const Scenario& scenario) {
  return scenario.byzantine + 3;
}

Report run_scenario(const Scenario& scenario, const RunOptions& options) {
  Simulation sim(scenario, options);
  return sim.run();
}

}  // namespace fedchain::consensus::sim
