// Consensus over MPI: every rank a validator with an Ed25519 key, 20 heights of small
// blocks, with no faults, with f silent ranks, with f equivocating ranks, and with one rank
// stalled while the others finish. Every honest rank must end with the same chain of
// exactly 20 blocks.
#include <gtest/gtest.h>
#include <mpi.h>

#include <functional>
#include <map>
#include <optional>

#include "fedchain/consensus/ed25519_signer.hpp"
#include "fedchain/core/encoding.hpp"
#include "fedchain/crypto/sha256.hpp"
#include "fedchain/net/consensus_loop.hpp"

namespace fedchain::net {
namespace {

using consensus::Message;
using consensus::Proposal;
using ledger::Vote;

constexpr std::uint64_t kHeights = 20;
constexpr std::int64_t kJobSeed = 2026;

class Sha256Hasher final : public consensus::BlockHasher {
 public:
  std::optional<Hash32> hash(ByteView block) const override { return crypto::sha256(block); }
};

Hash32 state_root(std::uint64_t height) {
  Writer w;
  w.text("root").u64(height);
  return crypto::sha256(w.data());
}

Bytes make_block(std::uint64_t height, std::uint32_t proposer, std::uint64_t nonce) {
  Writer w;
  w.u64(height).u32(proposer).hash(state_root(height)).u64(nonce);
  return w.take();
}

class ChainApp final : public Application {
 public:
  ChainApp(std::uint32_t rank, std::uint32_t n, std::function<void(std::uint64_t)> on_commit)
      : rank_(rank), n_(n), on_commit_(std::move(on_commit)) {}
  Bytes propose_block(std::uint64_t height, std::uint32_t) override {
    return make_block(height, rank_, 0);
  }
  bool validate_block(std::uint64_t height, const Hash32&, ByteView block) override {
    Reader r(block, "test block");
    const std::uint64_t h = r.u64();
    (void)r.u32();
    const Hash32 root = r.hash();
    (void)r.u64();
    return r.finish() && h == height && root == state_root(height);
  }
  Result<consensus::ValidatorSet> commit(const consensus::Commit& commit) override {
    chain.push_back(commit.block_hash);
    if (on_commit_) on_commit_(commit.height);
    return consensus::ValidatorSet::equal(n_);
  }
  void evidence(const consensus::EquivocationFound&) override { ++evidence_found; }

  std::vector<Hash32> chain;
  int evidence_found = 0;

 private:
  std::uint32_t rank_;
  std::uint32_t n_;
  std::function<void(std::uint64_t)> on_commit_;
};

// Block A and votes for A to even ranks, block B and votes for B to odd ranks.
class Equivocate final : public faults::OutboundFilter {
 public:
  Equivocate(crypto::SigningKey key, std::uint32_t rank, std::uint32_t n)
      : key_(std::move(key)), rank_(rank), n_(n) {}
  void on_send(std::optional<std::uint32_t> to, const Message& message,
               const faults::SendFn& send) override {
    if (to) return send(to, message);
    if (const auto* p = std::get_if<Proposal>(&message); p && p->proposer == rank_) {
      Proposal twin = *p;
      twin.block = make_block(p->height, rank_, 1);
      twin.block_hash = crypto::sha256(twin.block);
      twin.signature = key_.sign(twin.sign_bytes());
      plan_[{p->height, p->round}] = {p->block_hash, twin.block_hash};
      return split(*p, twin, send);
    }
    const auto* v = std::get_if<Vote>(&message);
    if (v == nullptr || v->validator != rank_) return send(to, message);
    auto it = plan_.find({v->height, v->round});
    if (it == plan_.end()) return send(to, message);
    Vote a = *v, b = *v;
    a.block_hash = it->second.first;
    b.block_hash = it->second.second;
    a.signature = key_.sign(a.sign_bytes());
    b.signature = key_.sign(b.sign_bytes());
    split(a, b, send);
  }

 private:
  void split(const Message& even, const Message& odd, const faults::SendFn& send) const {
    for (std::uint32_t r = 0; r < n_; ++r) {
      if (r != rank_) send(r, r % 2 == 0 ? even : odd);
    }
  }
  crypto::SigningKey key_;
  std::uint32_t rank_;
  std::uint32_t n_;
  std::map<std::pair<std::uint64_t, std::uint32_t>, std::pair<Hash32, Hash32>> plan_;
};

enum class Fault { kNone, kSilent, kEquivocate };

// A rank that stops polling (descheduled on a loaded machine) while the others go on.
struct Stall {
  std::uint32_t rank = 0;
  std::uint64_t after_height = 0;  // it stalls in the commit of this height
};

// Runs 20 heights; the last f ranks carry `fault`. With `stall`, that rank stops in its
// commit of `after_height` until every other rank has committed the last height, the way a
// rank descheduled for that long would, and then has to catch up on its own.
void run_chain(Fault fault, std::optional<Stall> stall = std::nullopt) {
  int rank_i = 0, size_i = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_i);
  MPI_Comm_size(MPI_COMM_WORLD, &size_i);
  const auto rank = static_cast<std::uint32_t>(rank_i);
  const auto n = static_cast<std::uint32_t>(size_i);
  const std::uint32_t f = (n - 1) / 3;
  const bool faulty = fault != Fault::kNone && rank >= n - f;

