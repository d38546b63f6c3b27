// The scalar arithmetic of the fixed-point round path, in one place for the CPU and the
// CUDA kernels (nvcc compiles this same header for the device). Every operation here is
// exact or an IEEE-754 round-to-nearest-even operation on exactly representable inputs,
// so each rank, compiler and device gets the same bits (docs/architecture.md, invariant 1).
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

// q = clamp(round_half_even(delta * 2^s), -B, B), one value at a time, as the CUDA kernels
// run it. The CPU kernels compute the same rule in float lanes (src/aggregate/cpu_kernels.inc);
// quantize_test holds both and a long-double reference to the same bits.
// - delta * 2^s is computed in double: a float has 24 significant bits and a double 53, and
//   multiplying by a power of two changes only the exponent, so the product is exact (no
//   overflow: |delta| < 2^128, 2^s <= 2^30), and so is the same on every machine.
// - Rounding is done by hand (truncate, look at the exact remainder) rather than with rint,
//   so it does not depend on the floating-point rounding mode.
// - NaN becomes 0 (it has no direction); +-Inf becomes +-B. Both count as non-finite.
// Written with selects rather than branches: random data makes branches mispredict, and
// the GPU runs it without divergence.
FEDCHAIN_HOST_DEVICE inline QuantizedValue quantize_value(float delta, double scale,
                                                          std::int32_t bound) {
  // The flags are int64 (0 or 1) rather than bool so that a loop over this vectorizes.
  const double x = static_cast<double>(delta) * scale;
  const std::int64_t nan = x != x;
  constexpr double kMaxFinite = 1.7976931348623157e308;
  const std::int64_t nonfinite = nan | (x > kMaxFinite) | (x < -kMaxFinite);
  // Pull x into [-(B + 1), B + 1] (NaN to 0) so that the conversion below is exact and
  // defined; B + 1 rounds beyond B and is clipped, as anything larger would be.
  const double limit = static_cast<double>(bound) + 1.0;  // exact: bound < 2^31
  double clamped = x > limit ? limit : x;
  clamped = clamped < -limit ? -limit : clamped;
  clamped = nan ? 0.0 : clamped;
#if defined(__CUDA_ARCH__)
  // The device's rint (cvt.rni) rounds half to even with the rounding fixed in the
  // instruction, not taken from a mode: the same integer as the host's steps below.
  std::int64_t t = static_cast<std::int64_t>(rint(clamped));
#else
  // |clamped| <= 2^31: truncation to int64 is exact, and so is the remainder.
  std::int64_t t = static_cast<std::int64_t>(clamped);
  const double remainder = clamped - static_cast<double>(t);
  const std::int64_t odd = t & 1;
  const std::int64_t up = (remainder > 0.5) | ((remainder == 0.5) & odd);
  const std::int64_t down = (remainder < -0.5) | ((remainder == -0.5) & odd);
  t += up - down;
#endif
  const std::int64_t b = bound;
  const std::int64_t clipped = (t > b) | (t < -b);
  t = t > b ? b : t;
  t = t < -b ? -b : t;
  const std::int64_t outcome = nonfinite ? kNonFinite : (clipped ? kClipped : kInRange);
  return {static_cast<std::int32_t>(t), static_cast<std::uint32_t>(outcome)};
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

// divide_round_half_even by one den for many numerators, without a hardware 64-bit
// division per value (tens of cycles on a CPU, a long emulated sequence on a GPU). A
// double-precision estimate of the quotient is corrected with exact integer steps until
// the remainder is in [0, den), so the result is exact whatever the estimate's rounding.
struct RoundingDivider {
  std::int64_t den = 1;
  double inverse = 1.0;

  FEDCHAIN_HOST_DEVICE explicit RoundingDivider(std::int64_t divisor)
      : den(divisor), inverse(1.0 / static_cast<double>(divisor)) {}

  FEDCHAIN_HOST_DEVICE std::int64_t operator()(std::int64_t num) const {
    // Outside these bounds q * den below could overflow: take the plain division.
    constexpr std::int64_t kMaxNum = std::int64_t{1} << 62;
    if (den > (std::int64_t{1} << 31) || num > kMaxNum || num < -kMaxNum) {
      return divide_round_half_even(num, den);
    }
    // |num / den| <= 2^62 and the estimate is within 3 * 2^-53 of it relatively, so q is
    // within 1537 of floor(num / den) and |q * den| < 2^63; for |num / den| < 2^31, as in
    // every rule here, q is off by at most one.
    std::int64_t q = static_cast<std::int64_t>(static_cast<double>(num) * inverse);
    std::int64_t r = num - q * den;
    while (r < 0) {
      --q;
      r += den;
    }
    while (r >= den) {
      ++q;
      r -= den;
    }
    // q = floor(num / den), r in [0, den): up when r > den / 2, or at a half when q is odd.
    const std::int64_t rest = den - r;
    return q + (((r > rest) | ((r == rest) & ((q & 1) != 0))) ? 1 : 0);
  }
};

}  // namespace fedchain::fixed
