// The Byzantine strategies of the test matrix (see byzantine.hpp and scenario.hpp).
#include "byzantine.hpp"

#include "sim_app.hpp"

namespace fedchain::consensus::sim {

using ledger::Vote;

void ByzantineContext::broadcast(const Message& message) {
  for (std::uint32_t to = 0; to < n(); ++to) {
    if (to != self()) send(to, message);
  }
}

void ByzantineContext::send_all(const std::vector<std::uint32_t>& to, const Message& message) {
  for (std::uint32_t v : to) send(v, message);
}

void Strategy::on_send(ByzantineContext& ctx, std::optional<std::uint32_t> to,
                       const Message& message) {
  if (to) {
    ctx.send(*to, message);
  } else {
    ctx.broadcast(message);
  }
}

namespace {

const Vote* own_vote(const ByzantineContext& ctx, const Message& message) {
  const Vote* vote = std::get_if<Vote>(&message);
  return vote != nullptr && vote->validator == ctx.self() ? vote : nullptr;
}

const Proposal* own_proposal(const ByzantineContext& ctx, const Message& message) {
  const Proposal* p = std::get_if<Proposal>(&message);
  return p != nullptr && p->proposer == ctx.self() ? p : nullptr;
}

Vote resign(const ByzantineContext& ctx, Vote vote, std::optional<Hash32> block) {
  vote.block_hash = block;
  vote.signature = ctx.sign(vote.sign_bytes());
  return vote;
}

Hash32 garbage_hash(ByzantineContext& ctx) {
  Hash32 h;
  for (auto& b : h.bytes) b = static_cast<std::uint8_t>(ctx.rng()());
  return h;
}

// A second block for the same height: same content, another nonce, so another hash.
Proposal twin_proposal(const ByzantineContext& ctx, const Proposal& original) {
  Proposal twin = original;
  if (auto block = SimBlock::decode(original.block)) {
    block->nonce += 1;
    twin.block = block->encode();
  }
  twin.block_hash = *FakeBlockHasher{}.hash(twin.block);
  twin.signature = ctx.sign(twin.sign_bytes());
  return twin;
}

class Silent final : public Strategy {
 public:
  explicit Silent(std::uint64_t crash_at) : crash_at_(crash_at) {}
  bool crashed(std::uint64_t now) const override { return now >= crash_at_; }

 private:
  std::uint64_t crash_at_;
};

class WithholdVotes final : public Strategy {
 public:
  void on_send(ByzantineContext& ctx, std::optional<std::uint32_t> to,
               const Message& message) override {
    if (own_vote(ctx, message) == nullptr) Strategy::on_send(ctx, to, message);
  }
};

// Each own vote goes to half a; a conflicting one (nil for a block, a made-up block for
// nil) to half b.
class DoubleVote final : public Strategy {
 public:
  void on_send(ByzantineContext& ctx, std::optional<std::uint32_t> to,
               const Message& message) override {
    const Vote* vote = own_vote(ctx, message);
    if (vote == nullptr || to) return Strategy::on_send(ctx, to, message);
    ctx.send_all(ctx.half_a(), message);
    const std::optional<Hash32> other =
        vote->block_hash ? std::nullopt : std::optional(garbage_hash(ctx));
    ctx.send_all(ctx.half_b(), resign(ctx, *vote, other));
  }
};

// Shows block A to half a and block B to half b, then votes A to a and B to b. With
// `plan` shared among f+1 colluders this splits the honest validators into a fork.
class Equivocate final : public Strategy {
 public:
  void on_send(ByzantineContext& ctx, std::optional<std::uint32_t> to,
               const Message& message) override {
    if (to) return Strategy::on_send(ctx, to, message);
    if (const Proposal* p = own_proposal(ctx, message)) {
      const auto key = std::make_pair(p->height, p->round);
      auto it = ctx.plan().split.find(key);
      if (it == ctx.plan().split.end()) {
        it = ctx.plan().split.emplace(key, std::make_pair(*p, twin_proposal(ctx, *p))).first;
      }
      ctx.send_all(ctx.half_a(), it->second.first);
      ctx.send_all(ctx.half_b(), it->second.second);
      return;
    }
    const Vote* vote = own_vote(ctx, message);
    if (vote == nullptr) return Strategy::on_send(ctx, to, message);
    auto it = ctx.plan().split.find({vote->height, vote->round});
    if (it == ctx.plan().split.end()) return Strategy::on_send(ctx, to, message);
    ctx.send_all(ctx.half_a(), resign(ctx, *vote, it->second.first.block_hash));
    ctx.send_all(ctx.half_b(), resign(ctx, *vote, it->second.second.block_hash));
  }
};

class WrongStateRoot : public Strategy {
 public:
  Bytes build_block(ByzantineContext& ctx, Bytes honest) override {
    auto block = SimBlock::decode(honest);
    if (!block) return honest;
    block->state_root = garbage_hash(ctx);
    Bytes bad = block->encode();
    last_bad_ = *FakeBlockHasher{}.hash(bad);
    return bad;
  }

