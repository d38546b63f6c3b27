// Every faults.consensus behaviour through the production filters (faults/consensus_faults.hpp) on
// the real wire, with real ledger blocks, Ed25519 and chain state (jailing on evidence):
// f Byzantine ranks among 4 or 7, one height at a time as the round loop drives it. Every
// honest rank must end with the same chain, which the ledger's verify (what `fedchain
// verify` runs) accepts, and each behaviour must leave the trace its name promises.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "fedchain/consensus/chain_validators.hpp"
#include "fedchain/consensus/ed25519_signer.hpp"
#include "fedchain/crypto/sha256.hpp"
#include "fedchain/faults/consensus_faults.hpp"
#include "fedchain/ledger/committee.hpp"
#include "fedchain/ledger/verify.hpp"
#include "fedchain/net/consensus_loop.hpp"
#include "test_chain.hpp"

namespace fedchain::net {
namespace {

using consensus::Message;
using ledger::testing::TestChain;

constexpr std::int64_t kChainSeed = 4242;

std::uint32_t world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return static_cast<std::uint32_t>(rank);
}
std::uint32_t world_size() {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return static_cast<std::uint32_t>(size);
}

Hash32 expected_root(std::uint64_t height) {
  return crypto::sha256(as_bytes(fmt::format("model after {}", height)));
}

class LedgerBlockHasher final : public consensus::BlockHasher {
 public:
  std::optional<Hash32> hash(ByteView block) const override {
    auto decoded = ledger::Block::decode(block);
    if (!decoded) return std::nullopt;
    return decoded->hash();
  }
};

// What node::ChainParticipant does, on the test chain's genesis: propose the block of the
// round (every active rank's tx, pending evidence), accept only that round's block, commit
// into a chain file, and jail on committed evidence through chain state.
class LedgerApp final : public Application {
 public:
  LedgerApp(const TestChain& fixture, std::uint32_t self, ledger::ChainStore store)
      : fixture_(fixture),
        state_(ledger::ChainState::from_genesis(fixture.genesis())),
        store_(std::move(store)),
        self_(self) {}

  Bytes propose_block(std::uint64_t height, std::uint32_t round) override {
    ledger::BlockBuilder b;
    b.header.chain_id = fixture_.genesis().chain_id();
    b.header.height = height;
    b.header.prev_hash = state_.last_block_hash();
    b.header.proposer = self_;
    b.header.time_ms = state_.last_time_ms() + 1000 + round;
    b.header.state_root = expected_root(height);
    b.header.chain_state_hash = state_.hash();
    b.header.rule = fixture_.genesis().fields().rule;
    b.header.committee_hash = ledger::committee_hash(state_.committee());
    if (ledger::starts_epoch(height, fixture_.genesis().fields().committee.epoch)) {
      b.header.committee = state_.committee();
    }
    b.txs = expected_txs(height);
    b.evidence = pending_;
    return b.build().encode();
  }

  bool validate_block(std::uint64_t height, const Hash32&, ByteView bytes) override {
    auto block = ledger::Block::decode(bytes);
    return block && ledger::validate_block(*block, fixture_.genesis(), state_) &&
           block->height() == height && block->header().state_root == expected_root(height) &&
           block->txs() == expected_txs(height);
  }

  Result<consensus::ValidatorSet> commit(const consensus::Commit& commit) override {
    auto block = ledger::Block::decode(commit.block);
    if (!block) return block.error();
    auto certificate = ledger::CommitCertificate::from_votes(commit.precommits);
    if (!certificate) return certificate.error();
    if (auto st = store_.append(*block, *certificate); !st) return st.error();
    state_ = state_.apply(*block);
    std::erase_if(pending_, [&](const ledger::Evidence& e) {
      return std::find(block->evidence().begin(), block->evidence().end(), e) !=
             block->evidence().end();
    });
    for (const auto& vote : certificate->votes(fixture_.genesis().chain_id())) {
      signers_.push_back(vote.validator);
    }
    proposers_.push_back(block->header().proposer);
    evidence_ += block->evidence().size();
    return consensus::validator_set_of(state_);
  }

  void evidence(const consensus::EquivocationFound& found) override {
    auto e = ledger::Evidence::make(found.first, found.second);
    if (e && std::find(pending_.begin(), pending_.end(), *e) == pending_.end()) {
      pending_.push_back(*e);
    }
  }

