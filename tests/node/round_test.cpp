// One round of node/, in one process: FakeCollectives plays the other ranks with updates
// the test chooses, so each test knows what the aggregate must be without trusting the
// code under test to compute it.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>

#include "fake_collectives.hpp"
#include "fedchain/aggregate/quantize.hpp"
#include "fedchain/core/job_file.hpp"
#include "fedchain/data/dataset.hpp"
#include "node.hpp"
#include "temp_dir.hpp"

namespace fedchain::node {
namespace {

using testing::FakeCollectives;

// A 4x4, 10-class dataset: pixels and labels from a fixed pattern.
void write_tiny_dataset(const std::filesystem::path& path) {
  const auto images = [](std::int64_t n) {
    data::ImageSet set;
    set.count = n;
    set.rows = set.cols = 4;
    for (std::int64_t i = 0; i < n * 16; ++i) {
      set.pixels.push_back(static_cast<std::uint8_t>((i * 37) % 251));
    }
    for (std::int64_t i = 0; i < n; ++i) set.labels.push_back(static_cast<std::uint8_t>(i % 10));
    return set;
  };
  data::Dataset dataset{images(60), images(20), 10};
  data::DatasetInfo info;
  info.source = "synthetic";
  ASSERT_TRUE(write_dataset(path, dataset, info));
}

class RoundTest : public ::testing::Test {
 protected:
  void SetUp() override { write_tiny_dataset(tmp_.path() / "tiny.h5"); }

  // A node that is rank `self` of `ranks`, built from the job; nullptr after a test failure.
  std::unique_ptr<Node> make_node(int self, int ranks, const std::string& extra_toml,
                                  FakeCollectives** fake) {
    const std::string toml = "[job]\nrounds = 1\nseed = 5\n[data]\npath = \"" +
                             (tmp_.path() / "tiny.h5").string() +
                             "\"\n[model]\narch = \"mlp\"\nhidden = [8]\n"
                             "[train]\nlocal_steps = 3\nbatch_size = 4\nthreads = 1\n"
                             "[consensus]\nprotocol = \"none\"\n" +
                             extra_toml;
    auto job = parse_job(toml, "round_test.toml");
    EXPECT_TRUE(job) << job.error().message;
    if (!job) return nullptr;
    const auto dir_name = "run-" + std::to_string(runs_++);
    auto dir = io::RunDir::create(tmp_.path() / dir_name, toml);
    EXPECT_TRUE(dir) << dir.error().message;
    if (!dir) return nullptr;
    auto node = std::make_unique<Node>(*job, self, ranks, std::move(*dir));
    auto collectives = std::make_unique<FakeCollectives>(self, ranks);
    *fake = collectives.get();
    node->comm = std::move(collectives);
    const Status built = build_node(*node, *job);
    EXPECT_TRUE(built) << built.error().message;
    if (!built) return nullptr;
    for (std::uint32_t c = 0; c < node->clients.count(); ++c) {
      (*fake)->peer_weights[c] = node->clients.samples[c];
    }
    return node;
  }

  static constexpr const char* kMedian =
      "[aggregate]\nrule = \"median\"\nexchange = \"allgather\"\n";

  // theta_0 + dequantize(a), as the next model must be.
  static std::vector<float> plus(std::vector<float> theta, const std::vector<std::int32_t>& a,
                                 const Node& node) {
    EXPECT_TRUE(aggregate::dequantize_add(theta, a, node.aggregate.quantize.scale_bits));
    return theta;
  }

