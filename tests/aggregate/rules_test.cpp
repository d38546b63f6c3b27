// Every rule against a brute-force reference (128-bit sums, full sorts, all pairwise
// distances), invariance under shuffling the updates, and the refusals: bounds that would
// break a rule, and updates a peer could send to break it.
#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "fedchain/aggregate/fixed_point.hpp"
#include "fedchain/aggregate/rules.hpp"
#include "fedchain/core/job_file.hpp"

namespace fedchain::aggregate {
namespace {

__extension__ using Int128 = __int128;

std::int32_t round_ratio(Int128 num, Int128 den) {
  Int128 floor_q = num / den;
  if (num % den != 0 && num < 0) floor_q -= 1;
  const Int128 twice_rest = 2 * (num - floor_q * den);
  if (twice_rest > den || (twice_rest == den && floor_q % 2 != 0)) floor_q += 1;
  return static_cast<std::int32_t>(floor_q);
}

struct Fixture {
  std::vector<std::vector<std::int32_t>> rows;
  std::vector<Update> updates;
};

// n updates of length d with values in [-bound, bound], ranks 10 * i + 3, weights 1..100.
Fixture make_updates(std::size_t n, std::size_t d, std::int32_t bound, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  Fixture fixture;
  fixture.rows.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    fixture.rows[i].resize(d);
    for (auto& value : fixture.rows[i]) {
      // Mostly small values so ties and equal columns occur, sometimes the extremes.
      const auto pick = random() % 10;
      value = pick == 0 ? bound : pick == 1 ? -bound : static_cast<std::int32_t>(random() % 9) - 4;
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    fixture.updates.push_back({static_cast<std::int64_t>(10 * i + 3),
                               static_cast<std::int64_t>(1 + random() % 100), fixture.rows[i]});
  }
  return fixture;
}

std::vector<std::int32_t> column(std::span<const Update> updates, std::size_t j) {
  std::vector<std::int32_t> values;
  for (const auto& update : updates) values.push_back(update.values[j]);
  std::sort(values.begin(), values.end());
  return values;
}

std::vector<std::int32_t> brute_fedavg(std::span<const Update> updates) {
  std::vector<std::int32_t> out(updates.front().values.size());
  Int128 total = 0;
  for (const auto& update : updates) total += update.weight;
  for (std::size_t j = 0; j < out.size(); ++j) {
    Int128 sum = 0;
    for (const auto& update : updates) sum += Int128{update.weight} * update.values[j];
    out[j] = round_ratio(sum, total);
  }
  return out;
}

std::vector<std::int32_t> brute_trimmed(std::span<const Update> updates, std::size_t trim) {
  std::vector<std::int32_t> out(updates.front().values.size());
  for (std::size_t j = 0; j < out.size(); ++j) {
    const auto values = column(updates, j);
    const Int128 sum = std::accumulate(values.begin() + static_cast<std::ptrdiff_t>(trim),
                                       values.end() - static_cast<std::ptrdiff_t>(trim), Int128{0});
    out[j] = round_ratio(sum, static_cast<Int128>(values.size() - 2 * trim));
  }
  return out;
}

std::vector<std::int32_t> brute_median(std::span<const Update> updates) {
  const std::size_t n = updates.size();
  std::vector<std::int32_t> out(updates.front().values.size());
  for (std::size_t j = 0; j < out.size(); ++j) {
    const auto values = column(updates, j);
    out[j] = n % 2 == 1 ? values[n / 2] : round_ratio(Int128{values[n / 2 - 1]} + values[n / 2], 2);
  }
  return out;
}

// Ranks of the m best Krum scores, by definition: all pairwise distances, full sorts.
std::vector<std::int64_t> brute_krum(std::span<const Update> updates, std::int64_t f,
                                     std::int64_t m) {
  const std::size_t n = updates.size();
  std::vector<std::pair<Int128, std::int64_t>> scores;
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<Int128> distances;
    for (std::size_t k = 0; k < n; ++k) {
      if (k == i) continue;
      Int128 distance = 0;
      for (std::size_t j = 0; j < updates[i].values.size(); ++j) {
        const Int128 diff = Int128{updates[i].values[j]} - updates[k].values[j];
        distance += diff * diff;
      }
      distances.push_back(distance);
    }
    std::sort(distances.begin(), distances.end());
    const Int128 score = std::accumulate(
        distances.begin(), distances.begin() + static_cast<std::ptrdiff_t>(n) - f - 2, Int128{0});
    scores.emplace_back(score, updates[i].rank);
  }
  std::sort(scores.begin(), scores.end());  // by score, then rank
  std::vector<std::int64_t> chosen;
  for (std::int64_t i = 0; i < m; ++i) chosen.push_back(scores[static_cast<std::size_t>(i)].second);
  return chosen;
}

AggregateConfig config_for(Rule rule, std::int32_t bound = 1 << 20) {
  AggregateConfig config;
  config.rule = rule;
  config.exchange = rule == Rule::kFedAvg ? Exchange::kAllreduce : Exchange::kAllgather;
  config.quantize = {20, bound};
  config.trim_beta = 0.2;
  config.krum_f = 1;
  return config;
}

TEST(Rules, FedAvgMatchesBruteForce) {
  for (std::size_t n : {1u, 2u, 3u, 8u, 17u}) {
    auto fixture = make_updates(n, 1031, 1 << 20, n);
    EXPECT_EQ(fedavg(fixture.updates), brute_fedavg(fixture.updates)) << "n = " << n;
  }
}

TEST(Rules, AllreducePathEqualsFedAvg) {
  auto fixture = make_updates(6, 3000, 1 << 20, 5);
  std::vector<std::int64_t> sum(3000, 0);
  std::int64_t total = 0;
  for (const auto& update : fixture.updates) {
    ASSERT_TRUE(add_weighted(sum, update.weight, update.values));
    total += update.weight;
  }
  std::vector<std::int32_t> out(3000);
  ASSERT_TRUE(fedavg_from_sum(sum, total, out));
  EXPECT_EQ(out, fedavg(fixture.updates));
}

TEST(Rules, MedianMatchesBruteForceForOddAndEvenN) {
  for (std::size_t n : {1u, 2u, 3u, 4u, 7u, 8u, 33u, 40u}) {
    auto fixture = make_updates(n, 2049, 1 << 20, 100 + n);
    EXPECT_EQ(coordinate_median(fixture.updates), brute_median(fixture.updates)) << "n = " << n;
  }
}

TEST(Rules, EvenMedianRoundsTheMiddleMeanHalfToEven) {
  const std::vector<std::int32_t> a{1, -1, 2, -3}, b{2, -2, 2, 0};
  const std::vector<Update> updates{{0, 1, a}, {1, 1, b}};
  // (1+2)/2 = 1.5 -> 2, (-1-2)/2 = -1.5 -> -2, 2, (-3+0)/2 = -1.5 -> -2
  EXPECT_EQ(coordinate_median(updates), (std::vector<std::int32_t>{2, -2, 2, -2}));
}

TEST(Rules, TrimmedMeanMatchesBruteForce) {
  for (std::size_t n : {1u, 5u, 8u, 10u, 35u}) {
    auto fixture = make_updates(n, 1500, 1 << 20, 200 + n);
    for (std::int64_t trim = 0; 2 * trim < static_cast<std::int64_t>(n); trim += 1 + trim) {
      EXPECT_EQ(trimmed_mean(fixture.updates, trim),
                brute_trimmed(fixture.updates, static_cast<std::size_t>(trim)))
          << "n = " << n << ", trim = " << trim;
    }
  }
}

TEST(Rules, KrumSelectionMatchesBruteForceTiesIncluded) {
  for (std::size_t n : {3u, 5u, 7u, 11u}) {
    for (std::int64_t f = 0; static_cast<std::int64_t>(n) >= 2 * f + 3; ++f) {
      // d = 2 with tiny values makes equal scores common, so the rank tie-break matters.
      for (std::size_t d : {2u, 300u}) {
        auto fixture = make_updates(n, d, 3, 300 + n + d);
        for (std::int64_t m = 1; m <= static_cast<std::int64_t>(n) - f; ++m) {
          EXPECT_EQ(krum_select(fixture.updates, f, m), brute_krum(fixture.updates, f, m))
              << "n = " << n << ", f = " << f << ", m = " << m << ", d = " << d;
        }
      }
    }
  }
}

TEST(Rules, KrumDistancesAreExactAtTheClipBound) {
  // Extreme values: every squared difference is (2^32 - 2)^2, close to 2^64.
  const std::int32_t bound = std::numeric_limits<std::int32_t>::max();
  const std::size_t d = 5000;
  std::vector<std::vector<std::int32_t>> rows{
      std::vector<std::int32_t>(d, bound), std::vector<std::int32_t>(d, -bound),
      std::vector<std::int32_t>(d, bound - 1), std::vector<std::int32_t>(d, -bound + 2),
      std::vector<std::int32_t>(d, 0)};
  std::vector<Update> updates;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    updates.push_back({static_cast<std::int64_t>(i), 1, rows[i]});
  }
  EXPECT_EQ(krum_select(updates, 1, 5), brute_krum(updates, 1, 5));
}

