// Who validates, and what they build: the simulation's set-up (the Byzantine validators
// chosen and seated, the honest halves an equivocation splits), committees elected per
// epoch, blocks built and ground, and the counts checked against the scenario's bounds (see
// simulation.hpp).
#include <algorithm>
#include <numeric>

#include <fmt/ranges.h>

#include "fedchain/ledger/committee.hpp"
#include "sim_app.hpp"
#include "simulation.hpp"

namespace fedchain::consensus::sim::internal {

Node::Node(Simulation& s, std::uint32_t i) : sim(s), id(i), signer(s.keys, i) {}

Simulation::Simulation(const Scenario& s, const RunOptions& o)
    : scenario(s), options(o), rng(s.seed * 0x9e3779b97f4a7c15ULL + s.n), keys(s.n, s.seed) {
  chain_id_ = fake_hash(as_bytes("fedchain-sim"), s.seed);
  std::vector<std::uint32_t> ids(s.n);
  for (std::uint32_t i = 0; i < s.n; ++i) ids[i] = i;
  std::shuffle(ids.begin(), ids.end(), rng);
  byzantine_ = choose_byzantine(ids);

  Config config;
  config.chain_id = chain_id_;
  for (std::uint32_t i = 0; i < s.n; ++i) {
    auto node = std::make_unique<Node>(*this, i);
    config.self = i;
    node->machine = std::make_unique<StateMachine>(config, node->signer, hasher);
    if (byzantine_.contains(i)) {
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
    node->committee = elected_.empty() ? std::vector<std::uint32_t>{} : elected_.at(0);
    nodes_.push_back(std::move(node));
  }
  split_halves();

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

// The Byzantine validators are in the first half; the honest ones alternate, the first
// committee's members first, so that each half holds some of its honest members.
void Simulation::split_halves() {
  in_first_half.assign(scenario.n, true);
  std::vector<std::uint32_t> members_first;
  if (!elected_.empty()) members_first = elected_.at(0);
  for (std::uint32_t i = 0; i < scenario.n; ++i) {
    if (std::find(members_first.begin(), members_first.end(), i) == members_first.end()) {
      members_first.push_back(i);
    }
  }
  bool to_first = true;
  for (const std::uint32_t i : members_first) {
    if (byzantine_.contains(i)) continue;
    in_first_half[i] = to_first;
    to_first = !to_first;
  }
}

// Stakes as chain state passes them to the election: 0 for a jailed validator.
std::vector<std::uint32_t> Simulation::elect(const std::vector<bool>& jailed,
                                             const Hash32& seed) const {
  std::vector<std::uint64_t> stakes(scenario.n);
  for (std::uint32_t i = 0; i < scenario.n; ++i) stakes[i] = jailed[i] ? 0 : stake(i);
  return ledger::elect_committee(stakes, scenario.committee, seed);
}

// consensus::validator_set_of: stake as power for committee members, 0 for everyone else
// (without a committee, everyone is a member); jailed validators flagged.
Result<ValidatorSet> Simulation::set_of(const std::vector<std::uint32_t>& committee,
                                        const std::vector<bool>& jailed) const {
  std::vector<ValidatorInfo> validators(scenario.n);
  for (std::uint32_t i = 0; i < scenario.n; ++i) {
    const bool member =
        !committee_mode() || std::binary_search(committee.begin(), committee.end(), i);
    validators[i] = {member ? stake(i) : 0, jailed[i]};
  }
  return ValidatorSet::make(std::move(validators));
}

ValidatorSet Simulation::validator_set(const Node& node) const {
  auto set = set_of(node.committee, node.jailed);
  return set ? std::move(set).value() : node.machine->validators();
}

// The Byzantine validators: the first `byzantine` of `ids` (shuffled), or with a committee
// the first of seat_byzantine's (Scenario::anywhere: of `ids` still). Without a committee,
// colluders must hold the first proposer to split height 0.
std::set<std::uint32_t> Simulation::choose_byzantine(const std::vector<std::uint32_t>& ids) {
  std::vector<std::uint32_t> chosen = ids;
  if (committee_mode() && !scenario.anywhere) {
    chosen = seat_byzantine(ids);
  } else if (committee_mode()) {
    genesis_ = genesis_hash(0);
    elected_[0] = elect(std::vector<bool>(scenario.n, false), genesis_);
  } else if (scenario.behaviour == Behaviour::kColludeFork) {
    const std::uint32_t first = set_of({}, std::vector<bool>(scenario.n))->proposer(0, 0);
    std::iter_swap(chosen.begin(), std::find(chosen.begin(), chosen.end(), first));
  }
  if (scenario.behaviour == Behaviour::kNone) return {};
  if (chosen.size() < scenario.byzantine) {
    fail(fmt::format("no genesis of {} tried seats {} Byzantine members", kGenesisTries,
                     scenario.byzantine));
  }
  chosen.resize(std::min<std::size_t>(chosen.size(), scenario.byzantine));
  return {chosen.begin(), chosen.end()};
}

// The first committee, and the validators that may be Byzantine: its members holding the
// smallest stake (f of them hold less than 1/3 of any committee's power: a committee holds
// at least c times that stake), in `ids` order, a colluding first proposer ahead of them.
// The genesis hash is the first of a seeded sequence whose election seats enough of them.
std::vector<std::uint32_t> Simulation::seat_byzantine(const std::vector<std::uint32_t>& ids) {
  std::uint64_t smallest = UINT64_MAX;
  for (std::uint32_t i = 0; i < scenario.n; ++i) {
    if (stake(i) > 0) smallest = std::min(smallest, stake(i));
  }
  const std::vector<bool> none(scenario.n, false);
  std::vector<std::uint32_t> candidates;
  for (std::uint64_t k = 0; k < kGenesisTries; ++k) {
    genesis_ = genesis_hash(k);
    const std::vector<std::uint32_t> committee = elect(none, genesis_);
    elected_[0] = committee;
    candidates.clear();
    if (scenario.behaviour == Behaviour::kColludeFork) {
      candidates.push_back(set_of(committee, none)->proposer(0, 0));
    }
    for (const std::uint32_t i : ids) {
      if (std::binary_search(committee.begin(), committee.end(), i) && stake(i) == smallest &&
          std::find(candidates.begin(), candidates.end(), i) == candidates.end()) {
        candidates.push_back(i);
      }
    }
    if (scenario.behaviour == Behaviour::kNone || candidates.size() >= scenario.byzantine) break;
  }
  return candidates;
}

Hash32 Simulation::genesis_hash(std::uint64_t k) const {
  return fake_hash(as_bytes("fedchain-sim-genesis"), scenario.seed * kGenesisTries + k);
}

// Rounds a height took after heal, counted from the highest round an honest validator held
// at heal (a validator cut off alone sat in round 0 and only skips ahead), against the bound.
void Simulation::count_rounds(const Node& node, const Commit& commit) {
  report_.max_decision_round = std::max(report_.max_decision_round, commit.round);
  if (!healed_) return;
  auto base = round_at_heal_.find(commit.height);
  const std::uint32_t from = base == round_at_heal_.end() ? 0 : base->second;
  const std::uint32_t used = commit.round - std::min(commit.round, from);
  report_.max_rounds_after_heal = std::max(report_.max_rounds_after_heal, used);
  const std::uint32_t bound = liveness_round_bound(scenario, node.machine->validators());
  if (used > bound && over_bound_.empty()) {
    over_bound_ = fmt::format("liveness: height {} took {} rounds after heal, bound {}",
                              commit.height, used, bound);
  }
}

void Simulation::check_byzantine_share(const ValidatorSet& set) {
  if (byzantine_.empty()) return;
  std::uint64_t power = 0;
  for (const std::uint32_t v : byzantine_) power += set.power(v);
  if (3 * power >= set.total_power()) ++report_.byzantine_third_heights;
}

// The epochs whose first height was decided, and how often each Byzantine validator sat.
void Simulation::count_seats() {
  for (const auto& [epoch, committee] : elected_) {
    if (!chain_.contains(epoch * scenario.epoch)) continue;
    ++report_.elections;
    for (const std::uint32_t v : byzantine_) {
      report_.byzantine_seats += std::binary_search(committee.begin(), committee.end(), v);
    }
  }
  for (const std::uint32_t v : byzantine_) {
    std::uint64_t seated = 0;
    for (const auto& [epoch, committee] : elected_) {
      if (!chain_.contains(epoch * scenario.epoch)) continue;
      seated += std::binary_search(committee.begin(), committee.end(), v);
    }
    if (seated > 0 && seated < report_.elections) ++report_.byzantine_on_and_off;
  }
}

void Simulation::build_block(Node& node, const Timeout& request) {
  SimBlock block{request.height, node.id, honest_state_root(request.height), 0, {}};
  for (const auto& item : node.evidence_pool) {
    if (!node.committed_evidence.contains(key_of(item.first))) block.evidence.push_back(item);
  }
  if (grinds(node, request.height)) grind(node, block);
  Outcome outcome = node.machine->on_block_ready(request.height, request.round, block.encode());
  apply(node, std::move(outcome));  // a stale request is refused, and that is fine
}

// Scenario::grind: a Byzantine proposer of an epoch's last height, whose block hash seeds the
// next election.
bool Simulation::grinds(const Node& node, std::uint64_t height) const {
  return scenario.grind && committee_mode() && !honest(node.id) &&
         (height + 1) % scenario.epoch == 0;
}

// The nonce, of kGrindTries, whose block seats the most Byzantine validators on the next
// committee, counting the fewer of the block and its twin (what an equivocating proposer
// shows the other half). Any nonce is as valid as another, as a ledger block's time is.
void Simulation::grind(const Node& node, SimBlock& block) const {
  auto seated = [&](const Hash32& hash) {
    const auto committee = elect(node.jailed, hash);
    return std::count_if(committee.begin(), committee.end(),
                         [&](std::uint32_t v) { return byzantine_.contains(v); });
  };
  std::uint64_t best_nonce = 0;
  std::ptrdiff_t best = -1;
  for (std::uint64_t nonce = 0; nonce < kGrindTries; ++nonce) {
    block.nonce = nonce;
    const Bytes bytes = block.encode();
    const auto twin = sim_blocks().twin(bytes);
    const std::ptrdiff_t count = std::min(seated(*hasher.hash(bytes)), seated(twin->hash));
    if (count > best) best = count, best_nonce = nonce;
  }
  block.nonce = best_nonce;
}

}  // namespace fedchain::consensus::sim::internal
