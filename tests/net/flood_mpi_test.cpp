// A peer that floods (issue 13): rank 3 of 4 sends as fast as it can, to every honest rank,
// a mix of what a Byzantine validator can send: votes signed with its own key for past,
// current, next and far heights and for every round, proposals in its name, votes forged
// in the honest ranks' names, replays of honest messages, wire garbage and oversized
// messages. Ranks 0-2 run consensus with Ed25519 meanwhile; they must commit every height
// on one chain, hold no more than their documented bounds (docs/consensus.md, Threats), and
// answer the flooder with a bounded count of replies, however much it sends.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <random>
#include <thread>

#include "fedchain/consensus/ed25519_signer.hpp"
#include "fedchain/core/encoding.hpp"
#include "fedchain/crypto/sha256.hpp"
#include "fedchain/net/consensus_loop.hpp"

namespace fedchain::net {
namespace {

using consensus::Message;
using consensus::Proposal;
using ledger::Vote;
using ledger::VoteType;

constexpr std::uint32_t kRanks = 4;
constexpr std::uint32_t kFlooder = 3;
constexpr std::uint64_t kHeights = 6;
constexpr std::int64_t kJobSeed = 1313;
constexpr std::size_t kMaxMessageBytes = std::size_t{1} << 20;

Hash32 chain_id() {
  return crypto::sha256(as_bytes("fedchain-flood-test"));
}

class Sha256Hasher final : public consensus::BlockHasher {
 public:
  std::optional<Hash32> hash(ByteView block) const override { return crypto::sha256(block); }
};

// Blocks are (height, proposer); valid when the height is right.
class ChainApp final : public Application {
 public:
  explicit ChainApp(std::uint32_t rank) : rank_(rank) {}
  Bytes propose_block(std::uint64_t height, std::uint32_t) override {
    Writer w;
    w.u64(height).u32(rank_);
    return w.take();
  }
  bool validate_block(std::uint64_t height, const Hash32&, ByteView block) override {
    Reader r(block, "test block");
    const std::uint64_t h = r.u64();
    (void)r.u32();
    return r.finish() && h == height;
  }
  Result<consensus::ValidatorSet> commit(const consensus::Commit& commit) override {
    chain.push_back(commit.block_hash);
    return consensus::ValidatorSet::equal(kRanks);
  }
  std::vector<Hash32> chain;

 private:
  std::uint32_t rank_;
};

// On an honest rank: counts what goes to the flooder, and samples what the machine holds
// each time a message arrives.
class Watch final : public faults::OutboundFilter {
 public:
  explicit Watch(const consensus::StateMachine& machine) : machine_(machine) {}
  void on_send(std::optional<std::uint32_t> to, const Message& message,
               const faults::SendFn& send) override {
    if (to) ++direct_to[*to];
    send(to, message);
  }
  void on_received(std::uint32_t, const Message&) override {
    const consensus::Footprint f = machine_.footprint();
    peak.proposals = std::max(peak.proposals, f.proposals);
    peak.carriers = std::max(peak.carriers, f.carriers);
    peak.block_verdicts = std::max(peak.block_verdicts, f.block_verdicts);
    peak.vote_rounds = std::max(peak.vote_rounds, f.vote_rounds);
    peak.late_vote_rounds = std::max(peak.late_vote_rounds, f.late_vote_rounds);
    peak.buffered = std::max(peak.buffered, f.buffered);
    peak.decisions = std::max(peak.decisions, f.decisions);
    peak_round = std::max(peak_round, machine_.round());
  }
  std::array<std::uint64_t, kRanks> direct_to{};  // SendTo actions, by rank
  consensus::Footprint peak;
  std::uint32_t peak_round = 0;

 private:
  const consensus::StateMachine& machine_;
};

// The flooder: signs a fresh pool of messages whenever the honest ranks reach a new height
// (as far as it can tell from what they send it), and sends the pool in batches as fast as
// it can, with garbage, oversized messages and replays mixed in, until every rank has
// finished.
class Flood {
 public:
  Flood(Transport& transport, crypto::SigningKey key) : transport_(transport), key_(key) {}