// The rules split whole tiles of coordinates over threads: any thread count, and a length
// that is no multiple of the tile, must give the one-thread bits.
TEST(Rules, EveryRuleGivesTheSameBitsOnAnyThreadCount) {
  auto fixture = make_updates(9, 5 * 1024 + 37, 1 << 20, 11);
  const auto& updates = fixture.updates;
  for (const int threads : {2, 3, 8}) {
    EXPECT_EQ(fedavg(updates, threads), brute_fedavg(updates)) << threads;
    EXPECT_EQ(coordinate_median(updates, threads), brute_median(updates)) << threads;
    EXPECT_EQ(trimmed_mean(updates, 2, threads), trimmed_mean(updates, 2)) << threads;
    EXPECT_EQ(krum_select(updates, 1, 4, threads), brute_krum(updates, 1, 4)) << threads;
  }
}

// fedavg_from_sum divides sums a peer may have sent: values at and beyond the fast path's
// limit (|sum| < den * 2^31) and any divisor must still round exactly, half to even.
TEST(Rules, FedAvgFromSumRoundsEverySumExactly) {
  std::mt19937_64 random(5);
  for (const std::int64_t den :
       {std::int64_t{1}, std::int64_t{2}, std::int64_t{6007}, std::int64_t{1} << 31,
        (std::int64_t{1} << 31) + 1, std::int64_t{1} << 40}) {
    const std::int64_t limit = den <= (std::int64_t{1} << 31) ? den << 31 : den;
    std::vector<std::int64_t> sum{0,      1,           -1,          den / 2,    -den / 2,
                                  den,    -den,        limit - 1,   -limit + 1, limit,
                                  -limit, 3 * den / 2, -3 * den / 2};
    for (int i = 0; i < 2000; ++i) {
      sum.push_back(static_cast<std::int64_t>(random() % (2 * static_cast<std::uint64_t>(limit))) -
                    limit);
    }
    std::vector<std::int32_t> out(sum.size());
    ASSERT_TRUE(fedavg_from_sum(sum, den, out));
    for (std::size_t j = 0; j < sum.size(); ++j) {
      const std::int64_t expected = fedchain::fixed::divide_round_half_even(sum[j], den);
      ASSERT_EQ(out[j], static_cast<std::int32_t>(expected)) << sum[j] << " / " << den;
    }
  }
}