  fedchain::testing::TempDir tmp_;
  int runs_ = 0;
};

TEST_F(RoundTest, FedavgAveragesEveryClientByWeight) {
  FakeCollectives* fake = nullptr;
  auto node = make_node(1, 3, "", &fake);
  ASSERT_TRUE(node);
  const std::size_t d = node->global.theta.size();
  fake->peer_updates[0].assign(d, 1000);
  fake->peer_updates[2].assign(d, -500);
  const std::vector<float> theta0 = node->global.theta;

  auto row = run_round(*node);
  ASSERT_TRUE(row) << row.error().message;
  ASSERT_TRUE(*row);
  std::vector<std::int64_t> sum = fake->last_partial;
  ASSERT_EQ(sum.size(), d);
  const auto& w = node->clients.samples;
  ASSERT_TRUE(aggregate::add_weighted(sum, w[0], fake->peer_updates[0]));
  ASSERT_TRUE(aggregate::add_weighted(sum, w[2], fake->peer_updates[2]));
  const std::vector<std::uint32_t> all{0, 1, 2};
  auto expected = aggregate::fedavg_over_sum(sum, all, w);
  ASSERT_TRUE(expected);
  EXPECT_EQ(node->global.theta, plus(theta0, expected->values, *node));
  EXPECT_EQ(node->global.height, 1u);
  EXPECT_EQ(node->global.state_root, state_root_of(node->global.theta, node->job));
  EXPECT_EQ((*row)->height, 1u);
  EXPECT_EQ((*row)->cohort, 3);
  EXPECT_EQ((*row)->state_root, node->global.state_root.hex());
  EXPECT_EQ((*row)->bytes_sent, d * sizeof(std::int64_t)) << "one int64 allreduce, no txs";
  EXPECT_TRUE((*row)->block_hash.empty()) << "no chain";
  EXPECT_FALSE(std::filesystem::exists(node->run_dir.checkpoint_path(1))) << "rank 0 writes it";
}

TEST_F(RoundTest, MedianFollowsTheMajorityWhateverThisRankTrained) {
  FakeCollectives* fake = nullptr;
  auto node = make_node(0, 3, kMedian, &fake);
  ASSERT_TRUE(node);
  const std::size_t d = node->global.theta.size();
  const std::int32_t bound = node->aggregate.quantize.clip_bound;
  fake->peer_updates[1].assign(d, bound);
  fake->peer_updates[2].assign(d, bound);
  const std::vector<float> theta0 = node->global.theta;
  auto row = run_round(*node);
  ASSERT_TRUE(row) << row.error().message;
  EXPECT_EQ(node->global.theta, plus(theta0, fake->peer_updates[1], *node));
  EXPECT_EQ((*row)->bytes_sent, d * sizeof(std::int32_t));
  EXPECT_TRUE(std::filesystem::exists(node->run_dir.checkpoint_path(1))) << "the last round";
}

TEST_F(RoundTest, ARobustRuleLeavesANonFiniteClientOut) {
  FakeCollectives* fake = nullptr;
  auto node = make_node(0, 4, kMedian, &fake);
  ASSERT_TRUE(node);
  const std::size_t d = node->global.theta.size();
  const std::int32_t bound = node->aggregate.quantize.clip_bound;
  fake->peer_updates[1].assign(d, bound);
  fake->peer_updates[2].assign(d, bound);
  fake->peer_updates[3].assign(d, -bound);  // counted, it would pull the median down
  fake->peers_nonfinite = {3};
  const std::vector<float> theta0 = node->global.theta;
  auto row = run_round(*node);
  ASSERT_TRUE(row) << row.error().message;
  EXPECT_EQ(node->global.theta, plus(theta0, fake->peer_updates[1], *node));
}

// Hostile ranks: an update or a non-finite report counts only from the client's host.
TEST_F(RoundTest, ARankSpeaksOnlyForTheClientsItHosts) {
  FakeCollectives* fake = nullptr;
  auto node = make_node(0, 3, kMedian, &fake);
  ASSERT_TRUE(node);
  const std::size_t d = node->global.theta.size();
  const std::int32_t bound = node->aggregate.quantize.clip_bound;
  fake->peer_updates[1].assign(d, bound);
  fake->peer_updates[2].assign(d, bound);
  // Rank 2 also sends client 1's update (rank 1 hosts it) and calls client 1 non-finite.
  fake->forged_updates.emplace_back(2, 1u, std::vector<std::int32_t>(d, -bound));
  fake->forged_nonfinite.emplace_back(2, 1u);
  const std::vector<float> theta0 = node->global.theta;
  auto row = run_round(*node);
  ASSERT_TRUE(row) << row.error().message;
  EXPECT_EQ(node->global.theta, plus(theta0, fake->peer_updates[1], *node))
      << "client 1 counted once, from rank 1";
}

TEST_F(RoundTest, FedavgStopsEveryRankOnANonFiniteClientNamingIt) {
  FakeCollectives* fake = nullptr;
  auto node = make_node(0, 3, "", &fake);
  ASSERT_TRUE(node);
  fake->peers_nonfinite = {2};
  const std::vector<float> theta0 = node->global.theta;
  auto row = run_round(*node);
  ASSERT_FALSE(row);
  EXPECT_TRUE(row.error().every_rank);
  EXPECT_NE(row.error().message.find("client(s) 2"), std::string::npos) << row.error().message;
  EXPECT_EQ(node->global.theta, theta0) << "the global model stays theta_h";
  EXPECT_EQ(node->global.height, 0u);
}

TEST_F(RoundTest, TheSameJobGivesTheSameBitsInTwoNodes) {
  FakeCollectives* first_fake = nullptr;
  FakeCollectives* second_fake = nullptr;
  auto first = make_node(2, 3, "", &first_fake);
  auto second = make_node(2, 3, "", &second_fake);
  ASSERT_TRUE(first && second);
  for (auto* fake : {first_fake, second_fake}) {
    fake->peer_updates[0].assign(first->global.theta.size(), 7);
    fake->peer_updates[1].assign(first->global.theta.size(), -3);
  }
  ASSERT_TRUE(run_round(*first));
  ASSERT_TRUE(run_round(*second));
  EXPECT_EQ(first_fake->last_partial, second_fake->last_partial);
  EXPECT_EQ(first->global.state_root, second->global.state_root);
}

// Clients apart from ranks: a rank trains exactly the cohort members it hosts (client k on
// rank k mod R), and a client's update is the same bits whichever rank hosts it.
TEST_F(RoundTest, ARankTrainsTheCohortMembersItHostsAndNoOther) {
  FakeCollectives* fake = nullptr;
  auto node =
      make_node(0, 2, std::string(kMedian) + "[clients]\ntotal = 10\nper_round = 4\n", &fake);
  ASSERT_TRUE(node);
  const auto cohort = cohort_of(*node, node->global.state_root);
  ASSERT_EQ(cohort.size(), 4u);
  std::vector<std::uint32_t> hosted;
  for (const auto c : cohort) {
    if (c % 2 == 0) {
      hosted.push_back(c);
    } else {
      fake->peer_updates[c].assign(node->global.theta.size(), 1);
    }
  }
  auto row = run_round(*node);
  ASSERT_TRUE(row) << row.error().message;
  std::vector<std::uint32_t> sent;
  for (const auto& [client, q] : fake->last_sent) sent.push_back(client);
  EXPECT_EQ(sent, hosted);
  EXPECT_EQ((*row)->cohort, 4);
}

TEST_F(RoundTest, AClientTrainsTheSameBitsOnAnyRank) {
  const std::string four_clients = std::string(kMedian) + "[clients]\ntotal = 4\n";
  FakeCollectives* alone = nullptr;   // one rank hosts clients 0 to 3
  FakeCollectives* shared = nullptr;  // rank 1 of 2 hosts clients 1 and 3
  auto one = make_node(0, 1, four_clients, &alone);
  auto two = make_node(1, 2, four_clients, &shared);
  ASSERT_TRUE(one && two);
  for (std::uint32_t c : {0u, 2u}) shared->peer_updates[c].assign(two->global.theta.size(), 0);
  ASSERT_TRUE(run_round(*one));
  ASSERT_TRUE(run_round(*two));
  ASSERT_EQ(alone->last_sent.size(), 4u);
  ASSERT_EQ(shared->last_sent.size(), 2u);
  EXPECT_EQ(shared->last_sent.at(1), alone->last_sent.at(1));
  EXPECT_EQ(shared->last_sent.at(3), alone->last_sent.at(3));
}

// Rank 0 of 3 hosts clients 0 and 3 of 6. An attack that needs only its own delta is
// applied as each member finishes training; alie pools both attackers' deltas first. Either
// way the honest member sends what it trained.
TEST_F(RoundTest, AnAttackerSendsWhatItsAttackMakesOfItsOwnOrThePooledDeltas) {
  const std::string six = std::string(kMedian) + "[clients]\ntotal = 6\n";
  const auto sent_by_rank0 = [&](const std::string& faults) {
    FakeCollectives* fake = nullptr;
    auto node = make_node(0, 3, six + faults, &fake);
    EXPECT_TRUE(node);
    if (!node) return std::map<std::uint32_t, std::vector<std::int32_t>>();
    auto row = run_round(*node);
    EXPECT_TRUE(row) << row.error().message;
    return fake->last_sent;
  };
  const auto honest = sent_by_rank0("");
  ASSERT_EQ(honest.size(), 2u);
  const std::vector<std::int32_t> zeros(honest.at(3).size(), 0);
  ASSERT_NE(honest.at(3), zeros);

  const auto zeroed = sent_by_rank0("[faults]\nbyzantine = [3]\nattack = \"zero\"\n");
  EXPECT_EQ(zeroed.at(0), honest.at(0));
  EXPECT_EQ(zeroed.at(3), zeros);

  const auto alie = sent_by_rank0("[faults]\nbyzantine = [0, 3]\nattack = \"alie\"\n");
  EXPECT_EQ(alie.at(0), alie.at(3)) << "both attackers send mean - z * std of the pool";
  EXPECT_NE(alie.at(0), honest.at(0));
  EXPECT_NE(alie.at(0), honest.at(3));

  // An honest member quantized from its float delta (alie pools, so every member keeps one)
  // sends the bits it sends when quantized straight from its parameters (no attack on it).
  const auto alie_on_3 = sent_by_rank0("[faults]\nbyzantine = [3]\nattack = \"alie\"\n");
  EXPECT_EQ(alie_on_3.at(0), honest.at(0));
}

// Ranks compare their training kernels at start (setup.cpp, check_training_kernels).
TEST(TrainingKernels, OneKindOnEveryRankSaysNothing) {
  const std::vector<std::string> same(4, "cpu with onednn avx512_core");
  auto verdict = compare_training_kernels(same, "auto");
  ASSERT_TRUE(verdict) << verdict.error().message;
  EXPECT_EQ(*verdict, "");
}

TEST(TrainingKernels, CpusOfTwoInstructionSetsAreAWarningThatNamesTheRanks) {
  const std::vector<std::string> mixed{"cpu with onednn avx512_core", "cpu with onednn avx2",
                                       "cpu with onednn avx512_core", "cpu with onednn avx2"};
  auto verdict = compare_training_kernels(mixed, "cpu");
  ASSERT_TRUE(verdict) << verdict.error().message;
  EXPECT_NE(verdict->find("ranks 0 2 \"cpu with onednn avx512_core\"; ranks 1 3 \"cpu with "
                          "onednn avx2\""),
            std::string::npos)
      << *verdict;
  EXPECT_NE(verdict->find("FEDCHAIN_CPU_LEVEL=x86-64-v3"), std::string::npos) << *verdict;
}

TEST(TrainingKernels, GpuAndCpuRanksInOneJobAreRefused) {
  const std::vector<std::string> mixed{"cuda sm_90", "cuda sm_90", "cpu with onednn avx2"};
  auto verdict = compare_training_kernels(mixed, "auto");
  ASSERT_FALSE(verdict);
  EXPECT_EQ(verdict.error().kind, ErrorKind::kConfig);
  EXPECT_NE(verdict.error().message.find("train.device = \"auto\""), std::string::npos);
  EXPECT_NE(verdict.error().message.find("ranks 0 1 \"cuda sm_90\"; rank 2 \"cpu with onednn "
                                         "avx2\""),
            std::string::npos)
      << verdict.error().message;
}

// aggregate.transport = "nccl" with two ranks on one GPU (exchange.cpp, make_nccl_collectives):
// refused before NCCL answers "invalid usage", naming the ranks and the GPU.
TEST(NcclTransport, RanksThatShareAGpuAreRefusedNamingThem) {
  const std::vector<std::string> own{"GPU-a", "GPU-b", "GPU-c"};
  EXPECT_TRUE(check_one_rank_per_gpu(own));
  const std::vector<std::string> shared{"GPU-a", "GPU-b", "GPU-a", "GPU-b", "GPU-c"};
  auto verdict = check_one_rank_per_gpu(shared);
  ASSERT_FALSE(verdict);
  EXPECT_EQ(verdict.error().kind, ErrorKind::kConfig);
  EXPECT_NE(verdict.error().message.find("ranks 0 2 share GPU-a; ranks 1 3 share GPU-b;"),
            std::string::npos)
      << verdict.error().message;
  EXPECT_NE(verdict.error().message.find("aggregate.transport = \"mpi\""), std::string::npos);
}

}  // namespace
}  // namespace fedchain::node
