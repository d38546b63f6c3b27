// What a hostile peer can make one honest state machine do: each test pins an attack that
// once worked (docs/consensus.md, Threats) and the bound that now stops it. Validator 0 is
// the machine under test; the others' keys are the simulator's, so a test can sign as any
// of them (a Byzantine validator) or forge (an outsider).
#include <gtest/gtest.h>

#include <algorithm>

#include "fake_crypto.hpp"
#include "fedchain/consensus/state_machine.hpp"

namespace fedchain::consensus {
namespace {

using ledger::Vote;
using ledger::VoteType;

constexpr std::uint32_t kN = 4;

struct Node {
  Node() : keys(kN, 29), signer(keys, 0), machine(config(), signer, hasher) {}
  Config config() const {
    Config c;
    c.chain_id = chain_id;
    c.self = 0;
    return c;
  }
  Vote vote(std::uint32_t validator, std::uint64_t height, std::uint32_t round, VoteType type,
            std::optional<Hash32> block) const {
    Vote v;
    v.chain_id = chain_id;
    v.height = height;
    v.round = round;
    v.type = type;
    v.block_hash = block;
    v.validator = validator;
    v.signature = keys.sign(validator, v.sign_bytes());
    return v;
  }
  Proposal proposal(std::uint64_t height, std::uint32_t round, Bytes block) const {
    Proposal p;
    p.chain_id = chain_id;
    p.height = height;
    p.round = round;
    p.proposer = ValidatorSet::equal(kN).proposer(height, round);
    p.block = std::move(block);
    p.block_hash = *hasher.hash(p.block);
    p.signature = keys.sign(p.proposer, p.sign_bytes());
    return p;
  }
  // Answers every ValidateBlock with "valid"; returns what the input and the answers sent.
  std::vector<Action> run(Outcome outcome) {
    std::vector<Action> all;
    for (Action& action : outcome.actions) {
      if (const auto* v = std::get_if<ValidateBlock>(&action)) {
        auto more = run(machine.on_block_validated(v->height, v->block_hash, true));
        all.insert(all.end(), more.begin(), more.end());
      }
      all.push_back(std::move(action));
    }
    return all;
  }
  // Decides `height` with a block from another proposer, then starts height + 1.
  void decide(std::uint64_t height) {
    std::uint32_t round = 0;
    while (ValidatorSet::equal(kN).proposer(height, round) == 0) ++round;
    const Proposal p = proposal(height, round, Bytes{static_cast<std::uint8_t>(height), 1});
    (void)run(machine.on_proposal(p));
    for (std::uint32_t v = 1; v < kN; ++v) {
      (void)run(machine.on_vote(vote(v, height, round, VoteType::kPrecommit, p.block_hash)));
    }
    ASSERT_EQ(machine.phase(), Phase::kDecided);
    (void)run(machine.start_height(height + 1, ValidatorSet::equal(kN)));
  }

