// Partitioners: every sample on exactly one client, sorted lists, no empty client; the skew
// each scheme promises; determinism; golden outputs that pin the exact rules; the job-file
// spellings of data.partition and data.classes_per_client.
#include <algorithm>
#include <numeric>
#include <set>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "fedchain/core/job_file.hpp"
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

// Sorted, disjoint, covering 0..n-1, no empty client. ASSERTs, so that a broken partition
// of 10,000 clients fails once, not once per client.
void expect_valid(const Partition& partition, std::int64_t n, std::int64_t clients) {
  ASSERT_EQ(static_cast<std::int64_t>(partition.size()), clients);
  std::vector<int> seen(static_cast<std::size_t>(n), 0);
  for (std::size_t c = 0; c < partition.size(); ++c) {
    const auto& indices = partition[c];
    ASSERT_FALSE(indices.empty()) << "client " << c;
    ASSERT_TRUE(std::is_sorted(indices.begin(), indices.end())) << "client " << c;
    for (const std::int64_t i : indices) {
      ASSERT_GE(i, 0);
      ASSERT_LT(i, n);
      ++seen[static_cast<std::size_t>(i)];
    }
  }
  EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; }))
      << "every sample on exactly one client";
}

std::vector<std::size_t> sizes_of(const Partition& partition) {
  std::vector<std::size_t> sizes;
  for (const auto& indices : partition) sizes.push_back(indices.size());
  return sizes;
}

int classes_held(const std::vector<std::int64_t>& row) {
  return static_cast<int>(
      std::count_if(row.begin(), row.end(), [](std::int64_t c) { return c > 0; }));
}

// Average over clients of the largest class's share of that client's samples.
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
  // 600 expected per (client, class); the binomial deviation is about 23.
  for (const auto& row : class_histogram(labels, *partition, 10)) {
    for (const auto count : row) EXPECT_NEAR(count, 600, 120);
  }

  auto uneven = partition_iid(23, 4, 1);
  ASSERT_TRUE(uneven);
  expect_valid(*uneven, 23, 4);
  EXPECT_EQ(sizes_of(*uneven), (std::vector<std::size_t>{6, 6, 6, 5}));
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
  EXPECT_GT(skewed_share, 0.5) << "alpha 0.1 should concentrate each client on few classes";
  EXPECT_LT(even_share, 0.15) << "alpha 1000 should be close to the 0.1 of a uniform split";
  for (const auto& indices : *skewed) EXPECT_GE(indices.size(), kDirichletMinSamples);
}

TEST(PartitionDirichlet, TinyAlphaStillGivesEveryClientSamples) {
  const auto labels = balanced_labels(6000, 10);
  auto partition = partition_dirichlet(labels, 10, 8, 0.01, 7);
  ASSERT_TRUE(partition) << partition.error().message;
  expect_valid(*partition, 6000, 8);
  for (const auto& indices : *partition) EXPECT_GE(indices.size(), kDirichletMinSamples);
}

TEST(PartitionDirichlet, GivesUpWithAClearErrorWhenClientsMustStayEmpty) {
  // With alpha 0.01 each class lands almost whole on one client, so 10 classes cannot feed 32
  // clients: after kDirichletMaxDraws the error names an empty client and the key to change.
  const auto labels = balanced_labels(600, 10);
  auto partition = partition_dirichlet(labels, 10, 32, 0.01, 7);
  ASSERT_FALSE(partition);
  EXPECT_EQ(partition.error().kind, ErrorKind::kConfig);
  const auto& message = partition.error().message;
  EXPECT_NE(message.find("each of 1000 draws left clients without samples"), std::string::npos)
      << message;
  EXPECT_NE(message.find("first); raise data.alpha = 0.01"), std::string::npos) << message;
}

TEST(PartitionDirichlet, FewerDrawsPastAHundredClients) {
  EXPECT_EQ(dirichlet_max_draws(1), 1000);
  EXPECT_EQ(dirichlet_max_draws(100), 1000);
  EXPECT_EQ(dirichlet_max_draws(101), 990);
  EXPECT_EQ(dirichlet_max_draws(10000), 10);
  EXPECT_EQ(dirichlet_max_draws(100000), 1);
  EXPECT_EQ(dirichlet_max_draws(1000000), 1);
}

TEST(PartitionDirichlet, WithoutADrawAtTheMinimumTheBestDrawServes) {
  // 48 samples over 6 clients: the minimum, min(10, 8), is the mean, which would need every
  // client at exactly 8. No draw gets there, so the draw whose smallest client is largest
  // serves (pinned in GoldenFallback).
  const auto labels = balanced_labels(48, 3);
  auto partition = partition_dirichlet(labels, 3, 6, 2.0, 2026);
  ASSERT_TRUE(partition) << partition.error().message;
  expect_valid(*partition, 48, 6);
  const auto sizes = sizes_of(*partition);
  EXPECT_EQ(*std::min_element(sizes.begin(), sizes.end()), 7U);
}

