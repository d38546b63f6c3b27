// Portable transcendental functions (portable_math.hpp). Every operation below is an IEEE
// +, -, *, / or sqrt, or an exact bit manipulation of the exponent, evaluated in the order
// written: the compiler may not fuse (-ffp-contract=off, CMakeLists.txt) nor reassociate
// (no -ffast-math), so the bits are the same on every conforming machine.
#include "fedchain/ledger/portable_math.hpp"

#include <array>
#include <bit>
#include <limits>

namespace fedchain::ledger::portable {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// ln 2 split as fdlibm splits it: the high part's 32 trailing zero bits make k * kLn2Hi
// exact for every |k| < 2^11, the reduction's whole range.
constexpr double kLn2Hi = 6.93147180369123816490e-01;
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kInvLn2 = 1.44269504088896338700e+00;
constexpr double kSqrt2 = 1.41421356237309504880;
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

// 2^k for -1022 <= k <= 1023, built from its bits.
double pow2(int k) {
  return std::bit_cast<double>(static_cast<std::uint64_t>(k + 1023) << 52);
}

// Round to nearest, ties away from zero, for |t| < 2^31.
int nearest_int(double t) {
  return static_cast<int>(t < 0 ? t - 0.5 : t + 0.5);
}

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
  return kTwoOverSqrtPi * exp(-x2) * sum;
}

// log erfc(x) for x >= 1 from Laplace's continued fraction (A&S 7.1.14),
// erfc(x) = exp(-x^2) / sqrt(pi) / (x + (1/2) / (x + 1 / (x + (3/2) / (x + ...)))),
// evaluated from the back over a depth that converges to double precision at x (tested
// from 1 to 30 against the exact value).
double log_erfc_fraction(double x) {
  const int depth = 40 + static_cast<int>(400 / (x * x));
  double t = x;
  for (int n = depth; n >= 1; --n) t = x + (0.5 * n) / t;
  return -(x * x) - log(t) - kLogSqrtPi;
}

}  // namespace

double exp(double x) {
  if (x != x) return x;
  if (x > 709.782712893384) return kInf;  // past log(DBL_MAX)
  if (x < -745.2) return 0;               // below half the smallest subnormal
  // x = k ln2 + r, |r| <= ln2 / 2, with k ln2 subtracted in two exact-enough parts.
  const int k = nearest_int(x * kInvLn2);
  const double r = (x - k * kLn2Hi) - k * kLn2Lo;
  const double p = 1 + expm1_taylor(r);
  if (k > 1023) return p * pow2(k - 1) * 2;
  if (k < -1022) return p * pow2(k + 600) * pow2(-600);  // the last product rounds once
  return p * pow2(k);
}

double log(double x) {
  if (x != x || x < 0) return kNaN;
  if (x == 0) return -kInf;
  if (x == kInf) return x;
  int e = 0;
  if (x < 0x1p-1022) {  // subnormal: scaled up exactly first
    x *= 0x1p54;
    e = -54;
  }
  const auto bits = std::bit_cast<std::uint64_t>(x);
  e += static_cast<int>(bits >> 52) - 1023;
  // x = 2^e m with m in [sqrt(1/2), sqrt(2)); f = m - 1 is exact.
  double m = std::bit_cast<double>((bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
  if (m > kSqrt2) {
    m *= 0.5;
    e += 1;
  }
  const double f = m - 1;
  // log m = 2 atanh(s), s = f / (2 + f), |s| < 0.172: 2 (s + s^3/3 + s^5/5 + ...), 13 terms
  // (s^26 / 27 < 1e-21).
  const double s = f / (2 + f);
  const double s2 = s * s;
  double p = 1.0 / 27;
  for (int n = 12; n >= 1; --n) p = p * s2 + 1.0 / (2 * n + 1);
  const double log_m = 2 * s + 2 * s * (s2 * p);
  return e * kLn2Hi + (log_m + e * kLn2Lo);
}

double log1p(double x) {
  if (x == kInf) return x;
  const double u = 1 + x;
  if (u == 1) return x;
  // Goldberg's correction: log(u) scaled by x / (u - 1) undoes the rounding of 1 + x.
  return log(u) * (x / (u - 1));
}

double expm1(double x) {
  if (x > -0.5 && x < 0.5) return expm1_taylor(x);
  return exp(x) - 1;  // |exp(x) - 1| >= 0.39: no cancellation worth a digit
}

double log_erfc(double x) {
  if (x != x) return x;
  if (x >= 1) return log_erfc_fraction(x);
  if (x >= 0) return log1p(-erf_series(x));
  if (x > -1) return log1p(erf_series(-x));
  if (x == -kInf) return kLog2;
  return log(2 - exp(log_erfc_fraction(-x)));  // erfc(x) = 2 - erfc(-x)
}

void LogBinomials::next() {
  k_ += 1;
  if (sum_ == -kInf) return;  // a zero coefficient: every later one is zero too
  const double n_minus = n_ - (k_ - 1);
  const double term = log((n_minus < 0 ? -n_minus : n_minus) / k_);
  if (term == -kInf) {
    sum_ = term;
    compensation_ = 0;
    return;
  }
  // Neumaier's compensated sum: a thousand log-size terms add up to within the last bits
  // of the total, not a thousand roundings of it.
  const double total = sum_ + term;
  const bool sum_larger = (sum_ < 0 ? -sum_ : sum_) >= (term < 0 ? -term : term);
  compensation_ += sum_larger ? (sum_ - total) + term : (term - total) + sum_;
  sum_ = total;
}

}  // namespace fedchain::ledger::portable
