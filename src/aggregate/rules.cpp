// fedavg, coordinate-wise median and trimmed mean on int32 updates, and aggregate(), which
// checks what peers sent before any rule runs. Integer sums are exact and sorting integers
// gives one answer, so the order of `updates` never changes a bit of the result.
#include <algorithm>
#include <numeric>

#include "fedchain/aggregate/fixed_point.hpp"
#include "fedchain/aggregate/rules.hpp"

namespace fedchain::aggregate {

namespace {

// Coordinates processed together: the tile's accumulators and gathered columns stay in L1.
constexpr std::size_t kTile = 1024;

// Ascending order of n <= a few dozen values: insertion sort beats std::sort there.
void sort_small(std::int32_t* values, std::size_t n) {
  for (std::size_t i = 1; i < n; ++i) {
    const std::int32_t value = values[i];
    std::size_t k = i;
    for (; k > 0 && values[k - 1] > value; --k) values[k] = values[k - 1];
    values[k] = value;
  }
}

void sort_values(std::int32_t* values, std::size_t n) {
  if (n <= 32) {
    sort_small(values, n);
  } else {
    std::sort(values, values + n);
  }
}

// Calls emit(j, sorted) for every coordinate j, where sorted holds the n values of
// coordinate j in ascending order.
template <typename Emit>
void for_each_sorted_column(std::span<const Update> updates, Emit&& emit) {
  const std::size_t n = updates.size();
  const std::size_t d = updates.front().values.size();
  std::vector<std::int32_t> columns(kTile * n);  // (kTile, n)
  for (std::size_t start = 0; start < d; start += kTile) {
    const std::size_t width = std::min(kTile, d - start);
    for (std::size_t i = 0; i < n; ++i) {
      const std::int32_t* row = updates[i].values.data() + start;
      for (std::size_t j = 0; j < width; ++j) columns[j * n + i] = row[j];
    }
    for (std::size_t j = 0; j < width; ++j) {
      std::int32_t* column = columns.data() + j * n;
      sort_values(column, n);
      emit(start + j, column);
    }
  }
}

std::int64_t total_weight(std::span<const Update> updates) {
  std::int64_t total = 0;
  for (const auto& update : updates) total += update.weight;
  return total;
}

Status check_updates(std::span<const Update> updates, std::int32_t bound) {
  const std::size_t d = updates.front().values.size();
  std::vector<std::int64_t> ranks;
  for (const auto& update : updates) {
    if (update.values.size() != d) {
      return reject("update-length", "rank {} sent an update of {} values, expected {}",
                    update.rank, update.values.size(), d);
    }
    if (update.weight < 1) {
      return reject("bad-weight", "rank {} has weight {}, expected >= 1", update.rank,
                    update.weight);
    }
    const auto [low, high] = std::minmax_element(update.values.begin(), update.values.end());
    if (d > 0 && (*low < -bound || *high > bound)) {
      const auto bad = *low < -bound ? low : high;
      return reject("update-out-of-range",
                    "rank {} sent value {} at index {}, outside the clip bound [-{}, {}]",
                    update.rank, *bad, bad - update.values.begin(), bound, bound);
    }
    ranks.push_back(update.rank);
  }
  std::sort(ranks.begin(), ranks.end());
  const auto twin = std::adjacent_find(ranks.begin(), ranks.end());
  if (twin != ranks.end()) {
    return reject("duplicate-rank", "two updates claim rank {}", *twin);
  }
  return {};
}

std::vector<std::int64_t> sorted_ranks(std::span<const Update> updates) {
  std::vector<std::int64_t> ranks;
  for (const auto& update : updates) ranks.push_back(update.rank);
  std::sort(ranks.begin(), ranks.end());
  return ranks;
}

}  // namespace

std::vector<std::int32_t> fedavg(std::span<const Update> updates) {
  const std::size_t d = updates.front().values.size();
  const std::int64_t total = total_weight(updates);
  std::vector<std::int32_t> out(d);
  std::int64_t sum[kTile];
  for (std::size_t start = 0; start < d; start += kTile) {
    const std::size_t width = std::min(kTile, d - start);
    std::fill(sum, sum + width, 0);
    for (const auto& update : updates) {
      const std::int32_t* row = update.values.data() + start;
      for (std::size_t j = 0; j < width; ++j) sum[j] += update.weight * row[j];
    }
    for (std::size_t j = 0; j < width; ++j) {
      out[start + j] = static_cast<std::int32_t>(fixed::divide_round_half_even(sum[j], total));
    }
  }
  return out;
}

std::vector<std::int32_t> coordinate_median(std::span<const Update> updates) {
  const std::size_t n = updates.size();
  std::vector<std::int32_t> out(updates.front().values.size());
  for_each_sorted_column(updates, [&](std::size_t j, const std::int32_t* sorted) {
    if (n % 2 == 1) {
      out[j] = sorted[n / 2];
    } else {
      // Even n: the mean of the two middle values, halves rounded to even.
      const std::int64_t pair = std::int64_t{sorted[n / 2 - 1]} + sorted[n / 2];
      out[j] = static_cast<std::int32_t>(fixed::divide_round_half_even(pair, 2));
    }
  });
  return out;
}

std::vector<std::int32_t> trimmed_mean(std::span<const Update> updates, std::int64_t trim) {
  const auto n = static_cast<std::int64_t>(updates.size());
  const std::int64_t kept = n - 2 * trim;
  std::vector<std::int32_t> out(updates.front().values.size());
  for_each_sorted_column(updates, [&](std::size_t j, const std::int32_t* sorted) {
    std::int64_t sum = 0;
    for (std::int64_t k = trim; k < n - trim; ++k) sum += sorted[k];
    out[j] = static_cast<std::int32_t>(fixed::divide_round_half_even(sum, kept));
  });
  return out;
}

Status add_weighted(std::span<std::int64_t> sum, std::int64_t weight,
                    std::span<const std::int32_t> q) {
  if (sum.size() != q.size()) {
    return runtime_error("add_weighted: sum has {} values but the update has {}", sum.size(),
                         q.size());
  }
  for (std::size_t j = 0; j < q.size(); ++j) sum[j] += weight * q[j];
  return {};
}

Status fedavg_from_sum(std::span<const std::int64_t> sum, std::int64_t total_weight,
                       std::span<std::int32_t> out) {
  if (sum.size() != out.size()) {
    return runtime_error("fedavg_from_sum: sum has {} values but the output has {}", sum.size(),
                         out.size());
  }
  if (total_weight < 1) {
    return runtime_error("fedavg_from_sum: total weight {} must be >= 1", total_weight);
  }
  for (std::size_t j = 0; j < sum.size(); ++j) {
    out[j] = static_cast<std::int32_t>(fixed::divide_round_half_even(sum[j], total_weight));
  }
  return {};
}

Result<AggregateResult> aggregate(const AggregateConfig& config, std::span<const Update> updates) {
  if (updates.empty()) return runtime_error("aggregate: no updates to aggregate");
  std::vector<std::int64_t> weights;
  for (const auto& update : updates) weights.push_back(update.weight);
  if (auto status = check_updates(updates, config.quantize.clip_bound); !status) {
    return status.error();
  }
  if (auto status = check_bounds(config, weights); !status) return status.error();

  const auto n = static_cast<std::int64_t>(updates.size());
  AggregateResult result;
  switch (config.rule) {
    case Rule::kFedAvg:
      result.values = fedavg(updates);
      break;
    case Rule::kMedian:
      result.values = coordinate_median(updates);
      break;
    case Rule::kTrimmedMean:
      result.values = trimmed_mean(updates, trim_count(config.trim_beta, n));
      break;
    case Rule::kKrum:
    case Rule::kMultiKrum: {
      std::int64_t m = 1;
      if (config.rule == Rule::kMultiKrum) {
        m = config.multi_krum_m == 0 ? n - config.krum_f : config.multi_krum_m;
      }
      auto chosen = krum_select(updates, config.krum_f, m);
      std::sort(chosen.begin(), chosen.end());
      std::vector<Update> selected;
      for (const auto& update : updates) {
        if (std::binary_search(chosen.begin(), chosen.end(), update.rank)) {
          selected.push_back(update);
        }
      }
      // The selected updates are averaged with their weights, like fedavg; for Krum
      // (m = 1) that is the chosen update itself, exactly.
      result.values = fedavg(selected);
      result.selected_ranks = std::move(chosen);
      return result;
    }
  }
  result.selected_ranks = sorted_ranks(updates);
  return result;
}

}  // namespace fedchain::aggregate
