// Krum and Multi-Krum selection (Blanchard et al., NeurIPS 2017) in exact integer
// arithmetic. Squared L2 distances between int32 updates: one coordinate's squared
// difference is below (2^32)^2 = 2^64, so it fits in uint64; a whole distance is summed in
// unsigned 128 bits, which holds d * 2^64 for any d < 2^64; a score adds at most n - 1
// distances, so n * d < 2^64 keeps it exact as well. Nothing is rounded, so every rank
// ranks the updates the same way; equal scores are broken by the lower rank id.
#include <algorithm>
#include <cstdlib>
#include <limits>

#include "fedchain/aggregate/rules.hpp"

namespace fedchain::aggregate {

namespace {

__extension__ using Uint128 = unsigned __int128;

// ||a - b||^2, exactly. Squares are summed in uint64 over chunks short enough that the
// partial sum cannot wrap (chunk * (2 * max_abs)^2 <= 2^64 - 1), then carried into 128 bits.
Uint128 squared_distance(std::span<const std::int32_t> a, std::span<const std::int32_t> b,
                         std::size_t chunk) {
  Uint128 total = 0;
  for (std::size_t start = 0; start < a.size(); start += chunk) {
    const std::size_t end = std::min(a.size(), start + chunk);
    std::uint64_t partial = 0;
    for (std::size_t j = start; j < end; ++j) {
      // |diff| < 2^32, so its square fits in uint64 (though not always in int64).
      const std::int64_t diff = std::int64_t{a[j]} - b[j];
      const auto magnitude = static_cast<std::uint64_t>(diff < 0 ? -diff : diff);
      partial += magnitude * magnitude;
    }
    total += partial;
  }
  return total;
}

std::size_t safe_chunk(std::span<const Update> updates) {
  std::uint64_t max_abs = 0;
  for (const auto& update : updates) {
    for (const std::int32_t value : update.values) {
      const std::uint64_t magnitude = static_cast<std::uint64_t>(std::llabs(value));
      max_abs = std::max(max_abs, magnitude);
    }
  }
  // A difference is at most 2 * max_abs (and at most 2^32 - 1 for any two int32s); the
  // division in two steps never forms largest_diff^2, which could be 2^64.
  const std::uint64_t largest_diff = 2 * max_abs;
  if (largest_diff == 0) return std::numeric_limits<std::size_t>::max();
  const std::uint64_t per_square = std::numeric_limits<std::uint64_t>::max() / largest_diff;
  return std::max<std::uint64_t>(1, per_square / largest_diff);
}

}  // namespace

std::vector<std::int64_t> krum_select(std::span<const Update> updates, std::int64_t f,
                                      std::int64_t m) {
  const std::size_t n = updates.size();
  const std::size_t chunk = safe_chunk(updates);
  std::vector<Uint128> distance(n * n, 0);  // (n, n), symmetric
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = i + 1; k < n; ++k) {
      const Uint128 value = squared_distance(updates[i].values, updates[k].values, chunk);
      distance[i * n + k] = value;
      distance[k * n + i] = value;
    }
  }
  // score(i) = sum of the n - f - 2 smallest distances from update i to the others.
  const auto closest = static_cast<std::size_t>(static_cast<std::int64_t>(n) - f - 2);
  struct Scored {
    Uint128 score;
    std::int64_t rank;
  };
  std::vector<Scored> scored;
  std::vector<Uint128> row;
  for (std::size_t i = 0; i < n; ++i) {
    row.clear();
    for (std::size_t k = 0; k < n; ++k) {
      if (k != i) row.push_back(distance[i * n + k]);
    }
    std::sort(row.begin(), row.end());
    Uint128 score = 0;
    for (std::size_t k = 0; k < closest && k < row.size(); ++k) score += row[k];
    scored.push_back({score, updates[i].rank});
  }
  std::sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) {
    return a.score != b.score ? a.score < b.score : a.rank < b.rank;
  });
  std::vector<std::int64_t> chosen;
  for (std::size_t i = 0; i < n && static_cast<std::int64_t>(i) < m; ++i) {
    chosen.push_back(scored[i].rank);
  }
  return chosen;
}

}  // namespace fedchain::aggregate
