// The RDP accountant (dp_accountant.hpp). log A_alpha of the sampled Gaussian mechanism
// follows Mironov, Talwar and Zhang 2019: a finite binomial sum for integer orders
// (Section 3.2) and two convergent series of erfc terms for fractional ones (Section 3.3),
// each term in log space, stopped as dp_accounting stops it. Transcendentals are
// core/portable_math.hpp's, so the result is the same bits on every IEEE-754 machine.
#include "fedchain/ledger/dp_accountant.hpp"

#include <algorithm>
#include <cmath>

#include "fedchain/core/portable_math.hpp"

namespace fedchain::ledger {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kLogHalf = -0.69314718055994530942;
constexpr int kMaxFracTerms = 1000;

double log_add(double a, double b) {
  const double low = std::min(a, b);
  const double high = std::max(a, b);
  if (low == -kInf) return high;
  return portable_log1p(portable_exp(low - high)) + high;
}

double log_a_int(double q, double sigma, int alpha) {
  double log_a = -kInf;
  const double log_q = portable_log(q);
  const double log1mq = portable_log1p(-q);
  LogBinomials comb(alpha);
  for (int i = 0; i <= alpha; ++i, comb.next()) {
    const double coef = comb.value() + i * log_q + (alpha - i) * log1mq;
    log_a = log_add(log_a, coef + (static_cast<double>(i) * i - i) / (2 * sigma * sigma));
  }
  return log_a;
}

double log_a_frac(double q, double sigma, double alpha) {
  double log_a0 = -kInf;
  double log_a1 = -kInf;
  const double z0 = sigma * sigma * portable_log(1 / q - 1) + 0.5;
  const double log_q = portable_log(q);
  const double log1mq = portable_log1p(-q);
  const double erfc_scale = std::sqrt(2.0) * sigma;  // sqrt: IEEE, correctly rounded
  double last_s0 = -kInf;
  double last_s1 = -kInf;
  LogBinomials comb(alpha);
  for (int step = 0; step < kMaxFracTerms; ++step, comb.next()) {
    const double i = step;
    const double j = alpha - i;
    const double log_t0 = comb.value() + i * log_q + j * log1mq;
    const double log_t1 = comb.value() + j * log_q + i * log1mq;
    const double log_e0 = kLogHalf + portable_log_erfc((i - z0) / erfc_scale);
    const double log_e1 = kLogHalf + portable_log_erfc((z0 - j) / erfc_scale);
    const double log_s0 = log_t0 + (i * i - i) / (2 * sigma * sigma) + log_e0;
    const double log_s1 = log_t1 + (j * j - j) / (2 * sigma * sigma) + log_e1;
    log_a0 = log_add(log_a0, log_s0);
    log_a1 = log_add(log_a1, log_s1);
    const double total = log_add(log_a0, log_a1);
    if (log_s0 < last_s0 && log_s1 < last_s1 && std::max(log_s0, log_s1) < total - 30) {
      return total;
    }
    last_s0 = log_s0;
    last_s1 = log_s1;
  }
  return kInf;  // did not converge: the order is left out
}

double rdp_one_step(double q, double sigma, double alpha) {
  if (q == 0) return 0;
  if (sigma == 0) return kInf;
  if (q == 1) return alpha / (2 * sigma * sigma);
  const auto integer = static_cast<int>(alpha);  // the orders are below 2^31
  const double log_a =
      alpha == integer ? log_a_int(q, sigma, integer) : log_a_frac(q, sigma, alpha);
  return log_a / (alpha - 1);
}

}  // namespace

double sampling_rate(std::uint64_t sampled, std::uint64_t clients) {
  if (clients == 0 || sampled >= clients) return 1.0;
  return static_cast<double>(sampled) / static_cast<double>(clients);
}

const std::vector<double>& RdpAccountant::orders() {
  static const std::vector<double> list = [] {
    std::vector<double> out;
    for (int x = 1; x < 100; ++x) out.push_back(1 + x / 10.0);
    for (int a = 11; a < 64; ++a) out.push_back(a);
    for (const double a : {128.0, 256.0, 512.0, 1024.0}) out.push_back(a);
    return out;
  }();
  return list;
}

RdpAccountant::RdpAccountant(double sampling_rate, double noise_multiplier) {
  for (const double alpha : orders()) {
    rdp_.push_back(rdp_one_step(sampling_rate, noise_multiplier, alpha));
  }
}

PrivacySpent RdpAccountant::spent(std::uint64_t steps, double delta) const {
  if (steps == 0) return {0, 0};  // nothing released yet, even without noise (0 * inf RDP)
  PrivacySpent best{kInf, 0};
  const auto& alphas = orders();
  for (std::size_t k = 0; k < alphas.size(); ++k) {
    const double a = alphas[k];
    const double r = rdp_[k] * static_cast<double>(steps);
    double epsilon = kInf;
    if (r < 0) {
      epsilon = 0;
    } else if (delta * delta + portable_expm1(-r) > 0) {
      epsilon = 0;  // bounded through the KL divergence: delta <= sqrt(1 - exp(-KL))
    } else if (a > 1.01) {
      epsilon = r + portable_log1p(-1 / a) - portable_log(delta * a) / (a - 1);
    }
    if (epsilon < best.epsilon) best = {epsilon, a};
  }
  best.epsilon = std::max(0.0, best.epsilon);
  return best;
}

std::uint64_t RdpAccountant::first_step_past(double target, double delta,
                                             std::uint64_t max_steps) const {
  // epsilon grows with the steps: the first step past the target by bisection, on the
  // voted value (rounded up to millionths), the one verify holds against the budget.
  const auto past = [&](std::uint64_t steps) {
    return epsilon_of_micro(epsilon_micro(spent(steps, delta).epsilon)) > target;
  };
  if (!past(max_steps)) return 0;
  std::uint64_t low = 0;  // epsilon(low) <= target (0 steps spend nothing)
  std::uint64_t high = max_steps;
  while (high - low > 1) {
    const std::uint64_t mid = low + (high - low) / 2;
    (past(mid) ? high : low) = mid;
  }
  return high;
}

std::uint64_t epsilon_micro(double epsilon) {
  const double scaled = epsilon * 1e6;
  if (!(scaled < 0x1p64)) return kEpsilonMicroUnbounded;  // +inf, NaN, or past 2^64
  if (scaled <= 0) return 0;
  auto micro = static_cast<std::uint64_t>(scaled);  // truncation: exact
  if (static_cast<double>(micro) < scaled) micro += 1;
  return micro;
}

double epsilon_of_micro(std::uint64_t micro) {
  if (micro == kEpsilonMicroUnbounded) return kInf;
  return static_cast<double>(micro) / 1e6;
}

}  // namespace fedchain::ledger
