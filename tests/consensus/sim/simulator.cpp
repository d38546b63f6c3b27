// The simulator's event loop, network and checks (see simulator.hpp).
#include "simulator.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <numeric>
#include <queue>
#include <random>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "byzantine.hpp"
#include "fedchain/consensus/state_machine.hpp"
#include "fedchain/ledger/committee.hpp"
#include "sim_app.hpp"
#include "simulation.hpp"

namespace fedchain::consensus::sim {

namespace internal {

namespace {

std::uint64_t height_of(const Message& m) {
  return std::visit([](const auto& message) { return message.height; }, m);
}

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

}  // namespace

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
  broadcast(*nodes_[from], shared);
}

// To the validators with power on record at the sender's height, jailed ones included
// (net::ConsensusLoop::send): the committee, or everyone when there is none.
void Simulation::broadcast(const Node& node, const std::shared_ptr<const Message>& message) {
  const auto& validators = node.machine->validators().validators();
  for (std::uint32_t to = 0; to < validators.size(); ++to) {
    if (validators[to].power > 0) send(node.id, to, message);
  }
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
    broadcast(node, std::make_shared<const Message>(std::move(b->message)));
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
    share_block(node, *c);
    next_epoch(node, *c);
    enter_height(node, c->height + 1);
  } else if (auto* e = std::get_if<EquivocationFound>(&action)) {
    if (node.strategy) return;
    const EvidenceKey key = key_of(e->first);
    note(fmt::format("node {} found equivocation by {} h={} r={}", node.id, key.validator,
                     key.height, key.round));
    if (key.height < scenario.heights) detected_keys_.insert(key);
    auto [seen, inserted] = first_detected_.try_emplace(key.validator, key.height);
    if (!inserted) seen->second = std::min(seen->second, key.height);
    const bool pooled = std::any_of(node.evidence_pool.begin(), node.evidence_pool.end(),
                                    [&](const auto& item) { return key_of(item.first) == key; });
    if (!pooled) node.evidence_pool.emplace_back(e->first, e->second);
  }
}

// start_height with the set this node's chain gives; then, as ConsensusLoop::start_height
// does, what it kept while following, for this height (to a voter; a follower drops it);
// then a follower's shared block, if it is already here.
void Simulation::enter_height(Node& node, std::uint64_t height) {
  apply(node, node.machine->start_height(height, validator_set(node)));
  if (node.machine->height() != height) return;  // decided at once, and moved on
  std::vector<std::pair<std::uint32_t, Message>> now_due;
  std::vector<std::pair<std::uint32_t, Message>> kept;
  kept.swap(node.kept_for_later);
  for (auto& item : kept) {
    const std::uint64_t at = height_of(item.second);
    if (at > height) node.kept_for_later.push_back(std::move(item));
    if (at == height && !follows(node)) now_due.push_back(std::move(item));
  }
  for (const auto& [from, message] : now_due) receive(node, from, message);
  follow(node);
}

// After an epoch's last height: the next committee, from the block this node committed
// (and its jailings). Honest validators must all elect the same one.
void Simulation::next_epoch(Node& node, const Commit& commit) {
  if (!committee_mode() || (commit.height + 1) % scenario.epoch != 0) return;
  node.committee = elect(node.jailed, commit.block_hash);
  if (!honest(node.id)) return;
  const std::uint64_t epoch = (commit.height + 1) / scenario.epoch;
  auto [it, first] = elected_.try_emplace(epoch, node.committee);
  if (first) {
    note(fmt::format("epoch {} (heights {} to {}): committee {}", epoch, epoch * scenario.epoch,
                     (epoch + 1) * scenario.epoch - 1, fmt::join(node.committee, ",")));
  }
  if (!first && it->second != node.committee) {
    fail(fmt::format("node {} elected {} for epoch {}, another honest node {}", node.id,
                     fmt::join(node.committee, ","), epoch, fmt::join(it->second, ",")));
  }
}

