// Krum and Multi-Krum selection (Blanchard et al., NeurIPS 2017) in exact integer
// arithmetic. Squared L2 distances between int32 updates: one coordinate's squared
// difference is below (2^32)^2 = 2^64, so it fits in uint64; a whole distance is summed in
// unsigned 128 bits, which holds d * 2^64 for any d < 2^64; a score adds at most n - 1
// distances, so n * d < 2^64 keeps it exact as well. Nothing is rounded, so every rank
// ranks the updates the same way; equal scores are broken by the lower rank id.
#include <algorithm>
#include <cstdlib>
#include <limits>

#include "cpu_kernels.hpp"
#include "fedchain/aggregate/rules.hpp"

namespace fedchain::aggregate {

namespace {

__extension__ using Uint128 = unsigned __int128;

// Values per uint64 partial sum: chunk * (2 * max_abs)^2 <= 2^64 - 1. A difference is at
// most 2 * max_abs (and at most 2^32 - 1 for any two int32s); the division in two steps
// never forms largest_diff^2, which could be 2^64.
std::size_t chunk_for(std::uint64_t max_abs) {
  const std::uint64_t largest_diff = 2 * max_abs;
  if (largest_diff == 0) return std::numeric_limits<std::size_t>::max();
  const std::uint64_t per_square = std::numeric_limits<std::uint64_t>::max() / largest_diff;
  return std::max<std::uint64_t>(1, per_square / largest_diff);
}

// Adds the squared distances between every pair of updates over coordinates
// [start, start + width) to distance (n, n; upper triangle). All n slices of the tile stay
// in cache while the n^2 / 2 pairs read them.
void add_tile_distances(std::span<const Update> updates, std::size_t start, std::size_t width,
                        std::vector<Uint128>& distance) {
  const std::size_t n = updates.size();
  const cpu::Kernels& kernels = cpu::kernels();
  std::uint32_t max_abs = 0;
  for (const auto& update : updates) {
    max_abs = std::max(max_abs, kernels.max_magnitude(update.values.data() + start, width));
  }
  const std::size_t chunk = chunk_for(max_abs);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = i + 1; k < n; ++k) {
      const std::int32_t* a = updates[i].values.data() + start;
      const std::int32_t* b = updates[k].values.data() + start;
      for (std::size_t from = 0; from < width; from += chunk) {
        distance[i * n + k] +=
            kernels.squared_distance(a + from, b + from, std::min(chunk, width - from));
      }
    }
  }
}

// ||u_i - u_k||^2 for every pair, exactly: (n, n), symmetric. Each thread sums its tiles
// into its own matrix; 128-bit sums are exact, so merging them in any order gives one answer.
std::vector<Uint128> pairwise_distances(std::span<const Update> updates, int threads) {
  const std::size_t n = updates.size();
  const std::size_t d = updates.front().values.size();
  const auto tiles = static_cast<std::int64_t>(cpu::tile_count(d));
  std::vector<Uint128> distance(n * n, 0);
#pragma omp parallel num_threads(threads) if (threads > 1 && tiles > 1)
  {
    std::vector<Uint128> local(n * n, 0);
#pragma omp for schedule(static)
    for (std::int64_t t = 0; t < tiles; ++t) {
      const std::size_t start = static_cast<std::size_t>(t) * cpu::kTile;
      add_tile_distances(updates, start, std::min(cpu::kTile, d - start), local);
    }
#pragma omp critical
    for (std::size_t x = 0; x < n * n; ++x) distance[x] += local[x];
  }
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = i + 1; k < n; ++k) distance[k * n + i] = distance[i * n + k];
  }
  return distance;
}

}  // namespace

std::vector<std::int64_t> krum_select(std::span<const Update> updates, std::int64_t f,
                                      std::int64_t m, int threads) {
  const std::size_t n = updates.size();
  const std::vector<Uint128> distance = pairwise_distances(updates, threads);
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
