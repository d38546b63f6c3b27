// The Byzantine behaviours of the vote (see consensus_faults.hpp). Every strategy wraps an
// honest state machine: the machine runs the protocol as usual and the filter rewrites,
// withholds or adds to what it sends. On MPI ranks the two halves of the other ranks are
// the even and the odd ones: a fixed rule, so a rerun splits the same way.
#include "fedchain/faults/consensus_faults.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "fedchain/core/random.hpp"
#include "fedchain/ledger/block.hpp"

namespace fedchain::faults {

namespace {

using consensus::Message;
using consensus::Proposal;
using ledger::Vote;

// What every strategy shares: who it is, how it signs and edits blocks, a seeded source of
// made-up hashes, and the ways to put a message on the wire.
class ByzantineFilter : public OutboundFilter {
 public:
  explicit ByzantineFilter(FaultContext context)
      : self_(context.self),
        n_(context.n),
        sign_(std::move(context.sign)),
        blocks_(*context.blocks),
        in_first_half_(std::move(context.in_first_half)),
        random_(context.seed) {}

 protected:
  const Vote* own_vote(const Message& message) const {
    const Vote* vote = std::get_if<Vote>(&message);
    return vote != nullptr && vote->validator == self_ ? vote : nullptr;
  }
  const Proposal* own_proposal(const Message& message) const {
    const Proposal* p = std::get_if<Proposal>(&message);
    return p != nullptr && p->proposer == self_ ? p : nullptr;
  }

  Vote resign(Vote vote, std::optional<Hash32> block) const {
    vote.block_hash = block;
    vote.signature = sign_(vote.sign_bytes());
    return vote;
  }

  // The proposal again carrying an edited block (the editor re-derived its hash), signed
  // anew. Nullopt if the block did not decode (nothing honest would have proposed it).
  std::optional<Proposal> with_block(Proposal proposal, std::optional<EditedBlock> edited) const {
    if (!edited) return std::nullopt;
    proposal.block = std::move(edited->bytes);
    proposal.block_hash = edited->hash;
    proposal.signature = sign_(proposal.sign_bytes());
    return proposal;
  }

  Hash32 made_up_hash() {
    Hash32 hash;
    for (std::size_t i = 0; i < hash.bytes.size(); i += 8) {
      const std::uint64_t word = random_.next_u64();
      for (std::size_t b = 0; b < 8; ++b)
        hash.bytes[i + b] = static_cast<std::uint8_t>(word >> (8 * b));
    }
    return hash;
  }

  bool first_half(std::uint32_t rank) const {
    return in_first_half_ ? in_first_half_(rank) : rank % 2 == 0;
  }

  // What a strategy did at a height is kept until it is this far behind. WARNING: the inner
  // machine still sends own messages of old heights (catch-up replies carry its
  // precommits, up to consensus::Config::catchup_heights = 16 back); rewritten otherwise
  // than the first time, they would be a second, conflicting vote: evidence of a
  // behaviour that was not asked for.
  static constexpr std::uint64_t kRememberedHeights = 32;
  static bool forgotten(std::uint64_t height, std::uint64_t now) {
    return height + kRememberedHeights < now;
  }

  void broadcast(const Message& message, const SendFn& send) const {
    for (std::uint32_t to = 0; to < n_; ++to) {
      if (to != self_) send(to, message);
    }
  }
  // To `to` alone, or to everyone, each validator getting its half's version.
  void split(std::optional<std::uint32_t> to, const Message& for_first, const Message& for_second,
             const SendFn& send) const {
    if (to) return send(to, first_half(*to) ? for_first : for_second);
    for (std::uint32_t rank = 0; rank < n_; ++rank) {
      if (rank != self_) send(rank, first_half(rank) ? for_first : for_second);
    }
  }