// A voter that commits hands the block and its certificate to the height's followers
// (share_committed_block): reliable like MPI_Bcast, but not across a partition before it
// heals.
void Simulation::share_block(Node& node, const Commit& commit) {
  const ValidatorSet& set = node.machine->validators();
  if (!committee_mode() || !set.is_active(node.id)) return;
  auto shared =
      std::make_shared<const Commit>(honest(node.id) ? commit : forged_certificate(commit, set));
  for (std::uint32_t to = 0; to < scenario.n; ++to) {
    if (to == node.id || set.is_active(to)) continue;
    const std::uint64_t at = now < heal_ms_ && group_[to] != group_[node.id] ? heal_ms_ : now;
    Event event{at + delay(), seq_++, to, nullptr, {}, Event::kCertified};
    event.certified = shared;
    events_.push(std::move(event));
  }
}

// What a Byzantine voter shares instead: a twin of the block, certified by the precommits of
// the Byzantine validators with power alone, less than 2/3 of it within the bound. Followers
// must refuse it and take another member's.
Commit Simulation::forged_certificate(const Commit& commit, const ValidatorSet& set) const {
  auto twin = sim_blocks().twin(commit.block);
  if (!twin || commit.precommits.empty()) return commit;
  Commit forged = commit;
  forged.block = std::move(twin->bytes);
  forged.block_hash = twin->hash;
  forged.precommits.clear();
  for (const std::uint32_t v : byzantine_) {
    if (!set.is_active(v)) continue;
    Vote vote = commit.precommits.front();
    vote.validator = v;
    vote.block_hash = forged.block_hash;
    vote.signature = keys.sign(v, vote.sign_bytes());
    forged.precommits.push_back(std::move(vote));
  }
  return forged;
}

// A follower commits its height from the first shared block whose certificate its machine
// accepts (and tries the next one if it refuses, as from the next committee member).
void Simulation::follow(Node& node) {
  while (follows(node) && node.machine->phase() != Phase::kDecided) {
    const std::uint64_t height = node.machine->height();
    std::erase_if(node.certified, [&](const auto& c) { return c->height < height; });
    auto it = std::find_if(node.certified.begin(), node.certified.end(),
                           [&](const auto& c) { return c->height == height; });
    if (it == node.certified.end()) return;
    const std::shared_ptr<const Commit> commit = *it;
    node.certified.erase(it);
    Outcome outcome = node.machine->on_commit_certificate(commit->block, commit->precommits);
    if (!outcome.status) {
      note(fmt::format("node {} refuses the shared block of height {}: {}", node.id, height,
                       outcome.status.error().message));
      if (honest(node.id)) ++report_.shared_refused;
      continue;
    }
    if (honest(node.id)) ++report_.follower_commits;
    return apply(node, std::move(outcome));  // commits, enters the next height, follows on
  }
}

void Simulation::receive(Node& node, std::uint32_t from, const Message& message) {
  const std::uint64_t height = node.machine->height();
  if (node.strategy) node.strategy->on_received(from, message);
  Outcome outcome = node.machine->on_message(message);
  if (honest(node.id)) {
    on_delivered(node, message, outcome.status);
    if (!outcome.status && outcome.status.error().code == "inactive-validator" &&
        height_of(message) > height) {
      ++report_.early_refused;
    }
  }
  if (!outcome.status && outcome.status.error().code == "future-height" && !node.syncing) {
    node.syncing = true;  // a peer is heights ahead: fetch certified blocks (block sync)
    events_.push(Event{now + kSyncMs, seq_++, node.id, nullptr, {}, Event::kSync});
  }
  apply(node, std::move(outcome));
}