  auto transport = Transport::create(std::size_t{1} << 20);
  ASSERT_TRUE(transport) << transport.error().message;
  std::vector<PublicKey> keys;
  for (std::uint32_t i = 0; i < n; ++i)
    keys.push_back(crypto::derive_rank_key(kJobSeed, i).public_key());
  consensus::Ed25519Signer signer(crypto::derive_rank_key(kJobSeed, rank), keys);
  Sha256Hasher hasher;
  consensus::Config config;
  config.chain_id = crypto::sha256(as_bytes("fedchain-mpi-test"));
  config.self = rank;
  // ConsensusLoop::run has no block sync: a rank left behind catches up from the decisions
  // its peers keep, so they must keep every height of the run.
  config.catchup_heights = kHeights;
  consensus::StateMachine machine(config, signer, hasher);

  // The stall's signal travels on a communicator of its own, apart from the transport's.
  MPI_Comm signal = MPI_COMM_NULL;
  MPI_Comm_dup(MPI_COMM_WORLD, &signal);
  std::function<void(std::uint64_t)> on_commit;
  if (stall && rank == stall->rank) {
    on_commit = [&, stall](std::uint64_t height) {
      if (height != stall->after_height) return;
      for (std::uint32_t others = 0; others + 1 < n; ++others) {
        char done = 0;
        MPI_Recv(&done, 1, MPI_CHAR, MPI_ANY_SOURCE, 0, signal, MPI_STATUS_IGNORE);
      }
    };
  } else if (stall) {
    on_commit = [&, stall](std::uint64_t height) {
      if (height != kHeights - 1) return;
      char done = 1;
      MPI_Send(&done, 1, MPI_CHAR, static_cast<int>(stall->rank), 0, signal);
    };
  }
  ChainApp app(rank, n, on_commit);

  if (faulty && fault == Fault::kSilent) {
    ASSERT_TRUE((*transport)->finish());
    while (!(*transport)->finished()) {
      auto drained = (*transport)->poll();
      ASSERT_TRUE(drained);
    }
  } else {
    std::unique_ptr<Equivocate> filter;
    if (faulty)
      filter = std::make_unique<Equivocate>(crypto::derive_rank_key(kJobSeed, rank), rank, n);
    ConsensusLoop loop(machine, **transport, app, filter.get());
    // A stalled rank catches up about one height per propose timeout (it asks with the
    // vote it casts then): 17 heights take seconds, not the minute allowed.
    const auto limit = stall ? std::chrono::seconds(90) : std::chrono::seconds(240);
    const Status st = loop.run(0, consensus::ValidatorSet::equal(n), kHeights, limit);
    ASSERT_TRUE(st) << st.error().message;
    EXPECT_EQ(loop.stats().undecodable, 0u);
    // Exactly kHeights: a rank that finished must not decide heights nobody asked for,
    // racing away from a slower rank until that one can no longer catch up.
    if (!faulty) {
      EXPECT_EQ(app.chain.size(), kHeights);
    }
    if (fault == Fault::kEquivocate && !faulty) {
      EXPECT_GT(app.evidence_found, 0);
    }
  }

  // Every honest rank holds the same first kHeights blocks.
  Hash32 digest;
  if (!faulty && app.chain.size() >= kHeights) {
    Bytes all;
    for (std::uint64_t h = 0; h < kHeights; ++h) {
      all.insert(all.end(), app.chain[h].bytes.begin(), app.chain[h].bytes.end());
    }
    digest = crypto::sha256(all);
  }
  std::vector<Hash32> digests(n);
  MPI_Allgather(digest.bytes.data(), 32, MPI_BYTE, digests.data(), 32, MPI_BYTE, MPI_COMM_WORLD);
  const std::uint32_t honest = fault == Fault::kNone ? n : n - f;
  for (std::uint32_t i = 1; i < honest; ++i) {
    EXPECT_EQ(digests[i], digests[0]) << "rank " << i << " holds another chain than rank 0";
  }
  EXPECT_FALSE(digests[0].is_zero());
  MPI_Comm_free(&signal);
}

TEST(ConsensusOverMpi, AgreesOnTwentyHeightsWithoutFaults) {
  run_chain(Fault::kNone);
}
TEST(ConsensusOverMpi, AgreesWithSilentRanks) {
  run_chain(Fault::kSilent);
}
TEST(ConsensusOverMpi, AgreesWithEquivocatingRanks) {
  run_chain(Fault::kEquivocate);
}
// The others reach the last height while this rank is 17 heights behind, more than the
// default catch-up window: it must still catch up and every rank must end the run.
TEST(ConsensusOverMpi, AStalledRankCatchesUpWithRanksThatFinished) {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  run_chain(Fault::kNone, Stall{.rank = static_cast<std::uint32_t>(size - 1), .after_height = 2});
}

}  // namespace
}  // namespace fedchain::net
