// Cohorts and hosts (ledger/cohort.hpp): the draw is a pure function of its seed, takes
// distinct clients in range, follows the sampling rule's probabilities, and by_samples'
// Fenwick search gives exactly the draws of a linear search over the cumulative counts.
#include "fedchain/ledger/cohort.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "fedchain/core/random.hpp"

namespace fedchain::ledger {
namespace {

std::vector<std::uint64_t> equal_samples(std::size_t clients) {
  return std::vector<std::uint64_t>(clients, 600);
}

TEST(Cohort, EveryClientTrainsWhenPerRoundIsTheClientCount) {
  const auto cohort = draw_cohort({5, CohortSampling::kUniform}, equal_samples(5), 99);
  EXPECT_EQ(cohort, (std::vector<std::uint32_t>{0, 1, 2, 3, 4}));
}

TEST(Cohort, ADrawIsDistinctAscendingInRangeAndFixedBySeed) {
  for (const auto sampling : {CohortSampling::kUniform, CohortSampling::kBySamples}) {
    for (std::uint64_t seed = 0; seed < 50; ++seed) {
      const auto cohort = draw_cohort({10, sampling}, equal_samples(100), seed);
      ASSERT_EQ(cohort.size(), 10u);
      EXPECT_TRUE(std::is_sorted(cohort.begin(), cohort.end()));
      EXPECT_EQ(std::set<std::uint32_t>(cohort.begin(), cohort.end()).size(), 10u);
      EXPECT_LT(cohort.back(), 100u);
      EXPECT_EQ(cohort, draw_cohort({10, sampling}, equal_samples(100), seed));
    }
  }
  EXPECT_NE(draw_cohort({10, CohortSampling::kUniform}, equal_samples(100), 1),
            draw_cohort({10, CohortSampling::kUniform}, equal_samples(100), 2));
}

// The draws are part of the format: a change here changes which clients every sampled
// job trains, and must be recorded in docs/clients.md.
TEST(Cohort, GoldenDraws) {
  EXPECT_EQ(draw_cohort({4, CohortSampling::kUniform}, equal_samples(20), 7),
            (std::vector<std::uint32_t>{1, 8, 11, 15}));
  const std::vector<std::uint64_t> skewed{1, 50, 3, 200, 7, 9, 100, 2, 30, 40};
  EXPECT_EQ(draw_cohort({3, CohortSampling::kBySamples}, skewed, 7),
            (std::vector<std::uint32_t>{3, 6, 9}));
  Hash32 root;
  root.bytes.fill(0xab);
  // SHA-256("fedchain/cohort" || 42 as u64 LE || 32 x 0xab), first 8 bytes LE (Python
  // hashlib gives the same).
  EXPECT_EQ(cohort_seed(42, root), 6792066359818600958u);
}

TEST(Cohort, TheSeedDependsOnTheJobSeedAndThePreviousRoot) {
  Hash32 a;
  Hash32 b;
  b.bytes[31] = 1;
  EXPECT_NE(cohort_seed(1, a), cohort_seed(2, a));
  EXPECT_NE(cohort_seed(1, a), cohort_seed(1, b));
}

TEST(Cohort, UniformGivesEveryClientItsShare) {
  std::vector<int> times(20, 0);
  const int draws = 4000;
  for (int s = 0; s < draws; ++s) {
    for (auto c : draw_cohort({5, CohortSampling::kUniform}, equal_samples(20),
                              static_cast<std::uint64_t>(s))) {
      ++times[c];
    }
  }
  for (int t : times) EXPECT_NEAR(t, draws * 5 / 20, draws * 5 / 20 / 10);  // within 10%
}

TEST(Cohort, BySamplesFavoursLargerClients) {
  const std::vector<std::uint64_t> samples{900, 100};
  int large = 0;
  const int draws = 4000;
  for (int s = 0; s < draws; ++s) {
    large += draw_cohort({1, CohortSampling::kBySamples}, samples,
                         static_cast<std::uint64_t>(s))[0] == 0;
  }
  EXPECT_NEAR(large, draws * 9 / 10, draws / 50);
}

// by_samples with a linear search over the cumulative counts of the clients not yet drawn:
// the rule as docs/clients.md states it.
std::vector<std::uint32_t> by_samples_linear(std::vector<std::uint64_t> samples,
                                             std::uint32_t per_round, std::uint64_t seed) {
  SeededRandom random(seed);
  std::vector<std::uint32_t> drawn;
  for (std::uint32_t d = 0; d < per_round; ++d) {
    std::uint64_t total = 0;
    for (auto s : samples) total += s;
    std::uint64_t target = random.below(total);
    std::uint32_t client = 0;
    while (target >= samples[client]) target -= samples[client++];
    drawn.push_back(client);
    samples[client] = 0;
  }
  std::sort(drawn.begin(), drawn.end());
  return drawn;
}

TEST(Cohort, BySamplesMatchesALinearSearch) {
  SeededRandom sizes(3);
  for (std::uint64_t seed = 0; seed < 200; ++seed) {
    std::vector<std::uint64_t> samples(1 + sizes.below(300));
    for (auto& s : samples) s = 1 + sizes.below(1000);
    const auto per_round = static_cast<std::uint32_t>(1 + sizes.below(samples.size()));
    ASSERT_EQ(draw_cohort({per_round, CohortSampling::kBySamples}, samples, seed),
              by_samples_linear(samples, per_round, seed))
        << "seed " << seed << ", " << samples.size() << " clients, " << per_round << " drawn";
  }
}

TEST(Cohort, HostsAreRoundRobin) {
  EXPECT_EQ(host_rank(0, 4), 0u);
  EXPECT_EQ(host_rank(5, 4), 1u);
  EXPECT_EQ(host_rank(7, 8), 7u) << "one client per rank: client k is rank k";
}

TEST(Cohort, SamplingNames) {
  EXPECT_EQ(*cohort_sampling_from_name("by_samples"), CohortSampling::kBySamples);
  EXPECT_EQ(cohort_sampling_name(CohortSampling::kUniform), "uniform");
  EXPECT_FALSE(cohort_sampling_from_name("random"));
}

}  // namespace
}  // namespace fedchain::ledger
