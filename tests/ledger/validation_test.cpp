// Validation against the chain: every header and tx field matters, quorum is counted in
// voting power, and the contract jails on evidence and on repeated rejected updates.
#include <gtest/gtest.h>

#include "fedchain/ledger/validation.hpp"
#include "test_chain.hpp"

namespace fedchain::ledger {
namespace {

using testing::NextBlock;
using testing::TestChain;

TEST(Validation, AGoodChainValidates) {
  TestChain chain;
  ChainState state = ChainState::from_genesis(chain.genesis());
  for (int i = 0; i < 3; ++i) chain.add_block();
  for (const auto& b : chain.blocks()) {
    ASSERT_TRUE(validate_commit(b.block, b.certificate, chain.genesis(), state));
    state = state.apply(b.block);
  }
  EXPECT_EQ(state, chain.state());
}

// One key holding two validators' votes: genesis refuses it when built, and when decoded
// from a chain file (so verify fails such a chain instead of saying OK).
TEST(Validation, GenesisRefusesTwoValidatorsWithOneKey) {
  TestChain chain;
  GenesisBuilder twice = chain.genesis().fields();
  twice.validators[3].key = twice.validators[1].key;
  auto built = twice.build();
  ASSERT_FALSE(built);
  EXPECT_EQ(built.error().code, "duplicate-validator-key");
  EXPECT_NE(built.error().message.find("validators 1 and 3"), std::string::npos)
      << built.error().message;
}

// Each mutation of a signed block must make validate_commit refuse it.
TEST(Validation, EveryHeaderFieldMatters) {
  TestChain chain;
  const Block good = chain.make_block();
  const auto all = std::vector<std::uint32_t>{0, 1, 2, 3};
  const CommitCertificate cert = chain.certify(good, 0, all);
  const ChainState& state = chain.state();
  ASSERT_TRUE(validate_commit(good, cert, chain.genesis(), state));
  std::vector<std::pair<const char*, void (*)(BlockHeader&)>> mutations = {
      {"version", [](BlockHeader& h) { h.version = kBlockHeaderVersion + 1; }},
      {"chain_id", [](BlockHeader& h) { h.chain_id.bytes[0] ^= 1; }},
      {"height", [](BlockHeader& h) { h.height += 1; }},
      {"prev_hash", [](BlockHeader& h) { h.prev_hash.bytes[0] ^= 1; }},
      {"proposer", [](BlockHeader& h) { h.proposer = (h.proposer + 1) % 4; }},
      {"time", [](BlockHeader& h) { h.time_ms += 1; }},
      {"tx_root", [](BlockHeader& h) { h.tx_root.bytes[0] ^= 1; }},
      {"evidence_root", [](BlockHeader& h) { h.evidence_root.bytes[0] ^= 1; }},
      {"state_root", [](BlockHeader& h) { h.state_root.bytes[0] ^= 1; }},
      {"chain_state_hash", [](BlockHeader& h) { h.chain_state_hash.bytes[0] ^= 1; }},
      {"rule", [](BlockHeader& h) { h.rule.name = "median"; }},
      {"rule param", [](BlockHeader& h) { h.rule.params[0].value = 0.3; }},
      {"rejected", [](BlockHeader& h) { h.rejected_clients = {2}; }},
      {"committee_hash", [](BlockHeader& h) { h.committee_hash.bytes[0] ^= 1; }},
      {"committee", [](BlockHeader& h) { h.committee.pop_back(); }},
  };
  for (const auto& [name, mutate] : mutations) {
    BlockBuilder b{good.header(), good.txs(), good.evidence()};
    mutate(b.header);
    const Block changed = b.build_unchecked();
    EXPECT_FALSE(validate_commit(changed, cert, chain.genesis(), state)) << name;
  }
}

TEST(Validation, EveryTxFieldMatters) {
  TestChain chain;
  const Tx good = chain.make_tx(1, 2);
  ASSERT_TRUE(validate_tx(good, 1, chain.genesis(), chain.state()));
  std::vector<std::pair<const char*, void (*)(TxBuilder&)>> mutations = {
      {"chain_id", [](TxBuilder& t) { t.chain_id.bytes[31] ^= 1; }},
      {"height", [](TxBuilder& t) { t.height = 2; }},
      {"client", [](TxBuilder& t) { t.client = 1; }},
      {"rank", [](TxBuilder& t) { t.rank = 1; }},
      {"weight", [](TxBuilder& t) { t.weight += 1; }},
      {"update_root", [](TxBuilder& t) { t.update_root.bytes[5] ^= 1; }},
      {"loss", [](TxBuilder& t) { t.loss += 1e-12; }},
      {"samples", [](TxBuilder& t) { t.samples += 1; }},
  };
  for (const auto& [name, mutate] : mutations) {
    TxBuilder b = good.fields();
    mutate(b);
    EXPECT_FALSE(validate_tx(b.with_signature(good.signature()), 1, chain.genesis(), chain.state()))
        << name;
  }
  Signature bad = good.signature();
  bad.bytes[0] ^= 1;
  auto st = validate_tx(good.fields().with_signature(bad), 1, chain.genesis(), chain.state());
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "bad-tx-signature");
}

// Clients apart from ranks: a tx must be for a client of this height's cohort, signed by the
// rank hosting it (client k on rank k mod n), weighted by that client's genesis samples.
TEST(Validation, ATxIsForACohortMemberSignedByItsHost) {
  TestChain chain({.validators = 4, .clients = 12, .per_round = 5});
  const auto cohort = chain.state().cohort();
  ASSERT_EQ(cohort.size(), 5u);
  std::uint32_t outsider = 0;
  while (std::binary_search(cohort.begin(), cohort.end(), outsider)) ++outsider;
  const auto code_of = [&](const Tx& tx) {
    const Status st = validate_tx(tx, 1, chain.genesis(), chain.state());
    return st ? std::string("ok") : st.error().code;
  };
  for (const auto member : cohort) EXPECT_EQ(code_of(chain.make_tx(1, member)), "ok") << member;
  EXPECT_EQ(code_of(chain.make_tx(1, outsider)), "not-in-cohort");
  TxBuilder wrong_host = chain.make_tx(1, cohort[0]).fields();
  wrong_host.rank = (wrong_host.rank + 1) % 4;
  EXPECT_EQ(code_of(wrong_host.sign(chain.keys()[wrong_host.rank])), "wrong-host");
  TxBuilder unknown = chain.make_tx(1, cohort[0]).fields();
  unknown.client = 12;
  EXPECT_EQ(code_of(unknown.sign(chain.keys()[unknown.rank])), "unknown-client");
  // Blocks of cohort members commit; the next cohort is drawn from the new state root.
  for (int h = 0; h < 3; ++h) chain.add_block();
  EXPECT_EQ(chain.state().cohort().size(), 5u);
  std::vector<std::uint64_t> samples;
  for (const auto& shard : chain.genesis().fields().shards) samples.push_back(shard.samples);
  EXPECT_EQ(chain.state().cohort(), draw_cohort({5, CohortSampling::kUniform}, samples,
                                                cohort_seed(7, chain.state().last_state_root())));
}

TEST(Validation, QuorumIsCountedInVotingPower) {
  TestChain chain({.validators = 4, .powers = {1, 1, 1, 4}});  // total 7
  const Block block = chain.make_block();
  auto check = [&](std::vector<std::uint32_t> signers) {
    return validate_certificate(chain.certify(block, 0, signers), block, chain.genesis(),
                                chain.state());
  };
  const auto three_small = check({0, 1, 2});  // 3 of 7
  ASSERT_FALSE(three_small);
  EXPECT_EQ(three_small.error().code, "no-quorum");
  EXPECT_FALSE(check({3}));    // 4 of 7: not more than 2/3
  EXPECT_TRUE(check({0, 3}));  // 5 of 7
  EXPECT_TRUE(check({0, 1, 2, 3}));
}

TEST(Validation, ForgedOrForeignPrecommitsAreRefused) {
  TestChain chain;
  const Block block = chain.make_block();
  TestChain other({.seed = 8});
  const CommitCertificate foreign = other.certify(block, 0, {0, 1, 2});
  auto st = validate_certificate(foreign, block, chain.genesis(), chain.state());
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "bad-precommit-signature");
  const CommitCertificate wrong_block = chain.certify(chain.make_block({.round = 1}), 0, {0, 1, 2});
  EXPECT_TRUE(
      validate_certificate(wrong_block, block, chain.genesis(), chain.state()).error().code ==
      "wrong-certificate-block");
}

