// Clients apart from ranks: which rank hosts each client, and which clients train at each
// height (docs/clients.md). Both are pure functions of what the chain records (the job's
// seed, the clients' sample counts in genesis, the previous state root), so every rank and
// any auditor compute the same cohort, whatever the rank count.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "fedchain/core/error.hpp"
#include "fedchain/core/hash.hpp"
#include "fedchain/core/random.hpp"

namespace fedchain::ledger {

enum class CohortSampling : std::uint8_t {
  kUniform = 0,    // every client not yet drawn equally likely
  kBySamples = 1,  // proportional to the client's training samples
};

Result<CohortSampling> cohort_sampling_from_name(std::string_view name);
std::string_view cohort_sampling_name(CohortSampling sampling);

struct CohortRule {
  std::uint32_t per_round = 1;  // C: clients that train per height, 1 to the client count
  CohortSampling sampling = CohortSampling::kUniform;
  bool operator==(const CohortRule&) const = default;
};

// Client k is hosted by rank k mod R: round robin, so a sampled cohort spreads over the
// ranks, and with one client per rank client k is rank k.
inline std::uint32_t host_rank(std::uint32_t client, std::uint32_t ranks) {
  return client % ranks;
}

// `count` draws without replacement, each item with probability proportional to its weight
// among the items not yet drawn: a draw of below(remaining weight) located in the
// cumulative weights (ascending index). Items of weight 0 are never drawn; fewer than
// `count` come back when the weight runs out. The cohort's by_samples rule and the
// committee's election by stake (ledger/committee.hpp) both draw this way.
std::vector<std::uint32_t> draw_weighted(std::span<const std::uint64_t> weights,
                                         std::uint32_t count, SeededRandom& random);

// Height h's draw is seeded by the first 8 bytes (little-endian) of
// SHA-256("fedchain/cohort" || job seed as u64 LE || state root of height h-1), the
// initial model's root for h = 1. Not the block hash: that depends on who signed (so on the
// rank count), and a proposer could grind it.
std::uint64_t cohort_seed(std::uint64_t job_seed, const Hash32& previous_state_root);

// The clients that train at a height, ascending. With per_round equal to the client count,
// every client (nothing is drawn). Otherwise per_round clients without replacement from
// SeededRandom(seed): uniform, a partial Fisher-Yates (for i = 0..C-1, swap ids[i] with
// ids[i + below(K - i)]); by_samples, C draws of below(remaining samples) located in the
// cumulative sample counts of the clients not yet drawn (ascending id). `client_samples`
// holds every client's sample count (each >= 1).
std::vector<std::uint32_t> draw_cohort(const CohortRule& rule,
                                       std::span<const std::uint64_t> client_samples,
                                       std::uint64_t seed);

}  // namespace fedchain::ledger
