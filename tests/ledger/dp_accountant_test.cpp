// The RDP accountant against an established library: every expected value below is
// dp_accounting 0.6.0 (PyPI, Google's accounting library behind TensorFlow Privacy), its
// RdpAccountant with default orders:
//   acc = dp_accounting.rdp.RdpAccountant()
//   acc.compose(dp_accounting.SelfComposedDpEvent(dp_accounting.PoissonSampledDpEvent(
//       q, dp_accounting.GaussianDpEvent(z)), steps))
//   acc.get_epsilon_and_optimal_order(delta)
// run once in a throw-away virtual environment (never a dependency of fedchain). Then the
// accountant's portable math against the same computation through libm, at every order.
#include <algorithm>
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "fedchain/ledger/dp_accountant.hpp"

namespace fedchain::ledger {
namespace {

struct Published {
  double q;
  double z;
  std::uint64_t steps;
  double delta;
  double epsilon;
  double order;
};

// The second row is TensorFlow Privacy's MNIST DP-SGD example (60,000 examples, batches of
// 256, noise multiplier 1.1, 60 epochs = 14,062 steps). The (0.1, 1.0) and (0.1, 0.8) rows
// have fractional orders whose series do not converge: both sides leave them out.
constexpr Published kReference[] = {
    {0.01, 1.1, 100, 1e-05, 0.9560911044993916, 10.7},
    {256.0 / 60000.0, 1.1, 14062, 1e-05, 2.5965558697943036, 8.1},
    {1.0, 1.0, 1, 1e-05, 4.728507067217623, 5.4},
    {1.0, 5.0, 10, 1e-06, 3.131089774915035, 8.6},
    {0.1, 1.5, 1000, 1e-05, 13.618537263688015, 2.8},
    {0.1, 1.0, 100, 1e-05, 7.903850223578231, 3.2},
    {0.2, 1.2, 200, 1e-05, 17.357399848943402, 2.3},
    {0.1, 0.8, 200, 1e-05, 17.24570836036361, 2.2},
};

TEST(RdpAccountant, MatchesDpAccounting) {
  for (const auto& row : kReference) {
    const RdpAccountant accountant(row.q, row.z);
    const PrivacySpent spent = accountant.spent(row.steps, row.delta);
    // Within 1e-7 relative: dp_accounting takes log(erfc) through scipy's log_ndtr, fedchain
    // through its portable log_erfc, which differ in the last digits of the fractional
    // orders' terms.
    EXPECT_NEAR(spent.epsilon, row.epsilon, 1e-7 * row.epsilon)
        << "q " << row.q << " z " << row.z << " steps " << row.steps;
    EXPECT_DOUBLE_EQ(spent.order, row.order) << "q " << row.q << " z " << row.z;
  }
}

TEST(RdpAccountant, EpsilonGrowsWithStepsAndFallsWithNoise) {
  const RdpAccountant low(0.1, 1.0);
  const RdpAccountant high(0.1, 2.0);
  double previous = 0;
  for (std::uint64_t steps = 1; steps <= 64; steps *= 2) {
    const double epsilon = low.spent(steps, 1e-5).epsilon;
    EXPECT_GT(epsilon, previous) << steps;
    EXPECT_LT(high.spent(steps, 1e-5).epsilon, epsilon) << steps;
    previous = epsilon;
  }
  EXPECT_EQ(low.spent(0, 1e-5).epsilon, 0.0);
}

TEST(RdpAccountant, NoNoiseSpendsEverything) {
  const RdpAccountant none(0.1, 0.0);
  EXPECT_TRUE(std::isinf(none.spent(1, 1e-5).epsilon));
  EXPECT_EQ(none.first_step_past(8.0, 1e-5, 100), 1u);
}

TEST(RdpAccountant, FirstStepPastTheBudget) {
  const RdpAccountant accountant(0.1, 1.0);
  const std::uint64_t step = accountant.first_step_past(4.0, 1e-5, 1000);
  ASSERT_GT(step, 1u);
  const auto voted = [&](std::uint64_t steps) {
    return epsilon_of_micro(epsilon_micro(accountant.spent(steps, 1e-5).epsilon));
  };
  EXPECT_GT(voted(step), 4.0);
  EXPECT_LE(voted(step - 1), 4.0);
  EXPECT_EQ(accountant.first_step_past(1e6, 1e-5, 1000), 0u);
}

// The RDP of one step as fedchain computed it before its math was portable: the same
// sums through libm's log, log1p, exp, erfc and lgamma. The portable accountant must agree
// with it to far better than dp_accounting's 1e-7 at every order. The bound is absolute, on
// log A_alpha = rdp * (alpha - 1): a fractional order's terms are logs of a product whose
// factors grow like exp(i^2 / 2 sigma^2) and shrink like erfc, so each carries an absolute
// error of some 1e-16 * i^2 / sigma^2 in either implementation, whatever its math library.
// (At q = 0.2, z = 1.2, order 2.3, the worst here, a 50-digit sum of the same terms lies
// 2e-11 from the portable value and 7e-10 from libm's.)
namespace libm {

constexpr double kInf = std::numeric_limits<double>::infinity();

double log_add(double a, double b) {
  const double low = std::min(a, b);
  const double high = std::max(a, b);
  return low == -kInf ? high : std::log1p(std::exp(low - high)) + high;
}

double log_comb(double n, double k) {
  return std::lgamma(n + 1) - std::lgamma(k + 1) - std::lgamma(n - k + 1);
}

double log_erfc(double x) {
  const double r = std::erfc(x);
  if (r > 0) return std::log(r);
  const double x2 = x * x;
  return -std::log(M_PI) / 2 - std::log(x) - x2 - 0.5 / x2 + 0.625 / (x2 * x2);
}

double log_a_int(double q, double sigma, int alpha) {
  double log_a = -kInf;
  for (int i = 0; i <= alpha; ++i) {
    const double coef = log_comb(alpha, i) + i * std::log(q) + (alpha - i) * std::log1p(-q);
    log_a = log_add(log_a, coef + (static_cast<double>(i) * i - i) / (2 * sigma * sigma));
  }
  return log_a;
}

double log_a_frac(double q, double sigma, double alpha) {
  double log_a0 = -kInf;
  double log_a1 = -kInf;
  const double z0 = sigma * sigma * std::log(1 / q - 1) + 0.5;
  double last_s0 = -kInf;
  double last_s1 = -kInf;
  for (int step = 0; step < 1000; ++step) {
    const double i = step;
    const double j = alpha - i;
    const double coef = log_comb(alpha, i);
    const double log_s0 = coef + i * std::log(q) + j * std::log1p(-q) +
                          (i * i - i) / (2 * sigma * sigma) + std::log(0.5) +
                          log_erfc((i - z0) / (std::sqrt(2.0) * sigma));
    const double log_s1 = coef + j * std::log(q) + i * std::log1p(-q) +
                          (j * j - j) / (2 * sigma * sigma) + std::log(0.5) +
                          log_erfc((z0 - j) / (std::sqrt(2.0) * sigma));
    log_a0 = log_add(log_a0, log_s0);
    log_a1 = log_add(log_a1, log_s1);
    const double total = log_add(log_a0, log_a1);
    if (log_s0 < last_s0 && log_s1 < last_s1 && std::max(log_s0, log_s1) < total - 30) {
      return total;
    }
    last_s0 = log_s0;
    last_s1 = log_s1;
  }
  return kInf;
}

double rdp(double q, double sigma, double alpha) {
  const double log_a = alpha == std::floor(alpha) ? log_a_int(q, sigma, static_cast<int>(alpha))
                                                  : log_a_frac(q, sigma, alpha);
  return log_a / (alpha - 1);
}

}  // namespace libm

TEST(RdpAccountant, PortableMathMatchesLibmAtEveryOrder) {
  for (const auto& row : kReference) {
    if (row.q == 1.0) continue;  // closed form, no transcendental
    const RdpAccountant accountant(row.q, row.z);
    const auto& orders = RdpAccountant::orders();
    for (std::size_t k = 0; k < orders.size(); ++k) {
      const double want = libm::rdp(row.q, row.z, orders[k]);
      const double got = accountant.rdp_per_step()[k];
      if (std::isinf(want)) {
        EXPECT_TRUE(std::isinf(got)) << "q " << row.q << " z " << row.z << " order " << orders[k];
        continue;
      }
      EXPECT_NEAR(got * (orders[k] - 1), want * (orders[k] - 1), 1e-9)
          << "q " << row.q << " z " << row.z << " order " << orders[k];
    }
  }
}

// The voted value's bits, as this implementation computes them on any IEEE-754 machine (the
// same from GCC 12 and Clang 14, -O0 and -O3 -march=native): a change here changes every
// privacy chain's state hashes.
TEST(RdpAccountant, EpsilonBitsAreFixed) {
  const PrivacySpent mnist = RdpAccountant(256.0 / 60000.0, 1.1).spent(14062, 1e-5);
  EXPECT_EQ(mnist.epsilon, 0x1.4c5bf157806a4p+1);
  EXPECT_EQ(epsilon_micro(mnist.epsilon), 2596556u);
  EXPECT_EQ(RdpAccountant(0.1, 1.0).spent(100, 1e-5).epsilon, 0x1.f9d8ae9bb00d3p+2);
  EXPECT_EQ(RdpAccountant(0.2, 1.2).spent(200, 1e-5).epsilon, 0x1.15b7e8e76ceaep+4);
}

TEST(EpsilonMicro, RoundsUpAndSaturates) {
  EXPECT_EQ(epsilon_micro(0), 0u);
  EXPECT_EQ(epsilon_micro(-1), 0u);
  EXPECT_EQ(epsilon_micro(1.0), 1000000u);        // exact: not rounded past
  EXPECT_EQ(epsilon_micro(1.0000001), 1000001u);  // a tenth of a millionth more: up
  EXPECT_EQ(epsilon_micro(2.5965558697943036), 2596556u);
  EXPECT_EQ(epsilon_micro(std::numeric_limits<double>::infinity()), kEpsilonMicroUnbounded);
  EXPECT_EQ(epsilon_micro(std::nan("")), kEpsilonMicroUnbounded);
  EXPECT_EQ(epsilon_micro(1e14), kEpsilonMicroUnbounded);  // 10^20 millionths: past 2^64
  EXPECT_LT(epsilon_micro(1.8e13), kEpsilonMicroUnbounded);
  EXPECT_EQ(epsilon_of_micro(kEpsilonMicroUnbounded), std::numeric_limits<double>::infinity());
  EXPECT_EQ(epsilon_of_micro(2596556), 2.596556);
  // The voted value never understates the accountant's.
  const RdpAccountant accountant(0.01, 1.1);
  for (std::uint64_t steps = 1; steps < 2000; steps += 37) {
    const double epsilon = accountant.spent(steps, 1e-5).epsilon;
    EXPECT_GE(epsilon_of_micro(epsilon_micro(epsilon)), epsilon) << steps;
    EXPECT_LT(epsilon_of_micro(epsilon_micro(epsilon)) - epsilon, 1.01e-6) << steps;
  }
}

TEST(SamplingRate, IsTheExactQuotient) {
  EXPECT_EQ(sampling_rate(10, 10), 1.0);
  EXPECT_EQ(sampling_rate(20, 10), 1.0);
  EXPECT_EQ(sampling_rate(256, 60000), 256.0 / 60000.0);
}

}  // namespace
}  // namespace fedchain::ledger
