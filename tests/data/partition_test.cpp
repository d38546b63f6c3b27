// Partitioners: every sample on exactly one rank, sorted lists, no empty rank; the class
// skew each scheme promises; determinism; golden outputs that pin the exact rules.
#include <algorithm>
#include <numeric>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "fedchain/data/partition.hpp"

namespace fedchain::data {
namespace {

// Balanced labels in a scrambled order: n / classes of each class (n divisible by classes).
std::vector<std::uint8_t> balanced_labels(std::int64_t n, std::int64_t classes) {
  std::vector<std::uint8_t> labels(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    labels[static_cast<std::size_t>(i)] =
        static_cast<std::uint8_t>((i * 7 + i / classes) % classes);
  }
  return labels;
}

// Sorted, disjoint, covering 0..n-1, no empty rank.
void expect_valid(const Partition& partition, std::int64_t n, std::int64_t ranks) {
  ASSERT_EQ(static_cast<std::int64_t>(partition.size()), ranks);
  std::vector<int> seen(static_cast<std::size_t>(n), 0);
  for (std::size_t r = 0; r < partition.size(); ++r) {
    const auto& indices = partition[r];
    EXPECT_FALSE(indices.empty()) << "rank " << r;
    EXPECT_TRUE(std::is_sorted(indices.begin(), indices.end())) << "rank " << r;
    for (const std::int64_t i : indices) {
      ASSERT_GE(i, 0);
      ASSERT_LT(i, n);
      ++seen[static_cast<std::size_t>(i)];
    }
  }
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }))
      << "every sample on exactly one rank";
}

int classes_held(const std::vector<std::int64_t>& row) {
  return static_cast<int>(
      std::count_if(row.begin(), row.end(), [](std::int64_t c) { return c > 0; }));
}

// Average over ranks of the largest class's share of that rank's samples.
double mean_top_class_share(const std::vector<std::vector<std::int64_t>>& histogram) {
  double sum = 0.0;
  for (const auto& row : histogram) {
    const auto total = std::accumulate(row.begin(), row.end(), std::int64_t{0});
    sum +=
        static_cast<double>(*std::max_element(row.begin(), row.end())) / static_cast<double>(total);
  }
  return sum / static_cast<double>(histogram.size());
}

TEST(PartitionIid, SizesDifferByAtMostOneAndClassesAreNearUniform) {
  const auto labels = balanced_labels(60000, 10);
  auto partition = partition_iid(60000, 10, 42);
  ASSERT_TRUE(partition) << partition.error().message;
  expect_valid(*partition, 60000, 10);
  for (const auto& indices : *partition) EXPECT_EQ(indices.size(), 6000U);
  // 600 expected per (rank, class); the binomial deviation is about 23.
  for (const auto& row : class_histogram(labels, *partition, 10)) {
    for (const auto count : row) EXPECT_NEAR(count, 600, 120);
  }

  auto uneven = partition_iid(23, 4, 1);
  ASSERT_TRUE(uneven);
  expect_valid(*uneven, 23, 4);
  std::vector<std::size_t> sizes;
  for (const auto& indices : *uneven) sizes.push_back(indices.size());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{6, 6, 6, 5}));
}

TEST(PartitionDirichlet, SmallAlphaSkewsLargeAlphaDoesNot) {
  const auto labels = balanced_labels(60000, 10);
  auto skewed = partition_dirichlet(labels, 10, 10, 0.1, 42);
  ASSERT_TRUE(skewed) << skewed.error().message;
  expect_valid(*skewed, 60000, 10);
  auto even = partition_dirichlet(labels, 10, 10, 1000.0, 42);
  ASSERT_TRUE(even) << even.error().message;
  expect_valid(*even, 60000, 10);

  const double skewed_share = mean_top_class_share(class_histogram(labels, *skewed, 10));
  const double even_share = mean_top_class_share(class_histogram(labels, *even, 10));
  EXPECT_GT(skewed_share, 0.5) << "alpha 0.1 should concentrate each rank on few classes";
  EXPECT_LT(even_share, 0.15) << "alpha 1000 should be close to the 0.1 of a uniform split";
  for (const auto& indices : *skewed) EXPECT_GE(indices.size(), kDirichletMinSamples);
}