// A follower drops messages of its height (the committee decides it) and keeps those of
// later heights for when it sits on a committee (ConsensusLoop::follow_height). Messages of
// earlier heights go to its machine, which answers a lagging voter's ask for a height it
// decided, as a voter held at that height would (the simulator has no barrier).
void Simulation::deliver(Node& node, const Event& event) {
  if (event.kind == Event::kCertified) {
    node.certified.push_back(event.certified);
    return follow(node);
  }
  const Message& message = *event.message;
  note(fmt::format("deliver to {}: {}", node.id, brief(message)));
  if (follows(node)) {
    const std::uint64_t at = height_of(message);
    if (at == node.machine->height()) return;
    if (at > node.machine->height()) {
      if (node.kept_for_later.size() < kKeptForLater) {
        node.kept_for_later.emplace_back(event.from, message);
      }
      return;
    }
  }
  receive(node, event.from, message);
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
  const auto block = SimBlock::decode(commit.block);
  std::string jailings;
  if (block) {
    for (const auto& [first, second] : block->evidence) {
      node.committed_evidence.insert(key_of(first));
      node.jailed[first.validator] = true;
      jailings += fmt::format(" evidence={}@h{}", first.validator, first.height);
    }
  }
  note(fmt::format("node {} commits h={} r={} block={}{}", node.id, commit.height, commit.round,
                   commit.block_hash.short_hex(8), jailings));
  if (!honest(node.id)) return;
  count_rounds(node, commit);
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
    check_byzantine_share(set);
    for (const auto& [evidence, other] : block->evidence) {
      jailed_at_.try_emplace(evidence.validator, commit.height);
      if (!committed_keys_.insert(key_of(evidence)).second) continue;
      ++report_.evidence_committed;
      report_.max_evidence_delay =
          std::max(report_.max_evidence_delay, commit.height - evidence.height);
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
    out += fmt::format("  node {} {}{}: height {} round {} phase {} locked {}\n", node->id,
                       node->strategy ? "byzantine" : "honest", follows(*node) ? " follower" : "",
                       m.height(), m.round(), static_cast<int>(m.phase()),
                       m.locked_round() ? static_cast<std::int64_t>(*m.locked_round()) : -1);
  }
  return out;
}

Report Simulation::run() {
  for (auto& node : nodes_) enter_height(*node, 0);
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
      deliver(node, event);
    } else if (event.kind == Event::kCertified) {
      deliver(node, event);
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
  report_.decided_heights = chain_.size();
  for (const auto& [validator, height] : first_detected_) {
    auto jailed = jailed_at_.find(validator);
    const std::uint64_t until = jailed == jailed_at_.end() ? chain_.size() : jailed->second;
    report_.max_jail_delay = std::max(report_.max_jail_delay, until - std::min(until, height));
  }
  report_.equivocations_seen = detected_keys_.size();
  count_seats();
  if (!elected_.empty()) note(fmt::format("epoch 0: committee {}", fmt::join(elected_.at(0), ",")));
  if (report_.ok && !done()) {
    fail(
        fmt::format("liveness: not done {} ms after heal (evidence detected {}, committed {}, "
                    "happened {})\n{}",
                    now - std::min(now, heal_ms_), detected_keys_.size(), committed_keys_.size(),
                    happened_keys_.size(), states()));
  }
  if (report_.ok && !over_bound_.empty()) fail(over_bound_);
  return std::move(report_);
}

}  // namespace internal

std::uint32_t liveness_round_bound(const Scenario& scenario, const ValidatorSet& set) {
  if (scenario.committee == 0) return scenario.byzantine + 3;
  std::uint64_t unit = 0;
  for (std::uint32_t v = 0; v < set.size(); ++v) unit = std::gcd(unit, set.power(v));
  const std::uint64_t period = set.total_power() / std::max<std::uint64_t>(unit, 1);
  return static_cast<std::uint32_t>(std::min<std::uint64_t>(period + 2, UINT32_MAX));
}

Report run_scenario(const Scenario& scenario, const RunOptions& options) {
  internal::Simulation sim(scenario, options);
  return sim.run();
}

}  // namespace fedchain::consensus::sim