TEST(Validation, ProposerRuleIsInjected) {
  TestChain chain;
  const Block block = chain.make_block({.round = 2});
  const CommitCertificate cert = chain.certify(block, 2, {0, 1, 2, 3});
  const ProposerRule rule = [](const ChainState&, std::uint64_t h, std::uint32_t r) {
    return static_cast<std::uint32_t>((h + r) % 4);
  };
  EXPECT_TRUE(validate_commit(block, cert, chain.genesis(), chain.state(), rule));
  const ProposerRule other = [](const ChainState&, std::uint64_t, std::uint32_t) { return 0u; };
  auto st = validate_commit(block, cert, chain.genesis(), chain.state(), other);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "wrong-proposer");
}

TEST(ChainStateContract, EvidenceJailsAndJailedValidatorsLoseTheirVote) {
  TestChain chain;
  chain.add_block({.evidence = {chain.make_evidence(3, 1)}});
  EXPECT_TRUE(chain.state().validators()[3].jailed);
  EXPECT_EQ(chain.state().voting_power(), 3u);
  const Block next = chain.make_block();
  EXPECT_EQ(next.txs().size(), 3u);
  auto st =
      validate_certificate(chain.certify(next, 0, {0, 1, 3}), next, chain.genesis(), chain.state());
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "inactive-signer");
  EXPECT_TRUE(validate_certificate(chain.certify(next, 0, {0, 1, 2}), next, chain.genesis(),
                                   chain.state()));
  // A tx from the jailed rank is refused.
  auto tx = validate_tx(chain.make_tx(2, 3), 2, chain.genesis(), chain.state());
  ASSERT_FALSE(tx);
  EXPECT_EQ(tx.error().code, "jailed-validator");
}

