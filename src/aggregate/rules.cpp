// fedavg, coordinate-wise median and trimmed mean on int32 updates, and aggregate(), which
// checks what peers sent before any rule runs. Integer sums are exact and sorting integers
// gives one answer, so the order of `updates` never changes a bit of the result.
#include <algorithm>
#include <utility>
#include <vector>

#include "fedchain/aggregate/fixed_point.hpp"
#include "fedchain/aggregate/rules.hpp"

namespace fedchain::aggregate {

namespace {

// Coordinates processed together: a tile of every update and its sums stay in L1 or L2.
constexpr std::size_t kTile = 1024;

// Batcher's odd-even merge sort network for n values, as (low, high) pairs to compare and
// swap so that the smaller value ends at `low`. It is the network the CUDA kernels unroll;
// here it runs over whole tiles of coordinates at once, which the compiler vectorizes and
// which has no data-dependent branches (an insertion sort per coordinate mispredicts on
// every other comparison).
std::vector<std::pair<std::size_t, std::size_t>> sorting_network(std::size_t n) {
  std::size_t padded = 1;
  while (padded < n) padded <<= 1;
  std::vector<std::pair<std::size_t, std::size_t>> network;
  for (std::size_t p = 1; p < padded; p <<= 1) {
    for (std::size_t k = p; k >= 1; k >>= 1) {
      for (std::size_t j = k % p; j + k < padded; j += 2 * k) {
        for (std::size_t i = 0; i < k && i + j + k < n; ++i) {
          if ((i + j) / (2 * p) == (i + j + k) / (2 * p)) network.emplace_back(i + j, i + j + k);
        }
      }
    }
  }
  return network;
}

// out[j] = the rounded mean of sorted positions first..last of coordinate j's n values.
std::vector<std::int32_t> sorted_positions_mean(std::span<const Update> updates, std::size_t first,
                                                std::size_t last) {
  const std::size_t n = updates.size();
  const std::size_t d = updates.front().values.size();
  const auto network = sorting_network(n);
  const fixed::RoundingDivider divide(static_cast<std::int64_t>(last - first + 1));
  std::vector<std::int32_t> out(d);
  std::vector<std::int32_t> tile(n * kTile);  // (n, kTile): row i holds update i's slice
  std::int64_t sum[kTile];
  for (std::size_t start = 0; start < d; start += kTile) {
    const std::size_t width = std::min(kTile, d - start);
    for (std::size_t i = 0; i < n; ++i) {
      std::copy_n(updates[i].values.data() + start, width, tile.data() + i * kTile);
    }
    for (const auto& [low, high] : network) {
      std::int32_t* a = tile.data() + low * kTile;
      std::int32_t* b = tile.data() + high * kTile;
      for (std::size_t j = 0; j < width; ++j) {
        const std::int32_t smaller = std::min(a[j], b[j]);
        b[j] = std::max(a[j], b[j]);
        a[j] = smaller;
      }
    }
    std::fill(sum, sum + width, 0);
    for (std::size_t i = first; i <= last; ++i) {
      const std::int32_t* row = tile.data() + i * kTile;
      for (std::size_t j = 0; j < width; ++j) sum[j] += row[j];
    }
    for (std::size_t j = 0; j < width; ++j) {
      out[start + j] = static_cast<std::int32_t>(divide(sum[j]));
    }
  }
  return out;
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
    // One branch-free pass that vectorizes; the offending index is looked up only when
    // something is out of range.
    bool outside = false;
    for (const std::int32_t value : update.values) outside |= (value < -bound) | (value > bound);
    if (outside) {
      const auto bad =
          std::find_if(update.values.begin(), update.values.end(),
                       [&](std::int32_t value) { return value < -bound || value > bound; });
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
  const fixed::RoundingDivider divide(total_weight(updates));
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
      out[start + j] = static_cast<std::int32_t>(divide(sum[j]));
    }
  }
  return out;
}

std::vector<std::int32_t> coordinate_median(std::span<const Update> updates) {
  // Odd n: the middle value; even n: the mean of the two middle values, halves to even.
  const std::size_t n = updates.size();
  return sorted_positions_mean(updates, (n - 1) / 2, n / 2);
}

std::vector<std::int32_t> trimmed_mean(std::span<const Update> updates, std::int64_t trim) {
  const auto cut = static_cast<std::size_t>(trim);
  return sorted_positions_mean(updates, cut, updates.size() - 1 - cut);
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
  const fixed::RoundingDivider divide(total_weight);
  for (std::size_t j = 0; j < sum.size(); ++j) out[j] = static_cast<std::int32_t>(divide(sum[j]));
  return {};
}

Result<AggregateResult> fedavg_over_sum(std::span<const std::int64_t> sum,
                                        std::span<const std::uint32_t> counted_ranks,
                                        std::span<const std::int64_t> weights) {
  AggregateResult out;
  std::int64_t total = 0;
  for (const std::uint32_t rank : counted_ranks) {
    if (rank >= weights.size()) {
      return runtime_error("fedavg_over_sum: rank {} has no weight ({} ranks)", rank,
                           weights.size());
    }
    total += weights[rank];
    out.selected_ranks.push_back(rank);
  }
  out.values.resize(sum.size());
  if (auto st = fedavg_from_sum(sum, total, out.values); !st) return st.error();
  return out;
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
