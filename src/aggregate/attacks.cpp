// Update-side attacks for experiments, and the deterministic normal generator and inverse
// normal CDF they need. Only attackers run this code and their updates are committed by
// hash, so agreement does not depend on it; it is deterministic anyway (no libm
// transcendental functions) so that an experiment replays bit for bit on another machine.
#include "fedchain/aggregate/attacks.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/ranges.h>

#include "fedchain/core/portable_math.hpp"

namespace fedchain::aggregate {

namespace {

static_assert(kAttackNames.size() == static_cast<std::size_t>(Attack::kZero) + 1,
              "one name per attack, in the enum's order");

Result<Attack> parse_attack(const std::string& name) {
  for (std::size_t i = 0; i < kAttackNames.size(); ++i) {
    if (kAttackNames[i] == name) return static_cast<Attack>(i);
  }
  return config_error("faults.attack = '{}' is not an attack: use one of {}", name,
                      fmt::join(kAttackNames, ", "));
}

}  // namespace

double NormalGenerator::next() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  for (;;) {
    const double u = 2.0 * random_.uniform01() - 1.0;
    const double v = 2.0 * random_.uniform01() - 1.0;
    const double s = u * u + v * v;
    if (s <= 0.0 || s >= 1.0) continue;
    const double factor = std::sqrt(-2.0 * portable_log(s) / s);
    spare_ = v * factor;
    has_spare_ = true;
    return u * factor;
  }
}

double inverse_normal_cdf(double p) {
  // Acklam's rational approximation (relative error below 1.2e-9).
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double kLow = 0.02425;
  auto tail = [&](double q) {
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  };
  if (p < kLow) return tail(std::sqrt(-2.0 * portable_log(p)));
  if (p > 1.0 - kLow) return -tail(std::sqrt(-2.0 * portable_log(1.0 - p)));
  const double q = p - 0.5;
  const double r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
}

Result<AttackConfig> attack_config(const FaultsSection& faults, std::int64_t seed,
                                   std::int64_t ranks) {
  auto attack = parse_attack(faults.attack);
  if (!attack) return attack.error();
  AttackConfig config;
  config.attack = *attack;
  config.byzantine = faults.byzantine;
  std::sort(config.byzantine.begin(), config.byzantine.end());
  const auto twin = std::adjacent_find(config.byzantine.begin(), config.byzantine.end());
  if (twin != config.byzantine.end()) {
    return config_error("faults.byzantine lists rank {} twice", *twin);
  }
  for (const auto rank : config.byzantine) {
    if (rank < 0 || (ranks > 0 && rank >= ranks)) {
      return config_error("faults.byzantine names rank {}, but the job has ranks 0 to {}", rank,
                          ranks - 1);
    }
  }
  config.sign_flip_scale = faults.sign_flip_scale;
  config.gaussian_sigma = faults.gaussian_sigma;
  config.scaling_factor = faults.scaling_factor;
  config.alie_z = faults.alie_z;
  config.seed = static_cast<std::uint64_t>(seed);
  return config;
}

bool is_byzantine(const AttackConfig& config, std::int64_t rank) {
  return std::binary_search(config.byzantine.begin(), config.byzantine.end(), rank);
}

bool attacks_update(const AttackConfig& config, std::int64_t rank) {
  if (!is_byzantine(config, rank)) return false;
  switch (config.attack) {
    case Attack::kNone:
    case Attack::kLabelFlip:
      return false;
    case Attack::kSignFlip:
    case Attack::kScaling:
    case Attack::kZero:
    case Attack::kGaussian:
    case Attack::kAlie:
      return true;
  }
  return false;
}

void sign_flip(std::span<float> delta, double scale) {
  const auto factor = static_cast<float>(-scale);
  for (auto& value : delta) value = factor * value;
}

void scale_update(std::span<float> delta, double factor) {
  const auto by = static_cast<float>(factor);
  for (auto& value : delta) value = by * value;
}

void gaussian_noise(std::span<float> delta, double sigma, std::uint64_t seed, std::int64_t rank,
                    std::int64_t height) {
  NormalGenerator normal(
      derive_seed(seed, static_cast<std::uint64_t>(rank), static_cast<std::uint64_t>(height)));
  for (auto& value : delta) value = static_cast<float>(sigma * normal.next());
}

Status alie_update(std::span<const std::span<const float>> reference, double z,
                   std::span<float> out) {
  if (reference.empty()) return runtime_error("alie: no reference deltas to take statistics of");
  for (const auto& delta : reference) {
    if (delta.size() != out.size()) {
      return runtime_error("alie: a reference delta has {} values, expected {}", delta.size(),
                           out.size());
    }
  }
  const auto count = static_cast<double>(reference.size());
  for (std::size_t j = 0; j < out.size(); ++j) {
    double sum = 0.0;
    for (const auto& delta : reference) sum += delta[j];
    const double mean = sum / count;
    double squares = 0.0;
    for (const auto& delta : reference) {
      const double diff = delta[j] - mean;
      squares += diff * diff;
    }
    out[j] = static_cast<float>(mean - z * std::sqrt(squares / count));
  }
  return {};
}

Result<double> alie_z_max(std::int64_t n, std::int64_t f) {
  const std::int64_t s = n / 2 + 1 - f;  // workers needed on the attacker's side
  if (n < 1 || s <= 0 || s >= n) {
    return config_error(
        "alie: z_max is undefined for n = {} ranks and f = {} attackers (s = {}); set "
        "faults.alie_z",
        n, f, s);
  }
  return inverse_normal_cdf(static_cast<double>(n - s) / static_cast<double>(n));
}

Status apply_attack(const AttackConfig& config, const AttackContext& context,
                    std::span<float> delta) {
  if (!attacks_update(config, context.rank)) return {};
  switch (config.attack) {
    case Attack::kNone:  // attacks_update is false for these
    case Attack::kLabelFlip:
      return {};
    case Attack::kSignFlip:
      sign_flip(delta, config.sign_flip_scale);
      return {};
    case Attack::kScaling:
      scale_update(delta, config.scaling_factor);
      return {};
    case Attack::kZero:
      std::fill(delta.begin(), delta.end(), 0.0f);
      return {};
    case Attack::kGaussian:
      gaussian_noise(delta, config.gaussian_sigma, config.seed, context.rank, context.height);
      return {};
    case Attack::kAlie: {
      double z = config.alie_z;
      if (z == 0.0) {
        auto z_max = alie_z_max(context.ranks, static_cast<std::int64_t>(config.byzantine.size()));
        if (!z_max) return z_max.error();
        z = *z_max;
      }
      return alie_update(context.colluders, z, delta);
    }
  }
  return {};
}

}  // namespace fedchain::aggregate
