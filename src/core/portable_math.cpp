// Portable transcendental functions (portable_math.hpp). Every operation below is an IEEE
// +, -, *, / or sqrt, or an exact one (frexp, ldexp, floor: exponent arithmetic and
// rounding to an integer), evaluated in the order written: the compiler may not fuse
// (-ffp-contract=off, CMakeLists.txt) nor reassociate (no -ffast-math), so the bits are the
// same on every conforming machine.
#include "fedchain/core/portable_math.hpp"

#include <array>
#include <cmath>
#include <limits>

namespace fedchain {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// ln 2 split so that k * kLn2Hi is exact for |k| < 2^11 (Cody and Waite).
constexpr double kLn2Hi = 6.93147180369123816490e-01;
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kSqrtHalf = 0.70710678118654752440;
constexpr double kTwoOverSqrtPi = 1.12837916709551257390;
constexpr double kLogSqrtPi = 0.57236494292470008707;
constexpr double kLog2 = 0.69314718055994530942;

// 1/n! for n = 0..N-1, rounded once each at compile time (IEEE division, so every compiler
// gets the same constants).
template <int N>
constexpr std::array<double, N> inverse_factorials() {
  std::array<double, N> c{};
  double factorial = 1;
  for (int n = 0; n < N; ++n) {
    if (n > 0) factorial *= n;  // exact up to 22!
    c[n] = 1 / factorial;
  }
  return c;
}

constexpr auto kInvFactorial = inverse_factorials<18>();

// Taylor's polynomial of exp(r) - 1 without its constant: r (1 + r/2 (...)), for |r| < 0.5.
// Degree 16: the first term left out is below 2^-17 / 17! < 1e-19 of the sum.
double expm1_taylor(double r) {
  double p = kInvFactorial[17];
  for (int n = 16; n >= 1; --n) p = p * r + kInvFactorial[n];
  return p * r;
}

// erf(x) for 0 <= x < 1 by its series of positive terms (Abramowitz and Stegun 7.1.6),
// erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1 * 3 * ... * (2n+1)), which cancels
// nothing. 30 terms: the last is below 2^29 / 59!! < 1e-32.
double erf_series(double x) {
  const double x2 = x * x;
  double term = x;
  double sum = x;
  for (int n = 1; n < 30; ++n) {
    term = term * (2 * x2) / (2 * n + 1);
    sum += term;
  }
  return kTwoOverSqrtPi * portable_exp(-x2) * sum;
}

// log erfc(x) for x >= 1 from Laplace's continued fraction (A&S 7.1.14),
// erfc(x) = exp(-x^2) / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))),
// evaluated from the back over a depth that converges to double precision at x (tested
// from 1 to 30 against the exact value).
double log_erfc_fraction(double x) {
  const int depth = 40 + static_cast<int>(400 / (x * x));
  double t = x;
  for (int n = depth; n >= 1; --n) t = x + (0.5 * n) / t;
  return -(x * x) - portable_log(t) - kLogSqrtPi;
}

}  // namespace

double portable_log(double x) {
  if (!(x > 0.0)) return std::numeric_limits<double>::quiet_NaN();
  if (std::isinf(x)) return x;
  // x = m * 2^e with m in [sqrt(1/2), sqrt(2)); frexp and the doubling are exact.
  int e = 0;
  double m = std::frexp(x, &e);
  if (m < kSqrtHalf) {
    m *= 2.0;
    e -= 1;
  }
  // log m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), |s| <= 0.1716, so s^2 <= 0.0295 and
  // 16 terms leave an error far below one ulp.
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  double sum = 0.0;
  for (int k = 15; k >= 0; --k) sum = sum * s2 + 1.0 / static_cast<double>(2 * k + 1);
  const double log_m = 2.0 * s * sum;
  const double de = static_cast<double>(e);
  return (de * kLn2Hi + log_m) + de * kLn2Lo;
}

double portable_exp(double x) {
  if (std::isnan(x)) return x;
  if (x > 709.0) return std::numeric_limits<double>::infinity();
  if (x < -745.0) return 0.0;
  // x = k ln2 + r with |r| <= ln2 / 2; exp(r) by a 22-term Taylor series (|r|^22 / 22! is
  // far below one ulp), then scale by 2^k exactly.
  const double k = std::floor(x / (kLn2Hi + kLn2Lo) + 0.5);
  const double r = (x - k * kLn2Hi) - k * kLn2Lo;
  double sum = 1.0;
  for (int n = 22; n >= 1; --n) sum = 1.0 + sum * r / static_cast<double>(n);
  return std::ldexp(sum, static_cast<int>(k));
}

double portable_log1p(double x) {
  if (x == kInf) return x;
  const double u = 1 + x;
  if (u == 0) return -kInf;
  if (u == 1) return x;
  // Goldberg's correction: log(u) scaled by x / (u - 1) undoes the rounding of 1 + x.
  return portable_log(u) * (x / (u - 1));
}

double portable_expm1(double x) {
  if (x > -0.5 && x < 0.5) return expm1_taylor(x);
  return portable_exp(x) - 1;  // |exp(x) - 1| >= 0.39: no cancellation worth a digit
}

double portable_log_erfc(double x) {
  if (x != x) return x;
  if (x >= 1) return log_erfc_fraction(x);
  if (x >= 0) return portable_log1p(-erf_series(x));
  if (x > -1) return portable_log1p(erf_series(-x));
  if (x == -kInf) return kLog2;
  return portable_log(2 - portable_exp(log_erfc_fraction(-x)));  // erfc(x) = 2 - erfc(-x)
}

void LogBinomials::next() {
  k_ += 1;
  if (sum_ == -kInf) return;  // a zero coefficient: every later one is zero too
  const double n_minus = n_ - (k_ - 1);
  if (n_minus == 0) {
    sum_ = -kInf;
    compensation_ = 0;
    return;
  }
  const double term = portable_log((n_minus < 0 ? -n_minus : n_minus) / k_);
  // Neumaier's compensated sum: a thousand log-size terms add up to within the last bits
  // of the total, not a thousand roundings of it.
  const double total = sum_ + term;
  const bool sum_larger = (sum_ < 0 ? -sum_ : sum_) >= (term < 0 ? -term : term);
  compensation_ += sum_larger ? (sum_ - total) + term : (term - total) + sum_;
  sum_ = total;
}

}  // namespace fedchain