  std::uint64_t run() {
    EXPECT_TRUE(transport_.finish());
    std::mt19937_64 rng(kJobSeed);
    while (!transport_.finished()) {
      for (int drained = 0; drained < 64; ++drained) {
        auto in = transport_.poll();
        if (!in || !*in) break;
        if (auto m = consensus::decode_message((*in)->bytes)) observe(*m);
      }
      if (pool_.empty() || pool_height_ != height_) refill();
      for (int k = 0; k < 64; ++k) {
        Bytes bytes;
        switch (rng() % 64) {
          case 0:
            bytes.assign(kMaxMessageBytes + 1, 0x02);  // oversized
            break;
          case 1:
          case 2:
            bytes.resize(1 + rng() % 200);
            for (auto& b : bytes) b = static_cast<std::uint8_t>(rng());
            break;
          case 3:
          case 4:
            if (!seen_.empty()) bytes = seen_[rng() % seen_.size()];
            break;
          default:
            bytes = pool_[rng() % pool_.size()];
            break;
        }
        for (std::uint32_t to = 0; to < kRanks; ++to) {
          if (to != kFlooder) (void)transport_.send(to, bytes);
        }
        ++sent_;
      }
      (void)transport_.progress();
      // Test machines run every rank on two cores: the flooder must not also take the
      // CPU the flooded ranks run on, which no remote peer could.
      std::this_thread::yield();
    }
    return sent_;
  }

 private:
  void observe(const Message& message) {
    const std::uint64_t h = std::visit([](const auto& m) { return m.height; }, message);
    height_ = std::max(height_, h);
    if (seen_.size() < 256) seen_.push_back(consensus::encode_message(message));
  }
  Vote vote(std::uint64_t height, std::uint32_t round, VoteType type,
            std::optional<Hash32> block) const {
    Vote v;
    v.chain_id = chain_id();
    v.height = height;
    v.round = round;
    v.type = type;
    v.block_hash = block;
    v.validator = kFlooder;
    v.signature = key_.sign(v.sign_bytes());
    return v;
  }
  void refill() {
    pool_.clear();
    pool_height_ = height_;
    auto add = [&](const Message& m) { pool_.push_back(consensus::encode_message(m)); };
    const std::uint64_t heights[] = {height_ > 0 ? height_ - 1 : 0, height_, height_ + 1,
                                     height_ + 5};
    for (std::uint64_t h : heights) {
      for (std::uint32_t round = 0; round < 40; round += 3) {
        Hash32 block;
        block.bytes[0] = static_cast<std::uint8_t>(round);
        add(vote(h, round, VoteType::kPrevote, block));
        add(vote(h, round, VoteType::kPrecommit, std::nullopt));
        Vote forged = vote(h, round, VoteType::kPrecommit, block);
        forged.validator = static_cast<std::uint32_t>(round % kFlooder);  // not its key
        add(forged);
        Proposal p;
        p.chain_id = chain_id();
        p.height = h;
        p.round = round;
        p.proposer = kFlooder;
        p.block.assign(4096, static_cast<std::uint8_t>(round));
        p.block_hash = crypto::sha256(p.block);
        p.signature = key_.sign(p.sign_bytes());
        add(p);
      }
    }
  }

  Transport& transport_;
  crypto::SigningKey key_;
  std::uint64_t height_ = 0;
  std::uint64_t pool_height_ = 0;
  std::vector<Bytes> pool_;
  std::vector<Bytes> seen_;
  std::uint64_t sent_ = 0;
};

TEST(FloodOverMpi, HonestRanksCommitWithBoundedMemoryAndReplies) {
  int rank_i = 0, size_i = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_i);
  MPI_Comm_size(MPI_COMM_WORLD, &size_i);
  ASSERT_EQ(static_cast<std::uint32_t>(size_i), kRanks) << "run with 4 ranks";
  const auto rank = static_cast<std::uint32_t>(rank_i);
  auto transport = Transport::create(kMaxMessageBytes);
  ASSERT_TRUE(transport) << transport.error().message;