  const ledger::ChainState& state() const { return state_; }
  const ledger::ChainStore& store() const { return store_; }
  const std::vector<std::uint32_t>& signers() const { return signers_; }
  const std::vector<std::uint32_t>& proposers() const { return proposers_; }
  std::size_t committed_evidence() const { return evidence_; }

 private:
  std::vector<ledger::Tx> expected_txs(std::uint64_t height) const {
    std::vector<ledger::Tx> txs;
    for (std::uint32_t r = 0; r < state_.validators().size(); ++r) {
      if (state_.is_active(r)) txs.push_back(fixture_.make_tx(height, r));
    }
    return txs;
  }

  const TestChain& fixture_;
  ledger::ChainState state_;
  ledger::ChainStore store_;
  std::uint32_t self_;
  std::vector<ledger::Evidence> pending_;
  std::vector<std::uint32_t> signers_;    // every certificate signer, all heights
  std::vector<std::uint32_t> proposers_;  // by height
  std::size_t evidence_ = 0;
};

// On honest ranks: counts what a Byzantine rank sent in someone else's name for a height
// at least two below ours (an honest rank relays only current votes): replays.
class ReplayWatch final : public faults::OutboundFilter {
 public:
  ReplayWatch(const consensus::StateMachine& machine, std::vector<std::int64_t> byzantine)
      : machine_(machine), byzantine_(std::move(byzantine)) {}
  void on_send(std::optional<std::uint32_t> to, const Message& message,
               const faults::SendFn& send) override {
    send(to, message);
  }
  void on_received(std::uint32_t from, const Message& message) override {
    if (std::find(byzantine_.begin(), byzantine_.end(), from) == byzantine_.end()) return;
    const auto [height, author] = std::visit(
        [](const auto& m) {
          if constexpr (std::is_same_v<std::decay_t<decltype(m)>, consensus::Proposal>) {
            return std::make_pair(m.height, m.proposer);
          } else {
            return std::make_pair(m.height, m.validator);
          }
        },
        message);
    if (author != from && height + 2 <= machine_.height()) ++replays;
  }
  std::uint64_t replays = 0;