  std::uint32_t self_;
  std::uint32_t n_;
  std::function<Signature(ByteView)> sign_;
  const BlockEditor& blocks_;
  std::function<bool(std::uint32_t)> in_first_half_;
  SeededRandom random_;
};

// Sends nothing: no proposal, no vote, no relay, no catch-up reply. The machine still
// listens and commits what the others decide, so the rank keeps its place in every round.
class Silent final : public ByzantineFilter {
 public:
  using ByzantineFilter::ByzantineFilter;
  void on_send(std::optional<std::uint32_t>, const Message&, const SendFn&) override {}
};

class WithholdVotes final : public ByzantineFilter {
 public:
  using ByzantineFilter::ByzantineFilter;
  void on_send(std::optional<std::uint32_t> to, const Message& message,
               const SendFn& send) override {
    if (own_vote(message) == nullptr) send(to, message);
  }
};

// Own proposals: block A (the honest one) to the first half, a twin B (another hash,
// equally valid) to the second. Own votes in a round of the plan: for A to the first half,
// for B to the second. Validators sharing one plan vote along in rounds others proposed.
class Equivocate final : public ByzantineFilter {
 public:
  Equivocate(FaultContext context, std::shared_ptr<EquivocationPlan> plan)
      : ByzantineFilter(std::move(context)), plan_(std::move(plan)) {}
  void on_send(std::optional<std::uint32_t> to, const Message& message,
               const SendFn& send) override {
    auto& split_at = plan_->split;
    if (const Proposal* p = own_proposal(message)) {
      const auto key = std::make_pair(p->height, p->round);
      auto planned = split_at.find(key);
      if (planned == split_at.end()) {
        std::erase_if(split_at,
                      [&](const auto& entry) { return forgotten(entry.first.first, p->height); });
        auto twin = with_block(*p, blocks_.twin(p->block));
        if (!twin) return send(to, message);
        planned = split_at.emplace(key, std::make_pair(*p, std::move(*twin))).first;
      }
      return split(to, planned->second.first, planned->second.second, send);
    }
    const Vote* vote = own_vote(message);
    if (vote == nullptr) return send(to, message);
    const auto planned = split_at.find({vote->height, vote->round});
    if (planned == split_at.end()) return send(to, message);
    split(to, resign(*vote, planned->second.first.block_hash),
          resign(*vote, planned->second.second.block_hash), send);
  }

 private:
  // (height, round) -> (proposal A, proposal B); a retransmission repeats the same split.
  std::shared_ptr<EquivocationPlan> plan_;
};

// Every own vote to the first half as cast, and a conflicting one to the second: nil
// where it named a block, a made-up block where it was nil.
class DoubleVote final : public ByzantineFilter {
 public:
  using ByzantineFilter::ByzantineFilter;
  void on_send(std::optional<std::uint32_t> to, const Message& message,
               const SendFn& send) override {
    const Vote* vote = own_vote(message);
    if (vote == nullptr) return send(to, message);
    auto conflicting = conflicts_.find(*vote);
    if (conflicting == conflicts_.end()) {
      std::erase_if(conflicts_,
                    [&](const auto& entry) { return forgotten(entry.first.height, vote->height); });
      const std::optional<Hash32> other =
          vote->block_hash ? std::nullopt : std::optional(made_up_hash());
      conflicting = conflicts_.emplace(*vote, resign(*vote, other)).first;
    }
    split(to, *vote, conflicting->second, send);
  }

 private:
  struct VoteLess {
    bool operator()(const Vote& a, const Vote& b) const { return a.encode() < b.encode(); }
  };
  std::map<Vote, Vote, VoteLess> conflicts_;  // a retransmission conflicts the same way
};

// Own proposals carry a made-up state root (re-hashed, re-signed); own votes for the honest
// block it would have proposed name the bad one instead, as if it believed in it.
class WrongStateRoot : public ByzantineFilter {
 public:
  using ByzantineFilter::ByzantineFilter;
  void on_send(std::optional<std::uint32_t> to, const Message& message,
               const SendFn& send) override {
    if (const Proposal* p = own_proposal(message)) return send(to, bad_proposal(*p));
    const Vote* vote = own_vote(message);
    if (vote == nullptr || !vote->block_hash) return send(to, message);
    const auto bad = bad_hash_.find(*vote->block_hash);
    send(to, bad == bad_hash_.end() ? message : Message(resign(*vote, bad->second)));
  }

 protected:
  Proposal bad_proposal(const Proposal& honest) {
    auto known = bad_proposal_.find(honest.block_hash);
    if (known == bad_proposal_.end()) {
      std::erase_if(bad_proposal_, [&](const auto& entry) {
        return forgotten(entry.second.height, honest.height);
      });
      std::erase_if(bad_hash_, [&](const auto& entry) {
        return std::none_of(bad_proposal_.begin(), bad_proposal_.end(),
                            [&](const auto& kept) { return kept.first == entry.first; });
      });
      auto bad = with_block(honest, blocks_.with_state_root(honest.block, made_up_hash()));
      if (!bad) return honest;
      bad_hash_[honest.block_hash] = bad->block_hash;
      known = bad_proposal_.emplace(honest.block_hash, std::move(*bad)).first;
    }
    Proposal out = known->second;
    // A re-proposal of the same block in a later round is the same lie, signed anew.
    if (out.round != honest.round || out.pol_round != honest.pol_round) {
      out.round = honest.round;
      out.pol_round = honest.pol_round;
      out.signature = sign_(out.sign_bytes());
    }
    return out;
  }