 protected:
  std::optional<Hash32> last_bad_;
};

// Every own vote names a block the honest validators refuse (its own bad-root proposal,
// or one that does not exist).
class InvalidVote final : public WrongStateRoot {
 public:
  void on_send(ByzantineContext& ctx, std::optional<std::uint32_t> to,
               const Message& message) override {
    const Vote* vote = own_vote(ctx, message);
    if (vote == nullptr) return Strategy::on_send(ctx, to, message);
    const Hash32 bad = last_bad_.value_or(garbage_hash(ctx));
    Strategy::on_send(ctx, to, resign(ctx, *vote, bad));
  }
};

// Honest, and with every own message also sends messages in other validators' names,
// signed with its own key: a precommit quorum for a made-up block, and a proposal.
class ForgeSignatures final : public Strategy {
 public:
  void on_send(ByzantineContext& ctx, std::optional<std::uint32_t> to,
               const Message& message) override {
    Strategy::on_send(ctx, to, message);
    const Vote* vote = own_vote(ctx, message);
    if (vote == nullptr || to) return;
    const Hash32 fake = garbage_hash(ctx);
    for (std::uint32_t v = 0; v < ctx.n(); ++v) {
      if (v == ctx.self()) continue;
      Vote forged = *vote;
      forged.validator = v;
      forged.type = ledger::VoteType::kPrecommit;
      forged.block_hash = fake;
      forged.signature = ctx.sign(forged.sign_bytes());
      ctx.broadcast(forged);
    }
    Proposal forged;
    forged.chain_id = vote->chain_id;
    forged.height = vote->height;
    forged.round = vote->round + 1;
    forged.proposer = ctx.validators().proposer(vote->height, forged.round);
    forged.block =
        SimBlock{vote->height, forged.proposer, honest_state_root(vote->height), 7, {}}.encode();
    forged.block_hash = *FakeBlockHasher{}.hash(forged.block);
    forged.signature = ctx.sign(forged.sign_bytes());
    if (forged.proposer != ctx.self()) ctx.broadcast(forged);
  }
};

// Honest, and with every own vote it broadcasts re-sends two old messages it received,
// from any height and round.
class ReplayOld final : public Strategy {
 public:
  void on_receive(ByzantineContext& ctx, const Message& message) override {
    if (seen_.size() < 512) {
      seen_.push_back(message);
    } else {
      seen_[ctx.rng()() % seen_.size()] = message;
    }
  }
  void on_send(ByzantineContext& ctx, std::optional<std::uint32_t> to,
               const Message& message) override {
    Strategy::on_send(ctx, to, message);
    if (own_vote(ctx, message) == nullptr || to || seen_.empty()) return;
    for (int i = 0; i < 2; ++i) ctx.broadcast(seen_[ctx.rng()() % seen_.size()]);
  }

 private:
  std::vector<Message> seen_;
};

}  // namespace

std::unique_ptr<Strategy> make_strategy(Behaviour behaviour, std::mt19937_64& rng) {
  switch (behaviour) {
    case Behaviour::kNone:
      return std::make_unique<Strategy>();
    case Behaviour::kEquivocatingProposer:
    case Behaviour::kColludeFork:
      return std::make_unique<Equivocate>();
    case Behaviour::kDoubleVote:
      return std::make_unique<DoubleVote>();
    case Behaviour::kWithholdVotes:
      return std::make_unique<WithholdVotes>();
    case Behaviour::kInvalidVote:
      return std::make_unique<InvalidVote>();
    case Behaviour::kWrongStateRoot:
      return std::make_unique<WrongStateRoot>();
    case Behaviour::kForgeSignatures:
      return std::make_unique<ForgeSignatures>();
    case Behaviour::kReplayOldMessages:
      return std::make_unique<ReplayOld>();
    case Behaviour::kSilent:
      return std::make_unique<Silent>(rng() % 2000);
    case Behaviour::kMixed: {
      constexpr Behaviour kChoices[] = {
          Behaviour::kEquivocatingProposer, Behaviour::kDoubleVote,     Behaviour::kWithholdVotes,
          Behaviour::kInvalidVote,          Behaviour::kWrongStateRoot, Behaviour::kForgeSignatures,
          Behaviour::kReplayOldMessages,    Behaviour::kSilent};
      return make_strategy(kChoices[rng() % std::size(kChoices)], rng);
    }
  }
  return std::make_unique<Strategy>();
}

}  // namespace fedchain::consensus::sim
