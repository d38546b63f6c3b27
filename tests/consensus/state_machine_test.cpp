// Directed cases for the state machine, with the simulator's fake signer: a lockstep run
// of four validators, and the refusals a peer's bad messages must meet.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <memory>

#include "fake_crypto.hpp"
#include "fedchain/consensus/state_machine.hpp"

namespace fedchain::consensus {
namespace {

using ledger::Vote;
using ledger::VoteType;
using sim::FakeBlockHasher;
using sim::FakeKeys;
using sim::FakeSigner;

// n validators; messages delivered in FIFO order, timeouts ignored, every block valid.
struct Lockstep {
  explicit Lockstep(std::uint32_t n) : keys(n, 11) {
    for (std::uint32_t i = 0; i < n; ++i) signers.push_back(std::make_unique<FakeSigner>(keys, i));
    for (std::uint32_t i = 0; i < n; ++i) {
      Config config;
      config.chain_id = chain_id;
      config.self = i;
      machines.push_back(std::make_unique<StateMachine>(config, *signers[i], hasher));
    }
  }
  void run(std::uint32_t id, Outcome outcome) {
    for (Action& action : outcome.actions) {
      if (auto* b = std::get_if<Broadcast>(&action)) {
        for (std::uint32_t to = 0; to < machines.size(); ++to) {
          if (to != id) queue.emplace_back(to, b->message);
        }
      } else if (auto* s = std::get_if<SendTo>(&action)) {
        queue.emplace_back(s->validator, s->message);
      } else if (auto* r = std::get_if<RequestBlock>(&action)) {
        const Bytes block{static_cast<std::uint8_t>(r->height), 42};
        run(id, machines[id]->on_block_ready(r->height, r->round, block));
      } else if (auto* v = std::get_if<ValidateBlock>(&action)) {
        run(id, machines[id]->on_block_validated(v->height, v->block_hash, true));
      } else if (auto* c = std::get_if<Commit>(&action)) {
        commits.push_back({id, *c});
      } else if (auto* e = std::get_if<EquivocationFound>(&action)) {
        evidence.push_back(*e);
      }
    }
  }
  void start() {
    for (std::uint32_t i = 0; i < machines.size(); ++i) {
      run(i, machines[i]->start_height(0, ValidatorSet::equal(machines.size())));
    }
  }
  void drain() {
    while (!queue.empty()) {
      auto [to, message] = queue.front();
      queue.pop_front();
      run(to, machines[to]->on_message(message));
    }
  }
  Vote signed_vote(std::uint32_t validator, VoteType type, std::optional<Hash32> block,
                   std::uint32_t round = 0) const {
    Vote v;
    v.chain_id = chain_id;
    v.type = type;
    v.round = round;
    v.block_hash = block;
    v.validator = validator;
    v.signature = keys.sign(validator, v.sign_bytes());
    return v;
  }

