// CUDA twins of the round path in aggregate/: quantize, dequantize-and-add, the int64
// weighted sum, fedavg, coordinate-wise median and trimmed mean. Each gives the same bits
// as its CPU reference in fedchain/aggregate/ (tests/kernels/aggregate_kernels_test.cpp),
// so a GPU rank and a CPU rank agree on the aggregate and the state root.
//
// Every pointer is a device pointer. Updates are stored row-major, (n, d): update i is
// updates[i * d, (i + 1) * d). Kernels run on the default stream; functions that return a
// value computed on the device wait for it. This header shows no CUDA types.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fedchain/core/error.hpp"
#include "fedchain/kernels/launch.hpp"

namespace fedchain::gpu {

// The rank-sort kernels hold one coordinate's values in registers and local memory.
inline constexpr std::size_t kMaxSortedUpdates = 32;

struct QuantizeCounts {
  std::int64_t clipped = 0;
  std::int64_t nonfinite = 0;
};

// q[j] = clamp(round_half_even(delta[j] * 2^s), -B, B), as aggregate::quantize.
Result<QuantizeCounts> quantize(const float* delta, std::int32_t* q, std::size_t d, int scale_bits,
                                std::int32_t clip_bound, Launch launch = {});

// The same without waiting for the device: adds the counts into device_counts[0] (clipped)
// and device_counts[1] (non-finite), two int64 in device memory that the caller zeroed.
Status quantize_async(const float* delta, std::int32_t* q, std::size_t d, int scale_bits,
                      std::int32_t clip_bound, std::int64_t* device_counts, Launch launch = {});

// theta[j] = theta[j] + float(a[j]) * 2^-s with __int2float_rn, __fmul_rn, __fadd_rn.
Status dequantize_add(float* theta, const std::int32_t* a, std::size_t d, int scale_bits,
                      Launch launch = {});

// sums[j] = sum_i weights[i] * updates[i][j] in int64; `weights` is a host array of n.
// The caller has checked the overflow bound (aggregate::check_bounds).
Status weighted_sum(const std::int32_t* updates, const std::int64_t* weights, std::size_t n,
                    std::size_t d, std::int64_t* sums, Launch launch = {});

// out[j] = divide_round_half_even(sums[j], total_weight): the end of fedavg.
Status divide_round_half_even(const std::int64_t* sums, std::int64_t total_weight, std::size_t d,
                              std::int32_t* out, Launch launch = {});

// The two steps above in one pass (no int64 array in between).
Status fedavg(const std::int32_t* updates, const std::int64_t* weights, std::size_t n,
              std::size_t d, std::int32_t* out, Launch launch = {});

// Coordinate-wise median (even n: the two middle values' mean, halves to even) and
// trimmed mean (drop `trim` values at each end, then the rounded mean), n <= 32.
Status coordinate_median(const std::int32_t* updates, std::size_t n, std::size_t d,
                         std::int32_t* out, Launch launch = {});
Status trimmed_mean(const std::int32_t* updates, std::size_t n, std::size_t d, std::size_t trim,
                    std::int32_t* out, Launch launch = {});

}  // namespace fedchain::gpu