TEST(Rules, KrumKeepsHonestUpdatesAgainstOutliers) {
  auto fixture = make_updates(9, 500, 1 << 20, 9);
  std::vector<std::int32_t> far(500, 1 << 20);
  fixture.updates[2].values = far;
  fixture.updates[5].values = far;
  auto config = config_for(Rule::kMultiKrum);
  config.krum_f = 2;
  config.multi_krum_m = 5;
  auto result = aggregate(config, fixture.updates);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->selected_ranks.size(), 5u);
  for (auto rank : result->selected_ranks) EXPECT_TRUE(rank != 23 && rank != 53) << rank;
}

TEST(Rules, KrumReturnsTheChosenUpdateExactly) {
  auto fixture = make_updates(7, 800, 1 << 20, 77);
  auto config = config_for(Rule::kKrum);
  auto result = aggregate(config, fixture.updates);
  ASSERT_TRUE(result) << result.error().message;
  ASSERT_EQ(result->selected_ranks.size(), 1u);
  const auto chosen = static_cast<std::size_t>((result->selected_ranks[0] - 3) / 10);
  EXPECT_EQ(result->values, fixture.rows[chosen]);
}

TEST(Rules, ShufflingTheUpdatesChangesNoBitForAnyRule) {
  for (Rule rule :
       {Rule::kFedAvg, Rule::kMedian, Rule::kTrimmedMean, Rule::kKrum, Rule::kMultiKrum}) {
    auto fixture = make_updates(9, 777, 1 << 20, 42);
    auto config = config_for(rule);
    auto reference = aggregate(config, fixture.updates);
    ASSERT_TRUE(reference) << reference.error().message;
    std::mt19937_64 random(1);
    for (int trial = 0; trial < 10; ++trial) {
      auto shuffled = fixture.updates;
      std::shuffle(shuffled.begin(), shuffled.end(), random);
      auto result = aggregate(config, shuffled);
      ASSERT_TRUE(result);
      EXPECT_EQ(result->values, reference->values) << rule_name(rule);
      EXPECT_EQ(result->selected_ranks, reference->selected_ranks) << rule_name(rule);
    }
  }
}