  std::uint64_t local[3] = {0, 0, 0};  // flood messages sent; replies to it; received from it
  Hash32 digest;
  if (rank == kFlooder) {
    Flood flood(**transport, crypto::derive_rank_key(kJobSeed, rank));
    local[0] = flood.run();
  } else {
    std::vector<PublicKey> keys;
    for (std::uint32_t i = 0; i < kRanks; ++i) {
      keys.push_back(crypto::derive_rank_key(kJobSeed, i).public_key());
    }
    consensus::Ed25519Signer signer(crypto::derive_rank_key(kJobSeed, rank), keys);
    Sha256Hasher hasher;
    consensus::Config config;
    config.chain_id = chain_id();
    config.self = rank;
    consensus::StateMachine machine(config, signer, hasher);
    ChainApp app(rank);
    Watch watch(machine);
    ConsensusLoop loop(machine, **transport, app, &watch);
    const Status st =
        loop.run(0, consensus::ValidatorSet::equal(kRanks), kHeights, std::chrono::seconds(120));
    ASSERT_TRUE(st) << st.error().message;
    ASSERT_GE(app.chain.size(), kHeights);
    Bytes all;
    for (std::uint64_t h = 0; h < kHeights; ++h) {
      all.insert(all.end(), app.chain[h].bytes.begin(), app.chain[h].bytes.end());
    }
    digest = crypto::sha256(all);

    // Memory: every buffer within its bound, whatever arrived.
    const TransportStats& stats = (*transport)->stats();
    const std::size_t window = config.round_window;
    EXPECT_LE(stats.peak_queued, Transport::kQueuedPerPeer);
    EXPECT_LE(watch.peak.buffered, std::size_t{kRanks} * 9);
    EXPECT_LE(watch.peak.vote_rounds, watch.peak_round + window + 1);
    EXPECT_LE(watch.peak.late_vote_rounds, watch.peak_round + window + 1);
    EXPECT_LE(watch.peak.proposals, watch.peak_round + window + 1);
    EXPECT_LE(watch.peak.carriers, (watch.peak_round + window + 1) * 6);
    EXPECT_LE(watch.peak.block_verdicts, watch.peak.proposals + watch.peak.carriers);
    EXPECT_LE(watch.peak.decisions, config.catchup_heights);
    EXPECT_GT(stats.dropped_oversized, 0u) << "no oversized message arrived";
    EXPECT_GT(loop.stats().undecodable, 0u) << "no garbage arrived";

    // Replies: what this rank sent the flooder alone (catch-up, help, asks, relays) next to
    // what it sent the honest peer it sent most to.
    std::uint64_t to_honest = 0;
    for (std::uint32_t r = 0; r < kRanks; ++r) {
      if (r != rank && r != kFlooder) to_honest = std::max(to_honest, watch.direct_to[r]);
    }
    local[1] = watch.direct_to[kFlooder];
    local[2] = stats.received_from[kFlooder];
    std::printf(
        "rank %u: %llu messages from the flooder (%llu dropped, queue full), "
        "%llu sent to it alone, %llu to the busiest honest peer; peak round %u\n",
        rank, static_cast<unsigned long long>(local[2]),
        static_cast<unsigned long long>(stats.dropped_queue_full),
        static_cast<unsigned long long>(local[1]), static_cast<unsigned long long>(to_honest),
        watch.peak_round);
    // Per height and round at most a few answers (state_machine.hpp: a free answer per new
    // height or round asked from, 2 repeats per round of ours), each at most n + 1 messages.
    const std::uint64_t places = kHeights * (watch.peak_round + 1) + 16;
    EXPECT_LE(watch.direct_to[kFlooder], to_honest + places * 3 * (kRanks + 1));
  }

  std::vector<Hash32> digests(kRanks);
  MPI_Allgather(digest.bytes.data(), 32, MPI_BYTE, digests.data(), 32, MPI_BYTE, MPI_COMM_WORLD);
  for (std::uint32_t r = 1; r < kFlooder; ++r) {
    EXPECT_EQ(digests[r], digests[0]) << "rank " << r << " holds another chain than rank 0";
  }
  EXPECT_FALSE(digests[0].is_zero());
  std::uint64_t total[3] = {0, 0, 0};
  MPI_Allreduce(local, total, 3, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) {
    std::printf(
        "flood: %llu messages sent to each honest rank; %llu arrived in all, %llu "
        "replies went back to the flooder\n",
        static_cast<unsigned long long>(total[0]), static_cast<unsigned long long>(total[2]),
        static_cast<unsigned long long>(total[1]));
  }
  // The flood was real: each honest rank heard far more from the flooder than the few
  // dozen messages a height takes.
  EXPECT_GT(total[2], 3000u);
}

}  // namespace
}  // namespace fedchain::net