  std::map<Hash32, Hash32> bad_hash_;        // honest block -> its bad-root twin
  std::map<Hash32, Proposal> bad_proposal_;  // honest block -> the proposal sent instead
};

// Proposes like WrongStateRoot, and every own vote, nil included, names a block no honest
// rank accepts: its latest bad-root block, or a made-up hash before it has proposed one.
// One block per vote slot, kept, so that a vote sent again is the same vote (two different
// ones would be equivocation, another behaviour).
class InvalidVote final : public WrongStateRoot {
 public:
  using WrongStateRoot::WrongStateRoot;
  void on_send(std::optional<std::uint32_t> to, const Message& message,
               const SendFn& send) override {
    if (const Proposal* p = own_proposal(message)) {
      const Proposal bad = bad_proposal(*p);
      last_bad_ = bad.block_hash;
      return send(to, bad);
    }
    const Vote* vote = own_vote(message);
    if (vote == nullptr) return send(to, message);
    const auto slot = std::make_tuple(vote->height, vote->round, vote->type);
    auto named = named_.find(slot);
    if (named == named_.end()) {
      std::erase_if(named_, [&](const auto& entry) {
        return forgotten(std::get<0>(entry.first), vote->height);
      });
      named = named_.emplace(slot, last_bad_.value_or(made_up_hash())).first;
    }
    send(to, resign(*vote, named->second));
  }

 private:
  std::optional<Hash32> last_bad_;
  std::map<std::tuple<std::uint64_t, std::uint32_t, ledger::VoteType>, Hash32> named_;
};

// Honest, and with every own vote it broadcasts: a precommit for a made-up block and a
// proposal for the next round (the latest block it saw) in every other validator's name,
// all signed with its own key. One of those proposals names the round's real proposer, so
// it is refused for its signature alone.
class ForgeSignatures final : public ByzantineFilter {
 public:
  using ByzantineFilter::ByzantineFilter;
  void on_received(std::uint32_t /*from*/, const Message& message) override {
    if (const Proposal* p = std::get_if<Proposal>(&message)) last_block_ = p->block;
  }
  void on_send(std::optional<std::uint32_t> to, const Message& message,
               const SendFn& send) override {
    send(to, message);
    const Vote* vote = own_vote(message);
    if (vote == nullptr || to) return;
    const Hash32 fake = made_up_hash();
    for (std::uint32_t v = 0; v < n_; ++v) {
      if (v == self_) continue;
      Vote forged = *vote;
      forged.validator = v;
      forged.type = ledger::VoteType::kPrecommit;
      forged.block_hash = fake;
      forged.signature = sign_(forged.sign_bytes());
      broadcast(forged, send);
    }
    if (last_block_.empty()) return;
    Proposal forged;
    forged.chain_id = vote->chain_id;
    forged.height = vote->height;
    forged.round = vote->round + 1;
    forged.block = last_block_;
    if (auto hash = blocks_.hash(forged.block)) forged.block_hash = *hash;
    for (std::uint32_t v = 0; v < n_; ++v) {
      if (v == self_) continue;
      forged.proposer = v;
      forged.signature = sign_(forged.sign_bytes());
      broadcast(forged, send);
    }
  }

 private:
  Bytes last_block_;  // the latest block proposed by anyone, for the forged proposal
};

// Honest, and with every own vote it broadcasts re-sends two messages it received earlier,
// from any height and round (a reservoir of 512).
class Replay final : public ByzantineFilter {
 public:
  using ByzantineFilter::ByzantineFilter;
  void on_received(std::uint32_t /*from*/, const Message& message) override {
    ++received_;
    if (seen_.size() < kKept) {
      seen_.push_back(message);
    } else if (const auto slot = random_.below(received_); slot < kKept) {
      seen_[slot] = message;
    }
  }
  void on_send(std::optional<std::uint32_t> to, const Message& message,
               const SendFn& send) override {
    send(to, message);
    if (own_vote(message) == nullptr || to || seen_.empty()) return;
    for (int i = 0; i < 2; ++i) broadcast(seen_[random_.below(seen_.size())], send);
  }

