#include "fedchain/ledger/cohort.hpp"

#include <algorithm>
#include <numeric>

#include "fedchain/core/encoding.hpp"
#include "fedchain/core/random.hpp"
#include "fedchain/crypto/sha256.hpp"

namespace fedchain::ledger {

namespace {

std::vector<std::uint32_t> draw_uniform(std::uint32_t clients, std::uint32_t per_round,
                                        SeededRandom& random) {
  std::vector<std::uint32_t> ids(clients);
  std::iota(ids.begin(), ids.end(), 0u);
  for (std::uint32_t i = 0; i < per_round; ++i) {
    const auto j = i + static_cast<std::uint32_t>(random.below(clients - i));
    std::swap(ids[i], ids[j]);
  }
  ids.resize(per_round);
  return ids;
}

// A Fenwick tree over the clients' sample counts: each draw and each removal is O(log K),
// so a 100-client cohort of 10,000 clients costs microseconds.
class SampleTree {
 public:
  explicit SampleTree(std::span<const std::uint64_t> samples) : tree_(samples.size() + 1, 0) {
    for (std::size_t i = 0; i < samples.size(); ++i) add(i, samples[i]);
  }
  std::uint64_t total() const { return total_; }
  // The client whose cumulative range [before, before + samples) holds `target`.
  std::size_t find(std::uint64_t target) const {
    std::size_t at = 0;
    std::size_t step = 1;
    while (step * 2 < tree_.size()) step *= 2;
    for (; step > 0; step /= 2) {
      if (at + step < tree_.size() && tree_[at + step] <= target) {
        at += step;
        target -= tree_[at];
      }
    }
    return at;  // 0-based: `at` whole clients lie below target
  }
  void remove(std::size_t client, std::uint64_t samples) {
    for (std::size_t i = client + 1; i < tree_.size(); i += i & (~i + 1)) tree_[i] -= samples;
    total_ -= samples;
  }

 private:
  void add(std::size_t client, std::uint64_t samples) {
    for (std::size_t i = client + 1; i < tree_.size(); i += i & (~i + 1)) tree_[i] += samples;
    total_ += samples;
  }
  std::vector<std::uint64_t> tree_;
  std::uint64_t total_ = 0;
};

}  // namespace

std::vector<std::uint32_t> draw_weighted(std::span<const std::uint64_t> weights,
                                         std::uint32_t count, SeededRandom& random) {
  SampleTree tree(weights);
  std::vector<std::uint32_t> drawn;
  while (drawn.size() < count && tree.total() > 0) {
    const std::size_t item = tree.find(random.below(tree.total()));
    drawn.push_back(static_cast<std::uint32_t>(item));
    tree.remove(item, weights[item]);
  }
  return drawn;
}

Result<CohortSampling> cohort_sampling_from_name(std::string_view name) {
  if (name == "uniform") return CohortSampling::kUniform;
  if (name == "by_samples") return CohortSampling::kBySamples;
  return config_error("clients.sampling = '{}' is not one of uniform | by_samples", name);
}

std::string_view cohort_sampling_name(CohortSampling sampling) {
  return sampling == CohortSampling::kBySamples ? "by_samples" : "uniform";
}

std::uint64_t cohort_seed(std::uint64_t job_seed, const Hash32& previous_state_root) {
  Writer preimage;
  preimage.raw(as_bytes(std::string_view("fedchain/cohort")));
  preimage.u64(job_seed);
  preimage.hash(previous_state_root);
  const Hash32 digest = crypto::sha256(preimage.data());
  std::uint64_t seed = 0;
  for (int i = 7; i >= 0; --i) seed = (seed << 8) | digest.bytes[static_cast<std::size_t>(i)];
  return seed;
}

std::vector<std::uint32_t> draw_cohort(const CohortRule& rule,
                                       std::span<const std::uint64_t> client_samples,
                                       std::uint64_t seed) {
  const auto clients = static_cast<std::uint32_t>(client_samples.size());
  const std::uint32_t per_round = std::min(rule.per_round, clients);
  std::vector<std::uint32_t> cohort;
  if (per_round == clients) {
    cohort.resize(clients);
    std::iota(cohort.begin(), cohort.end(), 0u);
    return cohort;
  }
  SeededRandom random(seed);
  cohort = rule.sampling == CohortSampling::kBySamples
               ? draw_weighted(client_samples, per_round, random)
               : draw_uniform(clients, per_round, random);
  std::sort(cohort.begin(), cohort.end());
  return cohort;
}

}  // namespace fedchain::ledger
