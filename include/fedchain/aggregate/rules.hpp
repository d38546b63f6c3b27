// Aggregation rules over quantized updates: exact integer arithmetic, so every honest rank
// computes the same aggregate whatever the order the updates arrived in (docs/architecture.md,
// invariant 1). docs/aggregation.md gives each rule's definition, tie-breaking and bounds.
//
// The round loop calls, once per run: aggregate_config(job.aggregate) and, when the rank
// count and genesis weights are known, check_bounds(config, weights). Then per round:
//   allgather mode: aggregate(config, updates)
//   allreduce mode: add_weighted(...) on the rank's own update, MPI_Allreduce(int64 sum),
//                   fedavg_from_sum(sum, total_weight, A)
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "fedchain/aggregate/quantize.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/job.hpp"

namespace fedchain::aggregate {

enum class Rule { kFedAvg, kMedian, kTrimmedMean, kKrum, kMultiKrum };
enum class Exchange { kAllreduce, kAllgather };

const char* rule_name(Rule rule);

struct AggregateConfig {
  Rule rule = Rule::kFedAvg;
  Exchange exchange = Exchange::kAllreduce;  // "auto" resolved: allreduce only for fedavg
  QuantizeParams quantize;
  double trim_beta = 0.1;
  std::int64_t krum_f = 1;
  std::int64_t multi_krum_m = 0;  // 0: n - krum_f
  // CPU threads the rules split the coordinates over (train.threads in a run); the result
  // does not depend on it.
  int threads = 1;
};

// Checks what does not depend on the rank count: names, the clip bound, exchange = allreduce
// with a rule other than fedavg (refused: the robust rules need every update).
Result<AggregateConfig> aggregate_config(const AggregateSection& section);

// Checks the bounds that depend on n = weights.size() and on the genesis weights (sample
// counts): Krum's n >= 2f + 3, multi_krum's 1 <= m <= n - f, trimmed_mean keeping at least
// one value, and fedavg's int64 sum B * sum(w) <= 2^63 - 1. A config error names the key.
Status check_bounds(const AggregateConfig& config, std::span<const std::int64_t> weights);

// One rank's committed update. Order in a list of updates carries no meaning: rules sort
// by rank where an order matters (ties), and refuse two updates of one rank.
struct Update {
  std::int64_t rank = 0;
  std::int64_t weight = 0;               // sample count fixed in genesis; >= 0
  std::span<const std::int32_t> values;  // (d) quantized update, each in [-B, B]
};

struct AggregateResult {
  std::vector<std::int32_t> values;          // (d) the aggregate A, each in [-B, B]
  std::vector<std::int64_t> selected_ranks;  // ranks whose updates A was computed from
};

// The configured rule over `updates`. Refuses (reject codes for what peers sent):
// "update-length" (lengths differ), "duplicate-rank", "update-out-of-range" (a value outside
// [-B, B], naming the rank and index), "bad-weight"; and config errors for bounds.
Result<AggregateResult> aggregate(const AggregateConfig& config, std::span<const Update> updates);

// The rules one by one, for tests, benchmarks and the verifier. Each expects updates that
// aggregate() has already checked (equal lengths, distinct ranks, values in [-B, B]), and
// splits the coordinates over `threads` without changing a bit of the result.
std::vector<std::int32_t> fedavg(std::span<const Update> updates, int threads = 1);
std::vector<std::int32_t> coordinate_median(std::span<const Update> updates, int threads = 1);
std::vector<std::int32_t> trimmed_mean(std::span<const Update> updates, std::int64_t trim,
                                       int threads = 1);
// Krum scores and the m best ranks, best first; krum is multi_krum with m = 1.
std::vector<std::int64_t> krum_select(std::span<const Update> updates, std::int64_t f,
                                      std::int64_t m, int threads = 1);

// k = floor(beta * n): values cut from each end by trimmed_mean.
std::int64_t trim_count(double beta, std::int64_t n);

// allreduce mode: sum[j] += weight * q[j] in int64 (exact; bounded by check_bounds).
Status add_weighted(std::span<std::int64_t> sum, std::int64_t weight,
                    std::span<const std::int32_t> q);
// A[j] = divide_round_half_even(sum[j], total_weight).
Status fedavg_from_sum(std::span<const std::int64_t> sum, std::int64_t total_weight,
                       std::span<std::int32_t> out);
// The allreduce exchange's aggregate, as every rank computes it and as `fedchain verify`
// recomputes it: `sum` is the int64 sum of w_i * q_i over the counted ranks (ascending),
// `weights` every rank's genesis weight. fedavg_from_sum over their total weight; the
// counted ranks are the selected ones.
Result<AggregateResult> fedavg_over_sum(std::span<const std::int64_t> sum,
                                        std::span<const std::uint32_t> counted_ranks,
                                        std::span<const std::int64_t> weights);

}  // namespace fedchain::aggregate