TEST(PartitionDirichlet, TinyAlphaStillGivesEveryRankSamples) {
  const auto labels = balanced_labels(6000, 10);
  auto partition = partition_dirichlet(labels, 10, 8, 0.01, 7);
  ASSERT_TRUE(partition) << partition.error().message;
  expect_valid(*partition, 6000, 8);
  for (const auto& indices : *partition) EXPECT_GE(indices.size(), kDirichletMinSamples);
}

TEST(PartitionDirichlet, GivesUpWithAClearErrorWhenRanksMustStayEmpty) {
  // With alpha 0.01 each class lands almost whole on one rank, so 10 classes cannot feed 32
  // ranks: after kDirichletMaxDraws the error names the key to change.
  const auto labels = balanced_labels(600, 10);
  auto partition = partition_dirichlet(labels, 10, 32, 0.01, 7);
  ASSERT_FALSE(partition);
  EXPECT_EQ(partition.error().kind, ErrorKind::kConfig);
  EXPECT_NE(partition.error().message.find("raise data.alpha"), std::string::npos)
      << partition.error().message;
}

TEST(PartitionDirichlet, FewSamplesLowerTheMinimumToNOverRanks) {
  const auto labels = balanced_labels(20, 10);
  auto partition = partition_dirichlet(labels, 10, 8, 0.5, 3);
  ASSERT_TRUE(partition) << partition.error().message;
  expect_valid(*partition, 20, 8);
  for (const auto& indices : *partition) EXPECT_GE(indices.size(), 2U);
}

TEST(PartitionShards, EachRankHoldsExactlyClassesPerRankWhenEven) {
  const auto labels = balanced_labels(60000, 10);
  for (const auto& [ranks, per_rank] : {std::pair{10, 2}, std::pair{100, 2}, std::pair{5, 4},
                                        std::pair{20, 5}, std::pair{10, 1}, std::pair{3, 10}}) {
    auto partition = partition_shards(labels, 10, ranks, per_rank, 42);
    ASSERT_TRUE(partition) << partition.error().message;
    expect_valid(*partition, 60000, ranks);
    const auto histogram = class_histogram(labels, *partition, 10);
    for (std::size_t r = 0; r < histogram.size(); ++r) {
      EXPECT_EQ(classes_held(histogram[r]), per_rank) << ranks << " ranks, rank " << r;
      EXPECT_EQ((*partition)[r].size(), static_cast<std::size_t>(60000 / ranks));
    }
  }
}

TEST(PartitionShards, DealsDifferentClassPairsAcrossRanks) {
  // McMahan's setting: 100 ranks x 2 shards of 300. A random deal gives many distinct pairs,
  // not the handful a fixed striping would.
  const auto labels = balanced_labels(60000, 10);
  auto partition = partition_shards(labels, 10, 100, 2, 42);
  ASSERT_TRUE(partition);
  std::set<std::vector<std::int64_t>> pairs;
  for (const auto& row : class_histogram(labels, *partition, 10)) {
    std::vector<std::int64_t> held;
    for (std::int64_t k = 0; k < 10; ++k) {
      if (row[static_cast<std::size_t>(k)] > 0) held.push_back(k);
    }
    pairs.insert(held);
  }
  EXPECT_GT(pairs.size(), 25U);
}

TEST(PartitionShards, UnevenSplitsStillCoverEverySample) {
  const auto labels = balanced_labels(1001, 10);
  auto partition = partition_shards(labels, 10, 7, 3, 9);
  ASSERT_TRUE(partition) << partition.error().message;
  expect_valid(*partition, 1001, 7);
}