TEST(PartitionDirichlet, FewSamplesLowerTheMinimumToNOverClients) {
  const auto labels = balanced_labels(20, 10);
  auto partition = partition_dirichlet(labels, 10, 8, 0.5, 3);
  ASSERT_TRUE(partition) << partition.error().message;
  expect_valid(*partition, 20, 8);
  for (const auto& indices : *partition) EXPECT_GE(indices.size(), 2U);
}

TEST(PartitionLabelShards, EachClientHoldsExactlyClassesPerClientWhenEven) {
  const auto labels = balanced_labels(60000, 10);
  for (const auto& [clients, per_client] : {std::pair{10, 2}, std::pair{100, 2}, std::pair{5, 4},
                                            std::pair{20, 5}, std::pair{10, 1}, std::pair{3, 10}}) {
    auto partition = partition_label_shards(labels, 10, clients, per_client, 42);
    ASSERT_TRUE(partition) << partition.error().message;
    expect_valid(*partition, 60000, clients);
    const auto histogram = class_histogram(labels, *partition, 10);
    for (std::size_t c = 0; c < histogram.size(); ++c) {
      EXPECT_EQ(classes_held(histogram[c]), per_client) << clients << " clients, client " << c;
      EXPECT_EQ((*partition)[c].size(), static_cast<std::size_t>(60000 / clients));
    }
  }
}