  Hash32 chain_id = sim::fake_hash(as_bytes("hostile-peer-test"));
  sim::FakeKeys keys;
  sim::FakeBlockHasher hasher;
  sim::FakeSigner signer;
  StateMachine machine;
};

std::size_t sends(const std::vector<Action>& actions) {
  return static_cast<std::size_t>(
      std::count_if(actions.begin(), actions.end(), [](const Action& a) {
        return std::holds_alternative<SendTo>(a) || std::holds_alternative<Broadcast>(a);
      }));
}

template <typename T>
const T* find_action(const std::vector<Action>& actions) {
  for (const Action& a : actions) {
    if (const auto* found = std::get_if<T>(&a)) return found;
  }
  return nullptr;
}

bool sends_a_proposal(const std::vector<Action>& actions) {
  return std::any_of(actions.begin(), actions.end(), [](const Action& a) {
    const auto* send = std::get_if<SendTo>(&a);
    return send != nullptr && std::holds_alternative<Proposal>(send->message);
  });
}

// Defect 1 of issue 13: a Byzantine proposer signs more conflicting proposals for one round
// than the machine keeps. One it did not keep must never become decidable (it used to be
// validated anyway, and a quorum of precommits for it made decide() read a null carrier),
// and once a quorum precommitted it, it is kept when it comes again, so the height decides.
TEST(HostilePeer, ConflictingProposalsBeyondTheBoundNeverLeaveADecisionWithoutItsBlock) {
  Node node;
  (void)node.run(node.machine.start_height(0, ValidatorSet::equal(kN)));
  std::uint32_t round = 0;
  while (ValidatorSet::equal(kN).proposer(0, round) == 0) ++round;
  std::vector<Proposal> proposals;
  for (std::uint32_t i = 0; i < 300; ++i) {
    proposals.push_back(node.proposal(
        0, round, Bytes{static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(i >> 8), 7}));
    (void)node.run(node.machine.on_proposal(proposals.back()));
  }
  const Proposal& last = proposals.back();
  std::vector<Action> decided;
  for (std::uint32_t v = 1; v < kN; ++v) {
    auto actions = node.run(
        node.machine.on_vote(node.vote(v, 0, round, VoteType::kPrecommit, last.block_hash)));
    decided.insert(decided.end(), actions.begin(), actions.end());
  }
  if (const Commit* commit = find_action<Commit>(decided)) {
    EXPECT_EQ(commit->block, last.block);  // it was kept after all
    return;
  }
  EXPECT_NE(node.machine.phase(), Phase::kDecided);
  const auto again = node.run(node.machine.on_proposal(last));
  const Commit* commit = find_action<Commit>(again);
  ASSERT_NE(commit, nullptr) << "a block a quorum precommitted was refused again";
  EXPECT_EQ(commit->block_hash, last.block_hash);
  EXPECT_EQ(commit->block, last.block);
}

// Defect 2 of issue 13: catch-up help was served before the vote's signature was checked,
// and its rate limit keyed on a round the sender chose. Ten forged votes for a decided
// height drew forty messages (a proposal and three precommits each).
TEST(HostilePeer, ForgedVotesForADecidedHeightDrawNoReply) {
  Node node;
  (void)node.run(node.machine.start_height(0, ValidatorSet::equal(kN)));
  node.decide(0);
  std::size_t sent = 0;
  for (std::uint32_t round = 1; round <= 10; ++round) {
    Vote forged = node.vote(3, 0, round, VoteType::kPrevote, std::nullopt);
    forged.signature = node.keys.sign(2, forged.sign_bytes());  // not validator 3's key
    const Outcome outcome = node.machine.on_vote(forged);
    sent += sends(outcome.actions);
  }
  EXPECT_EQ(sent, 0u) << "unsigned votes made the node send";
}

// A validly signed Byzantine validator may ask, but choosing a new round for each ask must
// not earn a new answer: the first ask for a height is answered, and one repeat per round
// of ours (in case an answer was lost), however often it asks.
TEST(HostilePeer, SignedAsksInEverRisingRoundsDrawABoundedCountOfReplies) {
  Node node;
  (void)node.run(node.machine.start_height(0, ValidatorSet::equal(kN)));
  node.decide(0);
  std::size_t replies = 0;
  for (std::uint32_t round = 1; round <= 40; ++round) {
    const Outcome outcome =
        node.machine.on_vote(node.vote(3, 0, round, VoteType::kPrevote, std::nullopt));
    replies += sends_a_proposal(outcome.actions) ? 1 : 0;
  }
  EXPECT_EQ(replies, 2u);
}

// Counts signature checks, to show which inputs cost one.
class CountingSigner final : public Signer {
 public:
  explicit CountingSigner(Signer& inner) : inner_(inner) {}
  Signature sign(ByteView message) override { return inner_.sign(message); }
  bool verify(std::uint32_t validator, ByteView message,
              const Signature& signature) const override {
    ++verifies;
    return inner_.verify(validator, message, signature);
  }
  mutable int verifies = 0;