 private:
  static constexpr std::size_t kKept = 512;
  std::vector<Message> seen_;
  std::uint64_t received_ = 0;
};

// Ledger blocks: the header edited and everything re-derived, the block's roots and hash.
class LedgerBlocks final : public BlockEditor {
 public:
  std::optional<EditedBlock> twin(ByteView block) const override {
    return edited(block, [](ledger::BlockHeader& h) { h.time_ms += 1; });
  }
  std::optional<EditedBlock> with_state_root(ByteView block, const Hash32& root) const override {
    return edited(block, [&](ledger::BlockHeader& h) { h.state_root = root; });
  }
  std::optional<Hash32> hash(ByteView block) const override {
    auto decoded = ledger::Block::decode(block);
    if (!decoded) return std::nullopt;
    return decoded->hash();
  }

 private:
  static std::optional<EditedBlock> edited(ByteView block,
                                           const std::function<void(ledger::BlockHeader&)>& edit) {
    auto decoded = ledger::Block::decode(block);
    if (!decoded) return std::nullopt;
    ledger::BlockBuilder builder{decoded->header(), decoded->txs(), decoded->evidence()};
    edit(builder.header);
    const ledger::Block built = builder.build();
    return EditedBlock{built.encode(), built.hash()};
  }
};

}  // namespace

static_assert(kConsensusFaultNames.size() == static_cast<std::size_t>(ConsensusFault::kSilent) + 1,
              "one name per behaviour, in the enum's order");

Result<ConsensusFault> parse_consensus_fault(std::string_view name) {
  for (std::size_t i = 0; i < kConsensusFaultNames.size(); ++i) {
    if (kConsensusFaultNames[i] == name) return static_cast<ConsensusFault>(i);
  }
  return config_error("faults.consensus = '{}' is not a behaviour: {}", name,
                      fmt::join(kConsensusFaultNames, ", "));
}

std::string_view consensus_fault_name(ConsensusFault fault) {
  const auto index = static_cast<std::size_t>(fault);
  return index < kConsensusFaultNames.size() ? kConsensusFaultNames[index] : "unknown";
}

const BlockEditor& ledger_blocks() {
  static const LedgerBlocks editor;
  return editor;
}

std::unique_ptr<OutboundFilter> make_fault_filter(ConsensusFault fault, FaultContext context) {
  switch (fault) {
    case ConsensusFault::kEquivocate: {
      auto plan = context.plan ? context.plan : std::make_shared<EquivocationPlan>();
      return std::make_unique<Equivocate>(std::move(context), std::move(plan));
    }
    case ConsensusFault::kDoubleVote:
      return std::make_unique<DoubleVote>(std::move(context));
    case ConsensusFault::kWithholdVotes:
      return std::make_unique<WithholdVotes>(std::move(context));
    case ConsensusFault::kInvalidVote:
      return std::make_unique<InvalidVote>(std::move(context));
    case ConsensusFault::kWrongStateRoot:
      return std::make_unique<WrongStateRoot>(std::move(context));
    case ConsensusFault::kForgeSignatures:
      return std::make_unique<ForgeSignatures>(std::move(context));
    case ConsensusFault::kReplay:
      return std::make_unique<Replay>(std::move(context));
    case ConsensusFault::kSilent:
      return std::make_unique<Silent>(std::move(context));
    case ConsensusFault::kNone:
      break;
  }
  return nullptr;
}

Result<std::unique_ptr<OutboundFilter>> make_byzantine_filter(const FaultsSection& faults,
                                                              std::uint32_t rank,
                                                              std::uint32_t ranks,
                                                              crypto::SigningKey key,
                                                              std::uint64_t seed) {
  auto fault = parse_consensus_fault(faults.consensus);
  if (!fault) return fault.error();
  const bool listed = std::find(faults.byzantine.begin(), faults.byzantine.end(),
                                static_cast<std::int64_t>(rank)) != faults.byzantine.end();
  if (!listed) return std::unique_ptr<OutboundFilter>{};
  FaultContext context;
  context.self = rank;
  context.n = ranks;
  context.sign = [key = std::move(key)](ByteView bytes) { return key.sign(bytes); };
  context.blocks = &ledger_blocks();
  // Its own stream: the update attacks draw from derive_seed(seed, rank, round).
  context.seed = derive_seed(seed ^ 0xb1a5'7ed0'fa17'5eedULL, rank, 0);
  return make_fault_filter(*fault, std::move(context));
}

}  // namespace fedchain::faults
