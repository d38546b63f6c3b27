// fedavg, coordinate-wise median and trimmed mean on int32 updates, and aggregate(), which
// checks what peers sent before any rule runs. Integer sums are exact and sorting integers
// gives one answer, so the order of `updates` never changes a bit of the result.
#include <algorithm>
#include <utility>
#include <vector>

#include "cpu_kernels.hpp"
#include "fedchain/aggregate/fixed_point.hpp"
#include "fedchain/aggregate/rules.hpp"

namespace fedchain::aggregate {

namespace {

using cpu::kTile;

// Runs body(start, width) for every tile of d coordinates, the tiles split over `threads`.
template <typename Body>
void for_each_tile(std::size_t d, int threads, const Body& body) {
  const auto tiles = static_cast<std::int64_t>(cpu::tile_count(d));
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && tiles > 1)
  for (std::int64_t t = 0; t < tiles; ++t) {
    const std::size_t start = static_cast<std::size_t>(t) * kTile;
    body(start, std::min(kTile, d - start));
  }
}

// out[j] = round_half_even(sum[j] / den). Every rule's sums are means of values in
// [-B, B] and take the vectorized kernel; a sum from a peer (the allreduce) may be anything,
// and then the general divider keeps it exact.
void divide(const std::int64_t* sum, std::size_t width, std::int64_t den, std::int32_t* out) {
  constexpr std::int64_t kQuotientLimit = std::int64_t{1} << 31;
  // Checked and divided a cache-sized run at a time: the range check reads what the
  // division reads next, rather than a pass of its own over the whole sum.
  constexpr std::size_t kRun = 4096;
  const cpu::Kernels& kernels = cpu::kernels();
  const fixed::RoundingDivider divider(den);
  for (std::size_t begin = 0; begin < width; begin += kRun) {
    const std::size_t count = std::min(kRun, width - begin);
    if (den <= kQuotientLimit && kernels.within(sum + begin, count, den * kQuotientLimit)) {
      kernels.divide(sum + begin, count, den, out + begin);
      continue;
    }
    for (std::size_t j = begin; j < begin + count; ++j) {
      out[j] = static_cast<std::int32_t>(divider(sum[j]));
    }
  }
}

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
                                                std::size_t last, int threads) {
  const std::size_t n = updates.size();
  const std::size_t d = updates.front().values.size();
  const auto network = sorting_network(n);
  const auto count = static_cast<std::int64_t>(last - first + 1);
  const cpu::Kernels& kernels = cpu::kernels();
  std::vector<std::int32_t> out(d);
  const auto tiles = static_cast<std::int64_t>(cpu::tile_count(d));
#pragma omp parallel num_threads(threads) if (threads > 1 && tiles > 1)
  {
    std::vector<std::int32_t> tile(n * kTile);  // (n, kTile): row i holds update i's slice
    std::vector<std::int64_t> sum(kTile);
#pragma omp for schedule(static)
    for (std::int64_t t = 0; t < tiles; ++t) {
      const std::size_t start = static_cast<std::size_t>(t) * kTile;
      const std::size_t width = std::min(kTile, d - start);
      for (std::size_t i = 0; i < n; ++i) {
        std::copy_n(updates[i].values.data() + start, width, tile.data() + i * kTile);
      }
      for (const auto& [low, high] : network) {
        kernels.compare_swap(tile.data() + low * kTile, tile.data() + high * kTile, width);
      }
      std::fill_n(sum.data(), width, 0);
      for (std::size_t i = first; i <= last; ++i) {
        kernels.add_weighted(sum.data(), 1, tile.data() + i * kTile, width);
      }
      divide(sum.data(), width, count, out.data() + start);
    }
  }
  return out;
}

std::int64_t total_weight(std::span<const Update> updates) {
  std::int64_t total = 0;
  for (const auto& update : updates) total += update.weight;
  return total;
}

