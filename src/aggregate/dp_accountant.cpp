// The RDP accountant (dp_accountant.hpp). log A_alpha of the sampled Gaussian mechanism
// follows Mironov, Talwar and Zhang 2019: a finite binomial sum for integer orders
// (Section 3.2) and two convergent series of erfc terms for fractional ones (Section 3.3),
// each term in log space, stopped as dp_accounting stops it.
#include "fedchain/aggregate/dp_accountant.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fedchain::aggregate {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kMaxFracTerms = 1000;

double log_add(double a, double b) {
  const double low = std::min(a, b);
  const double high = std::max(a, b);
  if (low == -kInf) return high;
  return std::log1p(std::exp(low - high)) + high;
}

double log_comb(double n, double k) {
  return std::lgamma(n + 1) - std::lgamma(k + 1) - std::lgamma(n - k + 1);
}

// log(erfc(x)), with the asymptotic series where erfc underflows.
double log_erfc(double x) {
  const double r = std::erfc(x);
  if (r > 0) return std::log(r);
  const double x2 = x * x;
  return -std::log(M_PI) / 2 - std::log(x) - x2 - 0.5 / x2 + 0.625 / (x2 * x2) -
         37.0 / 24.0 / (x2 * x2 * x2) + 353.0 / 64.0 / (x2 * x2 * x2 * x2);
}

double log_a_int(double q, double sigma, int alpha) {
  double log_a = -kInf;
  const double log1mq = std::log1p(-q);
  for (int i = 0; i <= alpha; ++i) {
    const double coef = log_comb(alpha, i) + i * std::log(q) + (alpha - i) * log1mq;
    log_a = log_add(log_a, coef + (static_cast<double>(i) * i - i) / (2 * sigma * sigma));
  }
  return log_a;
}

double log_a_frac(double q, double sigma, double alpha) {
  double log_a0 = -kInf;
  double log_a1 = -kInf;
  const double z0 = sigma * sigma * std::log(1 / q - 1) + 0.5;
  const double log1mq = std::log1p(-q);
  double last_s0 = -kInf;
  double last_s1 = -kInf;
  for (int step = 0; step < kMaxFracTerms; ++step) {
    const double i = step;
    const double coef = log_comb(alpha, i);
    const double j = alpha - i;
    const double log_t0 = coef + i * std::log(q) + j * log1mq;
    const double log_t1 = coef + j * std::log(q) + i * log1mq;
    const double log_e0 = std::log(0.5) + log_erfc((i - z0) / (std::sqrt(2.0) * sigma));
    const double log_e1 = std::log(0.5) + log_erfc((z0 - j) / (std::sqrt(2.0) * sigma));
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
  const double log_a = alpha == std::floor(alpha) ? log_a_int(q, sigma, static_cast<int>(alpha))
                                                  : log_a_frac(q, sigma, alpha);
  return log_a / (alpha - 1);
}

}  // namespace

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
  PrivacySpent best{kInf, 0};
  const auto& alphas = orders();
  for (std::size_t k = 0; k < alphas.size(); ++k) {
    const double a = alphas[k];
    const double r = rdp_[k] * static_cast<double>(steps);
    double epsilon = kInf;
    if (r < 0) {
      epsilon = 0;
    } else if (delta * delta + std::expm1(-r) > 0) {
      epsilon = 0;  // bounded through the KL divergence: delta <= sqrt(1 - exp(-KL))
    } else if (a > 1.01) {
      epsilon = r + std::log1p(-1 / a) - std::log(delta * a) / (a - 1);
    }
    if (epsilon < best.epsilon) best = {epsilon, a};
  }
  best.epsilon = std::max(0.0, best.epsilon);
  return best;
}

std::uint64_t RdpAccountant::first_step_past(double target, double delta,
                                             std::uint64_t max_steps) const {
  // epsilon grows with the steps: the first step past the target by bisection.
  if (spent(max_steps, delta).epsilon <= target) return 0;
  std::uint64_t low = 0;  // epsilon(low) <= target (0 steps spend nothing)
  std::uint64_t high = max_steps;
  while (high - low > 1) {
    const std::uint64_t mid = low + (high - low) / 2;
    (spent(mid, delta).epsilon > target ? high : low) = mid;
  }
  return high;
}

}  // namespace fedchain::aggregate