  Hash32 chain_id = sim::fake_hash(as_bytes("state-machine-test"));
  FakeKeys keys;
  FakeBlockHasher hasher;
  std::vector<std::unique_ptr<FakeSigner>> signers;
  std::vector<std::unique_ptr<StateMachine>> machines;
  std::deque<std::pair<std::uint32_t, Message>> queue;
  std::vector<std::pair<std::uint32_t, Commit>> commits;
  std::vector<EquivocationFound> evidence;
};

TEST(StateMachine, FourValidatorsCommitOneBlockInRoundZero) {
  Lockstep net(4);
  net.start();
  net.drain();
  ASSERT_EQ(net.commits.size(), 4u);
  for (const auto& [id, commit] : net.commits) {
    EXPECT_EQ(commit.height, 0u);
    EXPECT_EQ(commit.round, 0u);
    EXPECT_EQ(commit.block_hash, net.commits[0].second.block_hash);
    EXPECT_GE(commit.precommits.size(), 3u);
  }
}

TEST(StateMachine, RefusesAForgedVote) {
  Lockstep net(4);
  net.start();
  Vote forged = net.signed_vote(2, VoteType::kPrevote, std::nullopt);
  forged.validator = 1;  // signed by 2, claims to be 1
  const Outcome outcome = net.machines[0]->on_vote(forged);
  ASSERT_FALSE(outcome.status);
  EXPECT_EQ(outcome.status.error().code, "bad-signature");
}

TEST(StateMachine, RefusesAReplayedVote) {
  Lockstep net(4);
  net.start();
  const Vote vote = net.signed_vote(1, VoteType::kPrevote, std::nullopt);
  EXPECT_TRUE(net.machines[0]->on_vote(vote).status);
  const Outcome again = net.machines[0]->on_vote(vote);
  ASSERT_FALSE(again.status);
  EXPECT_EQ(again.status.error().code, "duplicate-vote");
}

TEST(StateMachine, ConflictingVotesBecomeEvidence) {
  Lockstep net(4);
  net.start();
  Hash32 block;
  block.bytes[0] = 1;
  (void)net.machines[0]->on_vote(net.signed_vote(3, VoteType::kPrevote, std::nullopt));
  net.run(0, net.machines[0]->on_vote(net.signed_vote(3, VoteType::kPrevote, block)));
  ASSERT_EQ(net.evidence.size(), 1u);
  EXPECT_TRUE(net.evidence[0].first.conflicts_with(net.evidence[0].second));
}

// Held at a decided height (the round loop waits for every rank to commit), a validator
// answers a peer that still votes there for something else with the decision: an
// equivocating proposer may have kept the decided block from that peer.
TEST(StateMachine, DecidedValidatorServesAPeerVotingForAnotherBlock) {
  Lockstep net(4);
  net.start();
  net.drain();
  ASSERT_EQ(net.commits.size(), 4u);
  const Hash32 decided = net.commits[0].second.block_hash;
  auto proposal_sent_to_3 = [](const Outcome& outcome) {
    return std::any_of(outcome.actions.begin(), outcome.actions.end(), [](const Action& a) {
      const auto* send = std::get_if<SendTo>(&a);
      return send != nullptr && send->validator == 3 &&
             std::holds_alternative<Proposal>(send->message);
    });
  };
  EXPECT_FALSE(proposal_sent_to_3(
      net.machines[0]->on_vote(net.signed_vote(3, VoteType::kPrevote, decided, 1))))
      << "a peer that votes for the decided block holds it";
  EXPECT_TRUE(proposal_sent_to_3(
      net.machines[0]->on_vote(net.signed_vote(3, VoteType::kPrevote, std::nullopt, 2))));
}

// A peer at the decided height may hold the block and vote for it and still lack the
// precommits: a rank two heights behind drops them as future-height and may keep the
// proposal, which came later, for the next height. Such a peer draws no catch-up (it votes
// for the decided block) and, short of a prevote quorum, arms no timeout but retransmit: the
// validators held there must keep re-sending their own votes, or it waits forever.
TEST(StateMachine, DecidedValidatorsHeldAtTheHeightRetransmitTheirVotes) {
  Lockstep net(4);
  net.start();
  auto drain_without_votes_to_3 = [&] {
    while (!net.queue.empty()) {
      auto [to, message] = net.queue.front();
      net.queue.pop_front();
      if (to == 3 && std::holds_alternative<Vote>(message)) continue;
      net.run(to, net.machines[to]->on_message(message));
    }
  };
  drain_without_votes_to_3();
  ASSERT_EQ(net.commits.size(), 3u);
  ASSERT_EQ(net.machines[3]->phase(), Phase::kPrevote) << "it prevoted the proposal";
  const Hash32 decided = net.commits[0].second.block_hash;

  // Its own retransmits draw nothing from the decided validators.
  net.run(3, net.machines[3]->on_timeout(Timeout{0, 0, TimeoutKind::kRetransmit}));
  net.drain();
  ASSERT_EQ(net.commits.size(), 3u);

  // Theirs, held at height 0 by the driver, bring it the precommits.
  for (std::uint32_t i = 0; i < 3; ++i) {
    ASSERT_EQ(net.machines[i]->phase(), Phase::kDecided);
    net.run(i, net.machines[i]->on_timeout(Timeout{0, 0, TimeoutKind::kRetransmit}));
  }
  net.drain();
  ASSERT_EQ(net.commits.size(), 4u);
  EXPECT_EQ(net.commits[3].first, 3u);
  EXPECT_EQ(net.commits[3].second.block_hash, decided);
}

TEST(StateMachine, RefusesOtherChainsFarRoundsAndFarHeights) {
  Lockstep net(4);
  net.start();
  Vote other_chain = net.signed_vote(1, VoteType::kPrevote, std::nullopt);
  other_chain.chain_id.bytes[0] ^= 1;
  EXPECT_EQ(net.machines[0]->on_vote(other_chain).status.error().code, "wrong-chain");
  const Vote far_round = net.signed_vote(1, VoteType::kPrevote, std::nullopt, 1000);
  EXPECT_EQ(net.machines[0]->on_vote(far_round).status.error().code, "far-round");
  Vote far_height = net.signed_vote(1, VoteType::kPrevote, std::nullopt);
  far_height.height = 5;
  far_height.signature = net.keys.sign(1, far_height.sign_bytes());
  EXPECT_EQ(net.machines[0]->on_vote(far_height).status.error().code, "future-height");
}

TEST(StateMachine, RefusesAProposalWhoseBytesDoNotMatchItsHash) {
  Lockstep net(4);
  net.start();
  Proposal p;
  p.chain_id = net.chain_id;
  p.proposer = net.machines[0]->validators().proposer(0, 0);
  p.block = {1, 2, 3};
  p.block_hash.bytes[0] = 1;  // not the hash of the bytes
  p.signature = net.keys.sign(p.proposer, p.sign_bytes());
  const std::uint32_t receiver = (p.proposer + 1) % 4;
  EXPECT_EQ(net.machines[receiver]->on_proposal(p).status.error().code, "block-hash-mismatch");
  p.proposer = (p.proposer + 1) % 4;
  p.signature = net.keys.sign(p.proposer, p.sign_bytes());
  EXPECT_EQ(net.machines[(p.proposer + 1) % 4]->on_proposal(p).status.error().code,
            "wrong-proposer");
}

TEST(StateMachine, CommitCertificateFromAPeerDecidesALaggard) {
  Lockstep net(4);
  net.start();
  net.drain();
  const Commit& decided = net.commits[0].second;
  FakeSigner signer(net.keys, 3);
  Config config;
  config.chain_id = net.chain_id;
  config.self = 3;
  StateMachine late(config, signer, net.hasher);
  (void)late.start_height(0, ValidatorSet::equal(4));
  std::vector<Vote> short_of_quorum(decided.precommits.begin(), decided.precommits.begin() + 2);
  EXPECT_EQ(late.on_commit_certificate(decided.block, short_of_quorum).status.error().code,
            "bad-certificate");
  const Outcome outcome = late.on_commit_certificate(decided.block, decided.precommits);
  ASSERT_TRUE(outcome.status) << outcome.status.error().message;
  EXPECT_EQ(late.phase(), Phase::kDecided);
}

// Counts signature checks: a message buffered for the next height is verified when it
// arrives and not again when start_height replays it.
class CountingSigner final : public Signer {
 public:
  explicit CountingSigner(const FakeSigner& inner) : inner_(inner) {}
  Signature sign(ByteView) override { return {}; }
  bool verify(std::uint32_t validator, ByteView message,
              const Signature& signature) const override {
    ++verifies;
    return inner_.verify(validator, message, signature);
  }
  mutable int verifies = 0;