Status check_updates(std::span<const Update> updates, std::int32_t bound, int threads) {
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
    ranks.push_back(update.rank);
  }
  std::sort(ranks.begin(), ranks.end());
  const auto twin = std::adjacent_find(ranks.begin(), ranks.end());
  if (twin != ranks.end()) {
    return reject("duplicate-rank", "two updates claim rank {}", *twin);
  }
  // The range scan reads every value once, split over threads; the offending index is
  // looked up only when something is out of range.
  std::vector<char> outside(updates.size(), 0);
  for_each_tile(d, threads, [&](std::size_t start, std::size_t width) {
    for (std::size_t i = 0; i < updates.size(); ++i) {
      if (cpu::kernels().any_outside(updates[i].values.data() + start, width, bound)) {
#pragma omp atomic write
        outside[i] = 1;
      }
    }
  });
  for (std::size_t i = 0; i < updates.size(); ++i) {
    if (!outside[i]) continue;
    const auto& values = updates[i].values;
    const auto bad = std::find_if(values.begin(), values.end(), [&](std::int32_t value) {
      return value < -bound || value > bound;
    });
    return reject("update-out-of-range",
                  "rank {} sent value {} at index {}, outside the clip bound [-{}, {}]",
                  updates[i].rank, *bad, bad - values.begin(), bound, bound);
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

std::vector<std::int32_t> fedavg(std::span<const Update> updates, int threads) {
  const std::size_t d = updates.front().values.size();
  const std::int64_t total = total_weight(updates);
  std::vector<std::int32_t> out(d);
  for_each_tile(d, threads, [&](std::size_t start, std::size_t width) {
    std::int64_t sum[kTile] = {};
    for (const auto& update : updates) {
      cpu::kernels().add_weighted(sum, update.weight, update.values.data() + start, width);
    }
    divide(sum, width, total, out.data() + start);
  });
  return out;
}

std::vector<std::int32_t> coordinate_median(std::span<const Update> updates, int threads) {
  // Odd n: the middle value; even n: the mean of the two middle values, halves to even.
  const std::size_t n = updates.size();
  return sorted_positions_mean(updates, (n - 1) / 2, n / 2, threads);
}

std::vector<std::int32_t> trimmed_mean(std::span<const Update> updates, std::int64_t trim,
                                       int threads) {
  const auto cut = static_cast<std::size_t>(trim);
  return sorted_positions_mean(updates, cut, updates.size() - 1 - cut, threads);
}

Status add_weighted(std::span<std::int64_t> sum, std::int64_t weight,
                    std::span<const std::int32_t> q) {
  if (sum.size() != q.size()) {
    return runtime_error("add_weighted: sum has {} values but the update has {}", sum.size(),
                         q.size());
  }
  cpu::kernels().add_weighted(sum.data(), weight, q.data(), q.size());
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
  divide(sum.data(), sum.size(), total_weight, out.data());
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
  if (auto status = check_updates(updates, config.quantize.clip_bound, config.threads); !status) {
    return status.error();
  }
  if (auto status = check_bounds(config, weights); !status) return status.error();

  const auto n = static_cast<std::int64_t>(updates.size());
  AggregateResult result;
  switch (config.rule) {
    case Rule::kFedAvg:
      result.values = fedavg(updates, config.threads);
      break;
    case Rule::kMedian:
      result.values = coordinate_median(updates, config.threads);
      break;
    case Rule::kTrimmedMean:
      result.values = trimmed_mean(updates, trim_count(config.trim_beta, n), config.threads);
      break;
    case Rule::kKrum:
    case Rule::kMultiKrum: {
      std::int64_t m = 1;
      if (config.rule == Rule::kMultiKrum) {
        m = config.multi_krum_m == 0 ? n - config.krum_f : config.multi_krum_m;
      }
      auto chosen = krum_select(updates, config.krum_f, m, config.threads);
      std::sort(chosen.begin(), chosen.end());
      std::vector<Update> selected;
      for (const auto& update : updates) {
        if (std::binary_search(chosen.begin(), chosen.end(), update.rank)) {
          selected.push_back(update);
        }
      }
      // The selected updates are averaged with their weights, like fedavg; for Krum
      // (m = 1) that is the chosen update itself, exactly.
      result.values = fedavg(selected, config.threads);
      result.selected_ranks = std::move(chosen);
      return result;
    }
  }
  result.selected_ranks = sorted_ranks(updates);
  return result;
}

}  // namespace fedchain::aggregate
