// Portable random draws (include/fedchain/core/random.hpp): every step is written out so
// that the sequence depends only on the seed and IEEE-754 arithmetic.
#include "fedchain/core/random.hpp"

#include <cmath>
#include <limits>
#include <utility>

namespace fedchain {

namespace {

// ln 2 split so that k * kLn2Hi is exact for |k| < 2^11 (Cody and Waite).
constexpr double kLn2Hi = 6.93147180369123816490e-01;
constexpr double kLn2Lo = 1.90821492927058770002e-10;
constexpr double kSqrtHalf = 0.70710678118654752440;

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t rank, std::uint64_t round) {
  return splitmix64(splitmix64(splitmix64(seed) ^ rank) ^ round);
}

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

double SeededRandom::uniform_open01() {
  constexpr double kTwoPowMinus53 = 1.0 / 9007199254740992.0;
  return (static_cast<double>(next_u64() >> 11) + 0.5) * kTwoPowMinus53;
}

std::uint64_t SeededRandom::below(std::uint64_t n) {
  // Accept x only below the largest multiple of n that fits in 2^64.
  const std::uint64_t rejected = (std::numeric_limits<std::uint64_t>::max() % n + 1) % n;
  const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - rejected;
  for (;;) {
    const std::uint64_t x = next_u64();
    if (x <= limit) return x % n;
  }
}

double SeededRandom::normal() {
  for (;;) {
    const double u = 2.0 * uniform_open01() - 1.0;
    const double v = 2.0 * uniform_open01() - 1.0;
    const double s = u * u + v * v;
    if (s >= 1.0 || s == 0.0) continue;
    return u * std::sqrt(-2.0 * portable_log(s) / s);
  }
}

double SeededRandom::log_gamma_variate(double shape) {
  const bool boost = shape < 1.0;
  const double a = boost ? shape + 1.0 : shape;
  const double d = a - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  double log_value = 0.0;
  for (;;) {
    const double x = normal();
    double v = 1.0 + c * x;
    if (v <= 0.0) continue;
    v = v * v * v;
    const double u = uniform_open01();
    const double x2 = x * x;
    // The squeeze accepts most draws without a log.
    if (u < 1.0 - 0.0331 * x2 * x2 ||
        portable_log(u) < 0.5 * x2 + d * (1.0 - v + portable_log(v))) {
      log_value = portable_log(d * v);
      break;
    }
  }
  if (boost) log_value += portable_log(uniform_open01()) / shape;
  return log_value;
}

void SeededRandom::shuffle(std::span<std::int64_t> items) {
  for (std::size_t i = items.size(); i > 1; --i) {
    const std::size_t j = static_cast<std::size_t>(below(i));
    std::swap(items[i - 1], items[j]);
  }
}

}  // namespace fedchain
