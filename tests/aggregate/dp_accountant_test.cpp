// The RDP accountant against an established library: every expected value below is
// dp_accounting 0.6.0 (PyPI, Google's accounting library behind TensorFlow Privacy), its
// RdpAccountant with default orders:
//   acc = dp_accounting.rdp.RdpAccountant()
//   acc.compose(dp_accounting.SelfComposedDpEvent(dp_accounting.PoissonSampledDpEvent(
//       q, dp_accounting.GaussianDpEvent(z)), steps))
//   acc.get_epsilon_and_optimal_order(delta)
// run once in a throw-away virtual environment (never a dependency of fedchain).
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "fedchain/aggregate/dp_accountant.hpp"

namespace fedchain::aggregate {
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
    // through libm's erfc, which differ in the last digits of the fractional orders' terms.
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
  EXPECT_GT(accountant.spent(step, 1e-5).epsilon, 4.0);
  EXPECT_LE(accountant.spent(step - 1, 1e-5).epsilon, 4.0);
  EXPECT_EQ(accountant.first_step_past(1e6, 1e-5, 1000), 0u);
}

}  // namespace
}  // namespace fedchain::aggregate