TEST(PartitionLabelShards, DealsDifferentClassPairsAcrossClients) {
  // McMahan's setting: 100 clients x 2 shards of 300. A random deal gives many distinct
  // pairs, not the handful a fixed striping would.
  const auto labels = balanced_labels(60000, 10);
  auto partition = partition_label_shards(labels, 10, 100, 2, 42);
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

TEST(PartitionLabelShards, UnevenSplitsStillCoverEverySample) {
  const auto labels = balanced_labels(1001, 10);
  auto partition = partition_label_shards(labels, 10, 7, 3, 9);
  ASSERT_TRUE(partition) << partition.error().message;
  expect_valid(*partition, 1001, 7);
}

TEST(PartitionQuantity, SmallAlphaSkewsSizesLargeAlphaDoesNot) {
  const auto labels = balanced_labels(60000, 10);
  auto skewed = partition_quantity(60000, 10, 0.3, 42);
  ASSERT_TRUE(skewed) << skewed.error().message;
  expect_valid(*skewed, 60000, 10);
  auto even = partition_quantity(60000, 10, 1000.0, 42);
  ASSERT_TRUE(even) << even.error().message;
  expect_valid(*even, 60000, 10);

  const auto skewed_sizes = sizes_of(*skewed);
  const auto [small, large] = std::minmax_element(skewed_sizes.begin(), skewed_sizes.end());
  EXPECT_GT(*large, 5 * *small) << "alpha 0.3 should make some clients many times larger";
  // Dir(1000) shares of 60,000 over 10 have a deviation of about 190.
  for (const auto size : sizes_of(*even)) EXPECT_NEAR(static_cast<double>(size), 6000.0, 1000.0);
  for (const auto size : skewed_sizes) EXPECT_GE(size, 10U) << "the floor, min(10, N / 2K)";

  // Which samples a client gets is iid: a big client's classes are near uniform.
  const auto histogram = class_histogram(labels, *skewed, 10);
  const auto biggest = static_cast<std::size_t>(large - skewed_sizes.begin());
  for (const auto count : histogram[biggest]) {
    EXPECT_NEAR(static_cast<double>(count) / static_cast<double>(*large), 0.1, 0.03);
  }
}

TEST(PartitionQuantity, TheFloorKeepsEveryClientFedAtAnyAlpha) {
  EXPECT_EQ(quantity_floor(60000, 10), 10);
  EXPECT_EQ(quantity_floor(60000, 10000), 3);
  EXPECT_EQ(quantity_floor(100, 60), 1);
  EXPECT_EQ(quantity_floor(60, 60), 1);
  // Tiny alpha gives nearly everything above the floors to one client.
  auto partition = partition_quantity(1000, 40, 0.01, 3);
  ASSERT_TRUE(partition) << partition.error().message;
  expect_valid(*partition, 1000, 40);
  const auto sizes = sizes_of(*partition);
  EXPECT_EQ(*std::min_element(sizes.begin(), sizes.end()), 10U);
  EXPECT_GT(*std::max_element(sizes.begin(), sizes.end()), 500U);
  // As many clients as samples: one each.
  auto one_each = partition_quantity(60, 60, 0.5, 3);
  ASSERT_TRUE(one_each) << one_each.error().message;
  expect_valid(*one_each, 60, 60);
}

// Issue 15's scale: 10,000 clients on Fashion-MNIST's 60,000 training samples. Every scheme
// keeps the invariants there; dirichlet passes only with an alpha that feeds every client,
// and otherwise says so after dirichlet_max_draws(10000) = 10 draws.
TEST(Partition, TenThousandClientsOnSixtyThousandSamples) {
  constexpr std::int64_t kClients = 10000;
  const auto labels = balanced_labels(60000, 10);
  DataSection data;
  data.classes_per_client = 2;
  for (const auto& [scheme, alpha] :
       {std::pair{"iid", 0.5}, std::pair{"label_shards", 0.5}, std::pair{"quantity", 0.5},
        std::pair{"quantity", 0.01}, std::pair{"dirichlet", 100.0}}) {
    data.partition = scheme;
    data.alpha = alpha;
    auto result = partition(labels, 10, kClients, data, 42);
    ASSERT_TRUE(result) << scheme << ": " << result.error().message;
    SCOPED_TRACE(scheme);
    expect_valid(*result, 60000, kClients);
  }

  data.partition = "label_shards";
  auto shards = partition(labels, 10, kClients, data, 42);
  ASSERT_TRUE(shards);
  for (const auto& row : class_histogram(labels, *shards, 10)) ASSERT_EQ(classes_held(row), 2);

  data.partition = "dirichlet";
  data.alpha = 0.5;
  auto starved = partition(labels, 10, kClients, data, 42);
  ASSERT_FALSE(starved);
  EXPECT_EQ(starved.error().kind, ErrorKind::kConfig);
  const auto& message = starved.error().message;
  EXPECT_NE(message.find("each of 10 draws left clients without samples"), std::string::npos)
      << message;
  EXPECT_NE(message.find("raise data.alpha = 0.5"), std::string::npos) << message;
  EXPECT_NE(message.find("label_shards"), std::string::npos) << message;
}

TEST(Partition, SameSeedSameResultDifferentSeedDifferentResult) {
  const auto labels = balanced_labels(5000, 10);
  for (const char* scheme : {"iid", "dirichlet", "label_shards", "quantity"}) {
    DataSection data;
    data.partition = scheme;
    data.alpha = 0.3;
    data.classes_per_client = 2;
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
  for (const char* scheme : {"iid", "dirichlet", "label_shards", "quantity"}) {
    data.partition = scheme;
    auto too_many_clients = partition(labels, 10, 101, data, 1);
    ASSERT_FALSE(too_many_clients) << scheme;
    EXPECT_EQ(too_many_clients.error().kind, ErrorKind::kConfig);
    EXPECT_NE(too_many_clients.error().message.find(
                  "100 training samples cannot give each of 101 clients at least one: use "
                  "fewer clients (clients.total)"),
              std::string::npos)
        << too_many_clients.error().message;
  }

  data.partition = "label_shards";
  data.classes_per_client = 11;
  auto too_many_classes = partition(labels, 10, 4, data, 1);
  ASSERT_FALSE(too_many_classes);
  EXPECT_NE(too_many_classes.error().message.find(
                "data.classes_per_client = 11 must be between 1 and the dataset's 10 classes"),
            std::string::npos)
      << too_many_classes.error().message;
  data.classes_per_client = 5;
  auto too_many_shards = partition(labels, 10, 30, data, 1);
  ASSERT_FALSE(too_many_shards);
  EXPECT_NE(too_many_shards.error().message.find("150 shards"), std::string::npos)
      << too_many_shards.error().message;

  for (const char* scheme : {"dirichlet", "quantity"}) {
    data.partition = scheme;
    data.alpha = 0.0;
    auto zero_alpha = partition(labels, 10, 4, data, 1);
    ASSERT_FALSE(zero_alpha) << scheme;
    EXPECT_NE(zero_alpha.error().message.find("data.alpha = 0 must be"), std::string::npos);
  }

  data.partition = "by-size";
  auto unknown = partition(labels, 10, 4, data, 1);
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("data.partition"), std::string::npos);

  data.partition = "iid";
  auto bad_label = partition(labels, 5, 4, data, 1);
  ASSERT_FALSE(bad_label);
  EXPECT_NE(bad_label.error().message.find("not below num_classes = 5"), std::string::npos);
}

// "shards" and data.classes_per_rank, the names from before clients were apart from ranks,
// still load: job files written then and the job.toml every run directory stores.
TEST(Partition, OldSpellingsReadAsTheNewOnes) {
  auto old_job = parse_job("[data]\npartition = \"shards\"\nclasses_per_rank = 3\n", "old.toml");
  ASSERT_TRUE(old_job) << old_job.error().message;
  EXPECT_EQ(old_job->data.partition, "label_shards");
  EXPECT_EQ(old_job->data.classes_per_client, 3);
  auto new_job =
      parse_job("[data]\npartition = \"label_shards\"\nclasses_per_client = 3\n", "new.toml");
  ASSERT_TRUE(new_job) << new_job.error().message;
  EXPECT_EQ(job_to_toml(*old_job), job_to_toml(*new_job));
  const auto resolved = job_to_toml(*old_job);
  EXPECT_NE(resolved.find("classes_per_client = 3"), std::string::npos) << resolved;
  EXPECT_EQ(resolved.find("classes_per_rank"), std::string::npos) << resolved;
  EXPECT_NE(resolved.find("partition = 'label_shards'"), std::string::npos) << resolved;

  const auto labels = balanced_labels(600, 10);
  auto old_split = partition(labels, 10, 6, old_job->data, 5);
  auto new_split = partition(labels, 10, 6, new_job->data, 5);
  ASSERT_TRUE(old_split && new_split);
  EXPECT_EQ(*old_split, *new_split);

  // Both names with different values: refused rather than one silently winning.
  auto both =
      parse_job("[data]\nclasses_per_client = 3\n", "both.toml", {"data.classes_per_rank=4"});
  ASSERT_FALSE(both);
  EXPECT_NE(both.error().message.find("data.classes_per_rank': the old name of "
                                      "data.classes_per_client, which the job also sets, to 3"),
            std::string::npos)
      << both.error().message;
  EXPECT_TRUE(parse_job("[data]\nclasses_per_client = 3\nclasses_per_rank = 3\n", "same.toml"));
}

std::string describe(const Partition& partition) {
  std::string out;
  for (const auto& indices : partition) {
    for (const auto i : indices) out += std::to_string(i) + " ";
    out += "| ";
  }
  return out;
}

// FNV-1a (64-bit) of a description, for golden partitions too long to spell out.
std::string fnv1a64(const std::string& text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
  }
  return fmt::format("{:016x}", hash);
}