TEST(ChainStateContract, RepeatedRejectionsJailAndTheLedgerCounts) {
  TestChain chain({.jail_after_rejections = 2});
  chain.add_block({.rejected_clients = {1}});
  chain.add_block();  // the streak resets
  chain.add_block({.rejected_clients = {1}});
  EXPECT_FALSE(chain.state().validators()[1].jailed);
  chain.add_block({.rejected_clients = {1}});
  EXPECT_TRUE(chain.state().validators()[1].jailed);
  const auto& c1 = chain.state().contributions()[1];
  EXPECT_EQ(c1.updates_accepted, 1u);
  EXPECT_EQ(c1.updates_rejected, 3u);
  EXPECT_EQ(c1.samples_trained, 4u * 1001u);
  EXPECT_EQ(chain.state().contributions()[0].rewards, 4u);
  // A rejected rank that sent no tx is refused context-free.
  BlockBuilder b{chain.make_block().header(), {}, {}};
  b.header.rejected_clients = {0};
  auto st = check_block(b.build());
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, "bad-rejected-client");
}

TEST(Certificate, FromVotesRefusesMixedVotes) {
  TestChain chain;
  const Block block = chain.make_block();
  auto votes = chain.certify(block, 0, {0, 1, 2}).votes(chain.genesis().chain_id());
  EXPECT_TRUE(CommitCertificate::from_votes(votes));
  auto dup = votes;
  dup.push_back(votes[0]);
  ASSERT_TRUE(CommitCertificate::from_votes(dup));  // an exact duplicate is dropped
  EXPECT_EQ(CommitCertificate::from_votes(dup)->signatures().size(), 3u);
  auto mixed = votes;
  mixed[1].round = 5;
  EXPECT_EQ(CommitCertificate::from_votes(mixed).error().code, "mixed-votes");
  auto prevote = votes;
  prevote[2].type = VoteType::kPrevote;
  EXPECT_EQ(CommitCertificate::from_votes(prevote).error().code, "not-precommit");
  auto nil = votes;
  nil[0].block_hash.reset();
  EXPECT_FALSE(CommitCertificate::from_votes(nil));
}

// BlockTxs::kAlreadyValidated is a promise by the caller (a rank that validated these very
// transactions in the exchange): it skips their checks, and nothing else.
TEST(Validation, AlreadyValidatedTxsSkipOnlyTheTxChecks) {
  TestChain chain({.validators = 4});
  const Block good = chain.make_block();
  ASSERT_FALSE(good.txs().empty());
  std::vector<Tx> txs = good.txs();
  Signature bad = txs[0].signature();
  bad.bytes[0] ^= 1;
  txs[0] = txs[0].fields().with_signature(bad);
  const Block forged = BlockBuilder{good.header(), txs, good.evidence()}.build();
  auto full = validate_block(forged, chain.genesis(), chain.state());
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, "bad-tx-signature");
  EXPECT_TRUE(validate_block(forged, chain.genesis(), chain.state(), BlockTxs::kAlreadyValidated));

  BlockBuilder wrong_prev{good.header(), good.txs(), good.evidence()};
  wrong_prev.header.prev_hash.bytes[0] ^= 1;
  auto linked = validate_block(wrong_prev.build(), chain.genesis(), chain.state(),
                               BlockTxs::kAlreadyValidated);
  ASSERT_FALSE(linked);
  EXPECT_EQ(linked.error().code, "bad-prev-hash");
}

}  // namespace
}  // namespace fedchain::ledger
