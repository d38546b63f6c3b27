// Attacks for experiments ([faults] in the job file): what a Byzantine rank does to its
// float update delta before quantizing and committing it. The chain records what each rank
// committed, so an attack is visible afterwards. docs/aggregation.md, "Attacks", says what
// each attacker is assumed to know.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "fedchain/core/error.hpp"
#include "fedchain/core/job.hpp"
#include "fedchain/core/random.hpp"

namespace fedchain::aggregate {

// In the order of kAttackNames (core/job.hpp), which names them.
enum class Attack { kNone, kSignFlip, kGaussian, kScaling, kAlie, kLabelFlip, kZero };

struct AttackConfig {
  Attack attack = Attack::kNone;
  std::vector<std::int64_t> byzantine;  // sorted, distinct
  double sign_flip_scale = 1.0;
  double gaussian_sigma = 0.1;
  double scaling_factor = 10.0;
  double alie_z = 0.0;     // 0: alie_z_max(n, byzantine.size())
  std::uint64_t seed = 0;  // job.seed: gaussian noise is drawn from (seed, rank, height)
};

// Refuses a rank listed twice, or a rank >= ranks (when ranks > 0), naming faults.byzantine.
Result<AttackConfig> attack_config(const FaultsSection& faults, std::int64_t seed,
                                   std::int64_t ranks);

bool is_byzantine(const AttackConfig& config, std::int64_t rank);

// Whether apply_attack changes `rank`'s delta: a Byzantine rank (or client) of an attack on
// updates, not kNone nor kLabelFlip (a data-side attack: see flip_label).
bool attacks_update(const AttackConfig& config, std::int64_t rank);

// What the round loop knows when a Byzantine rank builds its update.
struct AttackContext {
  std::int64_t rank = 0;
  std::int64_t height = 0;
  std::int64_t ranks = 0;  // n, for alie's z_max
  // alie only: the honest deltas the attackers pool (their own honestly trained deltas,
  // shared among the colluding ranks), each of delta's length.
  std::span<const std::span<const float>> colluders;
};

// Replaces `delta` with what the attacker sends. Does nothing where attacks_update is false.
Status apply_attack(const AttackConfig& config, const AttackContext& context,
                    std::span<float> delta);

// The attacks one by one.
void sign_flip(std::span<float> delta, double scale);      // delta -> -scale * delta
void scale_update(std::span<float> delta, double factor);  // delta -> factor * delta
// delta -> N(0, sigma^2) per coordinate, from a stream seeded by derive_seed(seed, rank, height).
void gaussian_noise(std::span<float> delta, double sigma, std::uint64_t seed, std::int64_t rank,
                    std::int64_t height);
// A little is enough (Baruch et al., NeurIPS 2019): out[j] = mean_j - z * std_j over the
// reference deltas (std: population standard deviation, divided by their count).
Status alie_update(std::span<const std::span<const float>> reference, double z,
                   std::span<float> out);
// z_max of Baruch et al.: s = floor(n / 2 + 1) - f, z = Phi^-1((n - s) / n). Refused where
// (n - s) / n is not in (0, 1).
Result<double> alie_z_max(std::int64_t n, std::int64_t f);

// label_flip: the label an attacker trains on instead of y, classes - 1 - y (y -> 9 - y for
// the ten Fashion-MNIST classes).
inline int flip_label(int label, int classes = 10) {
  return classes - 1 - label;
}

// Standard normal samples by Marsaglia's polar method over SeededRandom (core/random.hpp),
// using both values of each pair: the same seed gives the same bits on every machine.
class NormalGenerator {
 public:
  explicit NormalGenerator(std::uint64_t seed) : random_(seed) {}
  double next();

 private:
  SeededRandom random_;
  double spare_ = 0.0;
  bool has_spare_ = false;
};
double inverse_normal_cdf(double p);  // 0 < p < 1

}  // namespace fedchain::aggregate