TEST(Rules, AggregateDispatchesToEachRule) {
  auto fixture = make_updates(10, 400, 1 << 20, 8);
  EXPECT_EQ(aggregate(config_for(Rule::kFedAvg), fixture.updates)->values,
            brute_fedavg(fixture.updates));
  EXPECT_EQ(aggregate(config_for(Rule::kMedian), fixture.updates)->values,
            brute_median(fixture.updates));
  EXPECT_EQ(aggregate(config_for(Rule::kTrimmedMean), fixture.updates)->values,
            brute_trimmed(fixture.updates, 2));  // floor(0.2 * 10)
  auto multi = config_for(Rule::kMultiKrum);     // m = 0: n - f = 9
  auto result = aggregate(multi, fixture.updates);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->selected_ranks.size(), 9u);
}

TEST(Config, ResolvesExchangeAndRefusesAllreduceForRobustRules) {
  AggregateSection section;
  section.rule = "median";
  auto config = aggregate_config(section);
  ASSERT_TRUE(config);
  EXPECT_EQ(config->exchange, Exchange::kAllgather);
  section.exchange = "allreduce";
  auto refused = aggregate_config(section);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kConfig);
  EXPECT_NE(refused.error().message.find("aggregate.exchange"), std::string::npos);
  section.rule = "fedavg";
  EXPECT_EQ(aggregate_config(section)->exchange, Exchange::kAllreduce);
  section.rule = "mean";
  EXPECT_NE(aggregate_config(section).error().message.find("aggregate.rule"), std::string::npos);
}

TEST(Config, ComesFromTheJobFileAndNamesTheKeyItRefuses) {
  auto job = parse_job("[aggregate]\nrule = \"krum\"\nkrum_f = 2\nscale_bits = 16\nclip = 4\n",
                       "krum.toml");
  ASSERT_TRUE(job) << job.error().message;
  auto config = aggregate_config(job->aggregate);
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->rule, Rule::kKrum);
  EXPECT_EQ(config->exchange, Exchange::kAllgather);
  EXPECT_EQ(config->quantize.clip_bound, 4 << 16);
  const std::vector<std::int64_t> six_ranks(6, 100);
  auto status = check_bounds(*config, six_ranks);
  ASSERT_FALSE(status);
  EXPECT_EQ(exit_code(status.error().kind), 2);
  EXPECT_NE(status.error().message.find("aggregate.krum_f"), std::string::npos);
  EXPECT_FALSE(parse_job("[aggregate]\nrule = \"mean\"\n", "bad.toml"));
}

