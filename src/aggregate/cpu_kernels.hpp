// The aggregation rules' hot loops over one tile of coordinates, compiled twice (for
// x86-64-v3 and x86-64-v4, src/aggregate/cpu_kernels.inc) and chosen once per process by
// fedchain::cpu_level(). Every kernel is integer (or exactly rounded) arithmetic, so both
// copies give the same bits; AVX-512 adds the packed 64-bit multiplies and double <-> int64
// conversions that AVX2 lacks.
//
// The rules split the coordinates over threads a whole tile at a time: each coordinate is
// independent and exact, so the split cannot change a bit of the result either.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fedchain/core/cpu_level.hpp"

namespace fedchain::aggregate::cpu {

// Coordinates processed together: a tile of every update and its sums stay in L1 or L2.
inline constexpr std::size_t kTile = 1024;

inline std::size_t tile_count(std::size_t d) {
  return (d + kTile - 1) / kTile;
}

struct Kernels {
  // sum[j] += weight * row[j] in int64.
  void (*add_weighted)(std::int64_t* sum, std::int64_t weight, const std::int32_t* row,
                       std::size_t width);
  // out[j] = round_half_even(sum[j] / den), for den <= 2^31 and |sum[j]| < den * 2^31.
  void (*divide)(const std::int64_t* sum, std::size_t width, std::int64_t den, std::int32_t* out);
  // Every |sum[j]| < limit.
  bool (*within)(const std::int64_t* sum, std::size_t width, std::int64_t limit);
  // (a[j], b[j]) = (min, max) of the two: one comparator of a sorting network, row-wise.
  void (*compare_swap)(std::int32_t* a, std::int32_t* b, std::size_t width);
  // Some value outside [-bound, bound].
  bool (*any_outside)(const std::int32_t* values, std::size_t width, std::int32_t bound);
  // sum of (a[j] - b[j])^2, for widths short enough that it cannot wrap in uint64.
  std::uint64_t (*squared_distance)(const std::int32_t* a, const std::int32_t* b,
                                    std::size_t width);
  // max |values[j]|.
  std::uint32_t (*max_magnitude)(const std::int32_t* values, std::size_t width);
  // q[j] = fixed::quantize_value(delta[j]) (the same rule in float lanes); counts the
  // clipped and the non-finite values.
  void (*quantize)(const float* delta, std::int32_t* q, std::size_t width, double scale,
                   std::int32_t bound, std::uint64_t* clipped, std::uint64_t* nonfinite);
  // The same on delta[j] = trained[j] - base[j], and trained[j] = base[j], in one pass.
  void (*take_quantized_difference)(float* trained, const float* base, std::int32_t* q,
                                    std::size_t width, double scale, std::int32_t bound,
                                    std::uint64_t* clipped, std::uint64_t* nonfinite);
  // theta[j] += a[j] * step (step a power of two: one rounding).
  void (*dequantize_add)(float* theta, const std::int32_t* a, std::size_t width, float step);
};

// The copies for cpu_level().
const Kernels& kernels();

}  // namespace fedchain::aggregate::cpu