 private:
  Signer& inner_;
};

// A peer heights ahead sends a stream of messages we cannot use; one is verified only if it
// is due an ask (the first, and one repeat, per round of ours), so the stream costs a
// lagging validator lookups, not the signature checks it needs to catch up.
TEST(HostilePeer, StreamsOfUnusableMessagesCostNoSignatureChecks) {
  Node node;
  CountingSigner counting(node.signer);
  StateMachine machine(node.config(), counting, node.hasher);
  (void)machine.start_height(0, ValidatorSet::equal(kN));
  (void)machine.on_timeout(Timeout{0, 0, TimeoutKind::kPropose});  // a vote of ours to show
  std::size_t sent = 0;
  for (std::uint32_t i = 0; i < 100; ++i) {
    sent +=
        sends(machine.on_vote(node.vote(2, 9, i % 4, VoteType::kPrevote, std::nullopt)).actions);
  }
  EXPECT_EQ(counting.verifies, 2);
  EXPECT_EQ(sent, 2u);
}

// A decided validator answers a peer still voting at its height for another block; that
// answer, too, waits for the vote's signature.
TEST(HostilePeer, ForgedVotesAtADecidedHeightDrawNoReply) {
  Node node;
  (void)node.run(node.machine.start_height(0, ValidatorSet::equal(kN)));
  std::uint32_t round = 0;
  while (ValidatorSet::equal(kN).proposer(0, round) == 0) ++round;
  const Proposal p = node.proposal(0, round, Bytes{9, 9});
  (void)node.run(node.machine.on_proposal(p));
  for (std::uint32_t v = 1; v < kN; ++v) {
    (void)node.run(
        node.machine.on_vote(node.vote(v, 0, round, VoteType::kPrecommit, p.block_hash)));
  }
  ASSERT_EQ(node.machine.phase(), Phase::kDecided);
  Vote forged = node.vote(3, 0, round + 1, VoteType::kPrevote, std::nullopt);
  forged.signature = node.keys.sign(1, forged.sign_bytes());
  EXPECT_EQ(sends(node.machine.on_vote(forged).actions), 0u);
}

// A peer heights ahead is shown our latest vote; a forged message from the future must not
// draw it.
TEST(HostilePeer, ForgedMessagesFromFutureHeightsDrawNoReply) {
  Node node;
  (void)node.run(node.machine.start_height(0, ValidatorSet::equal(kN)));
  // Give the machine a vote of its own to show: a nil prevote after the propose timeout.
  (void)node.run(node.machine.on_timeout(Timeout{0, 0, TimeoutKind::kPropose}));
  Vote forged = node.vote(2, 5, 0, VoteType::kPrevote, std::nullopt);
  forged.signature = node.keys.sign(1, forged.sign_bytes());
  EXPECT_EQ(sends(node.machine.on_vote(forged).actions), 0u);
  Proposal future = node.proposal(5, 0, Bytes{5});
  future.signature = node.keys.sign((future.proposer + 1) % kN, future.sign_bytes());
  EXPECT_EQ(sends(node.machine.on_proposal(future).actions), 0u);
}

// Votes for the height just decided are kept as possible evidence, but only within the
// round window: a Byzantine validator signing votes for every round must not grow them.
TEST(HostilePeer, LateVotesBeyondTheRoundWindowAreNotKept) {
  Node node;
  (void)node.run(node.machine.start_height(0, ValidatorSet::equal(kN)));
  node.decide(0);
  const std::size_t before = node.machine.footprint().late_vote_rounds;
  const std::uint32_t window = node.machine.config().round_window;
  for (std::uint32_t round = 1000 + window; round < 1100 + window; ++round) {
    (void)node.machine.on_vote(node.vote(3, 0, round, VoteType::kPrevote, std::nullopt));
  }
  EXPECT_EQ(node.machine.footprint().late_vote_rounds, before);
}

// One validator flooding the next height fills only its own share of the buffer: an honest
// validator's early vote is still buffered and counted once the height starts.
TEST(HostilePeer, AFloodForTheNextHeightDoesNotCrowdOutHonestMessages) {
  Node node;
  (void)node.run(node.machine.start_height(0, ValidatorSet::equal(kN)));
  for (std::uint32_t round = 0; round < 60; ++round) {
    for (VoteType type : {VoteType::kPrevote, VoteType::kPrecommit}) {
      (void)node.machine.on_vote(node.vote(3, 1, round, type, std::nullopt));
    }
  }
  const Vote honest = node.vote(1, 1, 0, VoteType::kPrevote, std::nullopt);
  EXPECT_TRUE(node.machine.on_vote(honest).status);
  node.decide(0);
  EXPECT_EQ(node.machine.on_vote(honest).status.error().code, "duplicate-vote")
      << "the honest early vote was dropped";
}

}  // namespace
}  // namespace fedchain::consensus
