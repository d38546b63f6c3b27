// The portable math against libm: each function over a wide range of arguments, within a
// relative error bound (libm's own error is about 1 ulp, so this bounds ours at about the
// bound plus 1e-16). Then bit patterns fixed by IEEE arithmetic alone: values that must come
// out the same on every machine.
#include "fedchain/core/portable_math.hpp"

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace fedchain {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// |ours - libm's| <= bound * |libm's| at `count` points spread log-uniformly over [low, high]
// (both positive), or linearly when `linear`.
void expect_close(const std::string& name, const std::function<double(double)>& ours,
                  const std::function<double(double)>& reference, double low, double high,
                  double bound, bool linear = false, int count = 20001) {
  double worst = 0;
  double worst_at = low;
  for (int i = 0; i < count; ++i) {
    const double t = static_cast<double>(i) / (count - 1);
    const double x = linear ? low + (high - low) * t : low * std::pow(high / low, t);
    const double want = reference(x);
    const double got = ours(x);
    const double error = want == got ? 0 : std::abs(got - want) / std::abs(want);
    if (!(error <= worst)) {
      worst = error;
      worst_at = x;
    }
  }
  EXPECT_LE(worst, bound) << name << ": worst relative error at x = " << worst_at;
}

// random_test.cpp holds exp and log on a coarse grid; here the edges the accountant reaches:
// log of subnormals and of arguments next to 1, exp into the subnormals.
TEST(PortableMath, ExpAndLogAtTheirEdges) {
  const auto log_ours = [](double x) { return portable_log(x); };
  const auto log_libm = [](double x) { return std::log(x); };
  expect_close("log", log_ours, log_libm, 1e-320, 1e308, 1e-15);
  expect_close("log", log_ours, log_libm, 1 + 1e-15, 1 + 1e-3, 1e-15);
  expect_close("log", log_ours, log_libm, 1 - 1e-3, 1 - 1e-15, 1e-15);
  const auto exp_ours = [](double x) { return portable_exp(x); };
  const auto exp_libm = [](double x) { return std::exp(x); };
  expect_close("exp", exp_ours, exp_libm, 1e-300, 1e-3, 1e-15);
  expect_close(
      "exp", [](double x) { return portable_exp(-x); }, [](double x) { return std::exp(-x); },
      1e-300, 708, 1e-15);
  EXPECT_NEAR(portable_exp(-740), std::exp(-740), 1e-321);  // subnormal: fewer bits
}

TEST(PortableMath, Log1pAndExpm1MatchLibm) {
  const auto log1p_ours = [](double x) { return portable_log1p(x); };
  const auto log1p_libm = [](double x) { return std::log1p(x); };
  expect_close("log1p", log1p_ours, log1p_libm, 1e-300, 1e300, 1e-15);
  expect_close(
      "log1p", [](double x) { return portable_log1p(-x); }, [](double x) { return std::log1p(-x); },
      1e-300, 1 - 1e-12, 1e-15);
  const auto expm1_ours = [](double x) { return portable_expm1(x); };
  const auto expm1_libm = [](double x) { return std::expm1(x); };
  expect_close("expm1", expm1_ours, expm1_libm, 1e-300, 709, 1e-15);
  expect_close(
      "expm1", [](double x) { return portable_expm1(-x); }, [](double x) { return std::expm1(-x); },
      1e-300, 800, 1e-15);
  EXPECT_EQ(portable_log1p(-1), -kInf);
  EXPECT_EQ(portable_expm1(-kInf), -1.0);
}

TEST(PortableMath, LogErfcMatchesLibm) {
  // Where erfc does not underflow, against log(erfc(x)); near 0 against log1p(-erf(x)),
  // which keeps the digits that log(erfc) loses there.
  const auto ours = [](double x) { return portable_log_erfc(x); };
  const auto libm = [](double x) {
    return std::abs(x) < 0.5 ? std::log1p(-std::erf(x)) : std::log(std::erfc(x));
  };
  expect_close("log_erfc", ours, libm, -30, 26, 1e-14, true, 56001);
  expect_close("log_erfc", ours, libm, 1e-300, 0.5, 1e-14);
  expect_close(
      "log_erfc", [](double x) { return portable_log_erfc(-x); },
      [](double x) { return std::log1p(std::erf(x)); }, 1e-300, 0.5, 1e-14);
  // Past where erfc underflows: the asymptotic series, -x^2 - log(x sqrt(pi)) - 1/(2x^2) ...
  for (const double x : {30.0, 100.0, 1e4}) {
    const double x2 = x * x;
    const double asymptotic = -x2 - std::log(x) - 0.5 * std::log(M_PI) - 0.5 / x2 +
                              0.625 / (x2 * x2) - 37.0 / 24.0 / (x2 * x2 * x2);
    EXPECT_NEAR(portable_log_erfc(x), asymptotic, 1e-14 * std::abs(asymptotic)) << x;
  }
  EXPECT_NEAR(portable_log_erfc(-40), std::log(2.0), 1e-16);
}

// Against lgamma in long double: in double, lgamma(1025) - lgamma(1024) alone loses 1e-12.
TEST(PortableMath, LogBinomialsMatchLgamma) {
  for (const double n : {1.1, 2.5, 5.0, 10.9, 63.0, 1024.0}) {
    LogBinomials comb(n);
    for (std::uint32_t k = 0; k <= 1000; ++k, comb.next()) {
      ASSERT_EQ(comb.k(), k);
      if (n == std::floor(n) && k > n) {
        EXPECT_EQ(comb.value(), -kInf) << n << " " << k;
        continue;
      }
      const long double nl = n;
      const auto want = static_cast<double>(std::lgamma(nl + 1) - std::lgamma(k + 1.0L) -
                                            std::lgamma(nl - k + 1));
      EXPECT_NEAR(comb.value(), want, 1e-13 * std::max(1.0, std::abs(want))) << n << " " << k;
    }
  }
}

// Values whose bits follow from IEEE arithmetic alone: if any of these changed, epsilons
// voted by one build would not be the ones another recomputes. The constants are this
// implementation's outputs (the same from GCC 12 and Clang 14, at -O0 and -O3
// -march=native); libm need not reproduce them to the last bit. (random_test.cpp pins
// portable_log's and portable_exp's.)
TEST(PortableMath, BitsAreFixed) {
  EXPECT_EQ(portable_log1p(1e-10), 0x1.b7cdfd9d1d693p-34);
  EXPECT_EQ(portable_log_erfc(2.0), -0x1.575b329b1f516p+2);
  EXPECT_EQ(portable_log_erfc(-1.5), 0x1.5a23d0d71c9f5p-1);
  EXPECT_EQ(portable_expm1(0.25), 0x1.22d78f0fa061ap-2);
}

}  // namespace
}  // namespace fedchain
