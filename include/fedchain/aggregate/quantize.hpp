// Fixed-point quantization of a rank's update and the model step that applies an aggregate.
// This is the CPU reference; kernels/quantize.cu is its CUDA twin, and both must give the
// same bits (tests/kernels/quantize_test.cpp).
#pragma once

#include <cstdint>
#include <span>

#include "fedchain/core/error.hpp"

namespace fedchain::aggregate {

struct QuantizeParams {
  int scale_bits = 20;                // s: one unit of q is 2^-s
  std::int32_t clip_bound = 1 << 23;  // B: every q lies in [-B, B]
};

// B = floor(clip * 2^s), refused unless 1 <= B <= 2^31 - 1 (config errors name the keys
// aggregate.clip and aggregate.scale_bits).
Result<QuantizeParams> make_quantize_params(std::int64_t scale_bits, double clip);

// Per-rank counts, reported in the metrics: how much of the update the clip bound cut.
struct QuantizeStats {
  std::int64_t clipped = 0;    // finite coordinates with |round(delta * 2^s)| > B
  std::int64_t nonfinite = 0;  // NaN (quantized to 0) or +-Inf (to +-B)
};

// q[j] = clamp(round_half_even(delta[j] * 2^s), -B, B). delta and q must have one length.
Result<QuantizeStats> quantize(std::span<const float> delta, std::span<std::int32_t> q,
                               const QuantizeParams& params);

// quantize on trained - base, and trained set to base, in one pass: a client's update taken
// straight from its parameters in host memory, which are left where its training started.
// The same bits as the float difference (one IEEE subtraction per value), then quantize.
Result<QuantizeStats> take_quantized_difference(std::span<float> trained,
                                                std::span<const float> base,
                                                std::span<std::int32_t> q,
                                                const QuantizeParams& params);

// theta[j] = theta[j] + float(a[j]) * 2^-s, each operation a single IEEE round-to-nearest
// float operation (docs/aggregation.md says why this is the same on every rank).
Status dequantize_add(std::span<float> theta, std::span<const std::int32_t> a, int scale_bits);

}  // namespace fedchain::aggregate