TEST(Config, KrumNeedsTwoFPlusThreeUpdates) {
  auto config = config_for(Rule::kKrum);
  config.krum_f = 2;
  const std::vector<std::int64_t> six(6, 1), seven(7, 1);
  auto status = check_bounds(config, six);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, ErrorKind::kConfig);
  EXPECT_NE(status.error().message.find("aggregate.krum_f"), std::string::npos);
  EXPECT_TRUE(check_bounds(config, seven));
  config.rule = Rule::kMultiKrum;
  config.multi_krum_m = 6;
  auto too_many = check_bounds(config, seven);
  ASSERT_FALSE(too_many);
  EXPECT_NE(too_many.error().message.find("aggregate.multi_krum_m"), std::string::npos);
  config.multi_krum_m = 5;
  EXPECT_TRUE(check_bounds(config, seven));
}

TEST(Config, RefusesWeightsWhoseSumCouldOverflow) {
  auto config = config_for(Rule::kFedAvg, std::numeric_limits<std::int32_t>::max());
  const std::int64_t limit = std::numeric_limits<std::int64_t>::max() / config.quantize.clip_bound;
  const std::vector<std::int64_t> fits{limit - 5, 5}, overflows{limit - 5, 6}, zero{3, 0};
  EXPECT_TRUE(check_bounds(config, fits));
  auto status = check_bounds(config, overflows);
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("aggregate.clip"), std::string::npos);
  EXPECT_FALSE(check_bounds(config, zero));
}

TEST(Config, FedAvgAtTheOverflowBoundIsExact) {
  // B * W = largest allowed: the int64 sum reaches its extreme and stays exact.
  const std::int32_t bound = std::numeric_limits<std::int32_t>::max();
  auto config = config_for(Rule::kFedAvg, bound);
  const std::int64_t limit = std::numeric_limits<std::int64_t>::max() / bound;
  const std::vector<std::int32_t> high(3, bound), low{-bound, bound, -bound};
  const std::vector<Update> updates{{0, limit - 1, high}, {1, 1, low}};
  auto result = aggregate(config, updates);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->values, brute_fedavg(updates));
}

TEST(Aggregate, RefusesWhatAPeerCouldSend) {
  const std::vector<std::int32_t> good{1, 2, 3}, short_row{1, 2}, wild{1, 1 << 21, 3};
  const auto config = config_for(Rule::kMedian);
  auto expect_code = [&](std::vector<Update> updates, const std::string& code) {
    auto result = aggregate(config, updates);
    ASSERT_FALSE(result) << code;
    EXPECT_EQ(result.error().code, code) << result.error().message;
  };
  expect_code({{0, 1, good}, {1, 1, short_row}}, "update-length");
  expect_code({{0, 1, good}, {0, 1, good}}, "duplicate-rank");
  expect_code({{0, 1, good}, {4, 1, wild}}, "update-out-of-range");
  expect_code({{0, 1, good}, {4, 0, good}}, "bad-weight");
  auto result = aggregate(config, std::vector<Update>{{4, 1, wild}, {0, 1, good}});
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("rank 4"), std::string::npos);
  EXPECT_NE(result.error().message.find("index 1"), std::string::npos);
}

TEST(Aggregate, TrimCountIsFloorOfBetaTimesN) {
  EXPECT_EQ(trim_count(0.1, 10), 1);
  EXPECT_EQ(trim_count(0.2, 9), 1);
  EXPECT_EQ(trim_count(0.0, 9), 0);
  EXPECT_EQ(trim_count(0.49, 4), 1);
}

}  // namespace
}  // namespace fedchain::aggregate