 private:
  const FakeSigner& inner_;
};

TEST(StateMachine, VerifiesAMessageForTheNextHeightOnce) {
  Lockstep net(4);
  FakeSigner fake(net.keys, 0);
  CountingSigner counting(fake);
  Config config;
  config.chain_id = net.chain_id;
  config.self = 0;
  StateMachine machine(config, counting, net.hasher);
  (void)machine.start_height(0, ValidatorSet::equal(4));

  Vote early = net.signed_vote(1, VoteType::kPrevote, std::nullopt);
  early.height = 1;
  early.signature = net.keys.sign(1, early.sign_bytes());
  Proposal proposal;
  proposal.chain_id = net.chain_id;
  proposal.height = 1;
  proposal.proposer = ValidatorSet::equal(4).proposer(1, 0);
  proposal.block = {7, 7};
  proposal.block_hash = *net.hasher.hash(proposal.block);
  proposal.signature = net.keys.sign(proposal.proposer, proposal.sign_bytes());
  Vote forged = early;
  forged.validator = 2;  // signed by 1
  ASSERT_TRUE(machine.on_vote(early).status);
  ASSERT_TRUE(machine.on_proposal(proposal).status);
  EXPECT_EQ(machine.on_vote(forged).status.error().code, "bad-signature");
  EXPECT_EQ(counting.verifies, 3);

  const Outcome started = machine.start_height(1, ValidatorSet::equal(4));
  ASSERT_TRUE(started.status);
  EXPECT_EQ(counting.verifies, 3) << "a buffered message was verified again";
  // Both were taken in: the vote is counted, the proposal is up for validation.
  EXPECT_EQ(machine.on_vote(early).status.error().code, "duplicate-vote");
  EXPECT_TRUE(std::any_of(started.actions.begin(), started.actions.end(), [&](const Action& a) {
    const auto* validate = std::get_if<ValidateBlock>(&a);
    return validate != nullptr && validate->block_hash == proposal.block_hash;
  }));
}

}  // namespace
}  // namespace fedchain::consensus