 private:
  const consensus::StateMachine& machine_;
  std::vector<std::int64_t> byzantine_;
};

// One chain of `heights` blocks with faults.consensus = `behaviour` on f ranks.
void run_with(const char* behaviour, std::uint64_t heights) {
  const std::uint32_t rank = world_rank();
  const std::uint32_t n = world_size();
  // Byzantine ranks not at the end of the ring: ranks on both sides of them are honest.
  FaultsSection faults;
  faults.consensus = behaviour;
  faults.byzantine = n == 4 ? std::vector<std::int64_t>{2} : std::vector<std::int64_t>{3, 6};
  ASSERT_EQ(faults.byzantine.size(), (n - 1) / 3) << "run with 4 or 7 ranks";
  const bool byzantine = std::find(faults.byzantine.begin(), faults.byzantine.end(),
                                   static_cast<std::int64_t>(rank)) != faults.byzantine.end();

  const TestChain fixture({.validators = n, .seed = kChainSeed});
  ledger::testing::TempDir dir;
  auto store = ledger::ChainStore::create(dir.path(), fixture.genesis());
  ASSERT_TRUE(store) << store.error().message;
  LedgerApp app(fixture, rank, std::move(*store));
  std::vector<PublicKey> keys;
  for (const auto& key : fixture.keys()) keys.push_back(key.public_key());
  consensus::Ed25519Signer signer(fixture.keys()[rank], keys);
  LedgerBlockHasher hasher;
  consensus::Config config;
  config.chain_id = fixture.genesis().chain_id();
  config.self = rank;
  consensus::StateMachine machine(config, signer, hasher);
  auto transport = Transport::create(std::size_t{1} << 20);
  ASSERT_TRUE(transport) << transport.error().message;

  auto filter = faults::make_byzantine_filter(faults, rank, n, fixture.keys()[rank], kChainSeed);
  ASSERT_TRUE(filter) << filter.error().message;
  ASSERT_EQ(*filter != nullptr, byzantine);
  ReplayWatch watch(machine, faults.byzantine);
  faults::OutboundFilter* on_wire = byzantine ? filter->get() : &watch;
  ConsensusLoop loop(machine, **transport, app, on_wire);
  for (std::uint64_t h = 1; h <= heights; ++h) {
    auto set = consensus::validator_set_of(app.state());
    ASSERT_TRUE(set) << set.error().message;
    const Status st = loop.run_height(h, std::move(*set), std::chrono::seconds(120));
    ASSERT_TRUE(st) << behaviour << ": " << st.error().message;
  }
  const Status closed = loop.shut_down(std::chrono::seconds(60));
  ASSERT_TRUE(closed) << closed.error().message;
  EXPECT_EQ(loop.stats().undecodable, 0u);

  // The chain: every rank committed every height (Byzantine ranks' machines are honest
  // underneath and follow the certificates), the same blocks everywhere, and it verifies.
  ASSERT_EQ(app.state().height(), heights);
  ledger::VerifyOptions options;
  options.proposer_rule = consensus::proposer_of;
  const ledger::VerifyReport report = ledger::verify_chain(app.store(), options);
  EXPECT_TRUE(report.ok()) << behaviour << " rank " << rank << ": height "
                           << report.bad_height.value_or(0) << ": "
                           << (report.error ? report.error->message : "");
  Hash32 tip = app.state().last_block_hash();
  std::vector<Hash32> tips(n);
  MPI_Allgather(tip.bytes.data(), 32, MPI_BYTE, tips.data(), 32, MPI_BYTE, MPI_COMM_WORLD);
  for (std::uint32_t r = 0; r < n; ++r) {
    EXPECT_EQ(tips[r], tips[0]) << behaviour << ": rank " << r << " ends on another chain";
  }

  // What the behaviour must leave behind, seen from an honest rank.
  auto by_byzantine = [&](const std::vector<std::uint32_t>& ranks) {
    return std::count_if(ranks.begin(), ranks.end(), [&](std::uint32_t r) {
      return std::find(faults.byzantine.begin(), faults.byzantine.end(), r) !=
             faults.byzantine.end();
    });
  };
  const std::string name = behaviour;
  if (!byzantine) {
    if (name == "equivocate" || name == "double_vote") {
      EXPECT_GT(app.committed_evidence(), 0u) << name;
      for (auto b : faults.byzantine) {
        EXPECT_TRUE(app.state().validators()[static_cast<std::size_t>(b)].jailed)
            << name << ": rank " << b << " equivocated but is not jailed";
      }
    } else {
      EXPECT_EQ(app.committed_evidence(), 0u) << name << ": evidence against an honest rank?";
    }
    if (name == "silent" || name == "withhold_votes" || name == "invalid_vote") {
      EXPECT_EQ(by_byzantine(app.signers()), 0) << name << ": a Byzantine precommit counted";
    }
    if (name == "silent" || name == "wrong_state_root" || name == "invalid_vote") {
      EXPECT_EQ(by_byzantine(app.proposers()), 0) << name << ": a Byzantine block committed";
    }
  }
  if (name == "silent" && byzantine) {
    EXPECT_EQ((*transport)->stats().sent, 0u) << "a silent rank sent a message";
  }
  // Summed over the honest ranks: forgeries refused for their signature, replays seen.
  std::uint64_t local[2] = {0, 0};
  if (!byzantine) {
    const auto& refused = loop.stats().refused;
    if (auto it = refused.find("bad-signature"); it != refused.end()) local[0] = it->second;
    local[1] = watch.replays;
  }
  std::uint64_t total[2] = {0, 0};
  MPI_Allreduce(local, total, 2, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  if (name == "forge_signatures") {
    EXPECT_GT(total[0], 0u) << "no forged signature reached an honest rank";
  }
  if (name == "replay") {
    EXPECT_GT(total[1], 0u) << "no replayed message reached an honest rank";
  }
}

// The cases: 20 heights with equivocating and with silent ranks.
TEST(ByzantineOverMpi, Equivocate) {
  run_with("equivocate", 20);
}
TEST(ByzantineOverMpi, Silent) {
  run_with("silent", 20);
}
// The other behaviours, fewer heights to keep the suite fast.
TEST(ByzantineOverMpi, DoubleVote) {
  run_with("double_vote", 6);
}
TEST(ByzantineOverMpi, WithholdVotes) {
  run_with("withhold_votes", 6);
}
TEST(ByzantineOverMpi, InvalidVote) {
  run_with("invalid_vote", 6);
}
TEST(ByzantineOverMpi, WrongStateRoot) {
  run_with("wrong_state_root", 6);
}
TEST(ByzantineOverMpi, ForgeSignatures) {
  run_with("forge_signatures", 6);
}
TEST(ByzantineOverMpi, Replay) {
  run_with("replay", 6);
}

}  // namespace
}  // namespace fedchain::net
