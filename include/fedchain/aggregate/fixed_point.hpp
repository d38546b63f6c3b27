// The scalar arithmetic of the fixed-point round path, in one place for the CPU and the
// CUDA kernels (nvcc compiles this same header for the device). Every operation here is
// exact or an IEEE-754 round-to-nearest-even operation on exactly representable inputs,
// so each rank, compiler and device gets the same bits (DESIGN.md, invariant 1).
// docs/aggregation.md, "Fixed point", says why each step is exact.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define FEDCHAIN_HOST_DEVICE __host__ __device__
#else
#define FEDCHAIN_HOST_DEVICE
#endif

namespace fedchain::fixed {

// The largest clip bound: quantized values and their negations fit in int32.
inline constexpr std::int32_t kMaxClipBound = 2147483647;
inline constexpr int kMaxScaleBits = 30;

// What happened to one coordinate when it was quantized.
enum QuantizeOutcome : std::uint32_t {
  kInRange = 0,    // round(delta * 2^s) was within [-B, B]
  kClipped = 1,    // finite, but outside [-B, B]: clamped
  kNonFinite = 2,  // NaN (-> 0) or +-Inf (-> +-B)
};

struct QuantizedValue {
  std::int32_t value;
  std::uint32_t outcome;  // a QuantizeOutcome
};

// 2^s as a double, exactly (0 <= s <= 30).
FEDCHAIN_HOST_DEVICE inline double power_of_two(int scale_bits) {
  return static_cast<double>(std::int64_t{1} << scale_bits);
}

// q = clamp(round_half_even(delta * 2^s), -B, B).
// - delta * 2^s is computed in double: a float has 24 significant bits and a double 53, and
//   multiplying by a power of two changes only the exponent, so the product is exact (no
//   overflow: |delta| < 2^128, 2^s <= 2^30), and so is the same on every machine.
// - Rounding is done by hand (truncate, look at the exact remainder) rather than with rint,
//   so it does not depend on the floating-point rounding mode.
// - NaN becomes 0 (it has no direction); +-Inf becomes +-B. Both count as non-finite.
FEDCHAIN_HOST_DEVICE inline QuantizedValue quantize_value(float delta, double scale,
                                                          std::int32_t bound) {
  const double x = static_cast<double>(delta) * scale;
  if (x != x) return {0, kNonFinite};
  constexpr double kMaxFinite = 1.7976931348623157e308;
  const double limit = static_cast<double>(bound) + 1.0;  // exact: bound < 2^31
  if (x >= limit) return {bound, x > kMaxFinite ? kNonFinite : kClipped};
  if (x <= -limit) return {-bound, x < -kMaxFinite ? kNonFinite : kClipped};
  // |x| < 2^31 + 1: truncation to int64 is exact, and so is the remainder x - t.
  std::int64_t t = static_cast<std::int64_t>(x);
  const double remainder = x - static_cast<double>(t);
  if (remainder > 0.5 || (remainder == 0.5 && (t & 1) != 0)) {
    ++t;
  } else if (remainder < -0.5 || (remainder == -0.5 && (t & 1) != 0)) {
    --t;
  }
  if (t > bound) return {bound, kClipped};
  if (t < -bound) return {-bound, kClipped};
  return {static_cast<std::int32_t>(t), kInRange};
}

// num / den rounded to the nearest integer, halves to the even one; den > 0.
// Written without 2 * remainder, which could overflow for den near 2^63.
FEDCHAIN_HOST_DEVICE inline std::int64_t divide_round_half_even(std::int64_t num,
                                                                std::int64_t den) {
  std::int64_t quotient = num / den;  // truncates toward zero
  const std::int64_t remainder = num % den;
  const std::int64_t magnitude = remainder < 0 ? -remainder : remainder;
  const std::int64_t rest = den - magnitude;
  if (magnitude > rest || (magnitude == rest && (quotient & 1) != 0)) {
    quotient += num < 0 ? -1 : 1;
  }
  return quotient;
}

}  // namespace fedchain::fixed