TEST(Partition, SameSeedSameResultDifferentSeedDifferentResult) {
  const auto labels = balanced_labels(5000, 10);
  for (const char* scheme : {"iid", "dirichlet", "shards"}) {
    DataSection data;
    data.partition = scheme;
    data.alpha = 0.3;
    data.classes_per_rank = 2;
    auto first = partition(labels, 10, 8, data, 1234);
    auto again = partition(labels, 10, 8, data, 1234);
    auto other = partition(labels, 10, 8, data, 1235);
    ASSERT_TRUE(first && again && other) << scheme;
    EXPECT_EQ(*first, *again) << scheme;
    EXPECT_NE(*first, *other) << scheme;
  }
}

TEST(Partition, RefusesImpossibleRequestsWithTheKeyAtFault) {
  const auto labels = balanced_labels(100, 10);
  DataSection data;
  auto too_many_ranks = partition(labels, 10, 101, data, 1);
  ASSERT_FALSE(too_many_ranks);
  EXPECT_EQ(too_many_ranks.error().kind, ErrorKind::kConfig);

  data.partition = "shards";
  data.classes_per_rank = 11;
  auto too_many_classes = partition(labels, 10, 4, data, 1);
  ASSERT_FALSE(too_many_classes);
  EXPECT_NE(too_many_classes.error().message.find("data.classes_per_rank"), std::string::npos);
  data.classes_per_rank = 5;
  auto too_many_shards = partition(labels, 10, 30, data, 1);
  ASSERT_FALSE(too_many_shards);
  EXPECT_NE(too_many_shards.error().message.find("150 shards"), std::string::npos)
      << too_many_shards.error().message;

  data.partition = "dirichlet";
  data.alpha = 0.0;
  auto zero_alpha = partition(labels, 10, 4, data, 1);
  ASSERT_FALSE(zero_alpha);
  EXPECT_NE(zero_alpha.error().message.find("data.alpha"), std::string::npos);

  data.partition = "by-size";
  auto unknown = partition(labels, 10, 4, data, 1);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("data.partition"), std::string::npos);

  data.partition = "iid";
  auto bad_label = partition(labels, 5, 4, data, 1);
  ASSERT_FALSE(bad_label);
  EXPECT_NE(bad_label.error().message.find("not below num_classes = 5"), std::string::npos);
}

std::string describe(const Partition& partition) {
  std::string out;
  for (const auto& indices : partition) {
    for (const auto i : indices) out += std::to_string(i) + " ";
    out += "| ";
  }
  return out;
}

// Golden partitions: the exact output for a fixed input and seed. A change here means every
// job's data split changed; say so in docs/data.md.
TEST(Partition, GoldenOutputs) {
  const auto labels = balanced_labels(48, 3);
  DataSection data;
  data.alpha = 0.5;
  data.classes_per_rank = 2;
  const std::vector<std::pair<const char*, std::string>> golden = {
      {"iid",
       "1 5 10 12 19 20 31 33 38 41 43 45 | 4 6 16 18 22 23 24 28 37 39 40 44 | "
       "7 8 9 11 13 17 21 27 32 36 42 47 | 0 2 3 14 15 25 26 29 30 34 35 46 | "},
      {"dirichlet",
       "2 13 15 22 24 29 31 33 38 47 | 4 6 7 11 16 20 25 32 36 40 42 | "
       "0 3 5 9 14 18 23 27 30 34 37 41 43 | 1 8 10 12 17 19 21 26 28 35 39 44 45 46 | "},
      {"shards",
       "9 10 14 19 21 26 28 32 34 36 37 41 | 3 5 7 13 15 18 20 27 30 33 35 39 | "
       "1 6 8 11 12 17 29 38 42 44 46 47 | 0 2 4 16 22 23 24 25 31 40 43 45 | "},
  };
  for (const auto& [scheme, expected] : golden) {
    data.partition = scheme;
    auto result = partition(labels, 3, 4, data, 2026);
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(describe(*result), expected) << scheme;
  }
}

}  // namespace
}  // namespace fedchain::data
