// Portable random draws (include/fedchain/core/random.hpp): every step is written out so
// that the sequence depends only on the seed and IEEE-754 arithmetic.
#include "fedchain/core/random.hpp"

#include "fedchain/core/portable_math.hpp"

#include <cmath>
#include <limits>
#include <utility>

namespace fedchain {

namespace {

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