// Golden partitions: the exact output for a fixed input and seed. A change here means every
// job's data split changed; say so in docs/data.md. tests/data/partition_reference.py
// reproduces each one from the rules in docs/data.md.
TEST(Partition, GoldenOutputs) {
  const auto labels = balanced_labels(48, 3);
  DataSection data;
  data.alpha = 0.5;
  data.classes_per_client = 2;
  // iid, dirichlet and label_shards (then named shards) are as they were when clients were
  // ranks: 4 ranks then, 4 clients now.
  const std::vector<std::pair<const char*, std::string>> golden = {
      {"iid",
       "1 5 10 12 19 20 31 33 38 41 43 45 | 4 6 16 18 22 23 24 28 37 39 40 44 | "
       "7 8 9 11 13 17 21 27 32 36 42 47 | 0 2 3 14 15 25 26 29 30 34 35 46 | "},
      {"dirichlet",
       "2 13 15 22 24 29 31 33 38 47 | 4 6 7 11 16 20 25 32 36 40 42 | "
       "0 3 5 9 14 18 23 27 30 34 37 41 43 | 1 8 10 12 17 19 21 26 28 35 39 44 45 46 | "},
      {"label_shards",
       "9 10 14 19 21 26 28 32 34 36 37 41 | 3 5 7 13 15 18 20 27 30 33 35 39 | "
       "1 6 8 11 12 17 29 38 42 44 46 47 | 0 2 4 16 22 23 24 25 31 40 43 45 | "},
      {"quantity",
       "1 5 10 12 19 20 23 31 33 38 41 43 45 | 4 6 8 9 11 13 16 17 18 22 24 28 37 39 40 44 47 | "
       "0 3 7 21 27 32 34 35 36 42 46 | 2 14 15 25 26 29 30 | "},
  };
  for (const auto& [scheme, expected] : golden) {
    data.partition = scheme;
    auto result = partition(labels, 3, 4, data, 2026);
    ASSERT_TRUE(result) << result.error().message;
    EXPECT_EQ(describe(*result), expected) << scheme;
  }
}

TEST(PartitionDirichlet, GoldenFallback) {
  // Draw 96 of 1,000 has the largest smallest client (7 samples, of a minimum of 8).
  auto result = partition_dirichlet(balanced_labels(48, 3), 3, 6, 2.0, 2026);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(describe(*result),
            "5 10 11 18 20 23 24 34 39 41 | 2 14 17 25 32 36 37 42 | 0 13 15 19 43 44 46 | "
            "1 3 4 7 21 22 27 47 | 6 9 12 26 29 30 35 38 | 8 16 28 31 33 40 45 | ");
}

TEST(PartitionQuantity, GoldenAtAThousandClients) {
  auto result = partition_quantity(6000, 1000, 0.3, 7);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(fnv1a64(describe(*result)), "8acbbed497cd2157");
}

}  // namespace
}  // namespace fedchain::data
