// Quantization and the model step, CPU reference. The scalar arithmetic lives in
// fedchain/aggregate/fixed_point.hpp so that the CUDA twin compiles the very same code.
#include "fedchain/aggregate/quantize.hpp"

#include <cmath>

#include "cpu_kernels.hpp"
#include "fedchain/aggregate/fixed_point.hpp"

namespace fedchain::aggregate {

Result<QuantizeParams> make_quantize_params(std::int64_t scale_bits, double clip) {
  if (scale_bits < 0 || scale_bits > fixed::kMaxScaleBits) {
    return config_error("aggregate.scale_bits = {} is out of range: allowed 0 to {}", scale_bits,
                        fixed::kMaxScaleBits);
  }
  if (!(clip > 0.0) || !std::isfinite(clip)) {
    return config_error("aggregate.clip = {} must be a finite number > 0", clip);
  }
  // clip * 2^s is exact in double (a power of two), and floor of it is exact too.
  const double bound = std::floor(clip * fixed::power_of_two(static_cast<int>(scale_bits)));
  if (bound < 1.0) {
    return config_error(
        "aggregate.clip = {} with aggregate.scale_bits = {} gives a clip bound of 0 units "
        "(clip * 2^scale_bits < 1); raise aggregate.clip or aggregate.scale_bits",
        clip, scale_bits);
  }
  if (bound > static_cast<double>(fixed::kMaxClipBound)) {
    return config_error(
        "aggregate.clip * 2^aggregate.scale_bits = {} * 2^{} exceeds 2^31 - 1, the int32 range "
        "of a quantized value; lower aggregate.clip or aggregate.scale_bits",
        clip, scale_bits);
  }
  return QuantizeParams{static_cast<int>(scale_bits), static_cast<std::int32_t>(bound)};
}

namespace {

QuantizeStats counted(std::uint64_t clipped, std::uint64_t nonfinite) {
  QuantizeStats stats;
  stats.clipped = static_cast<std::int64_t>(clipped);
  stats.nonfinite = static_cast<std::int64_t>(nonfinite);
  return stats;
}

}  // namespace

Result<QuantizeStats> quantize(std::span<const float> delta, std::span<std::int32_t> q,
                               const QuantizeParams& params) {
  if (delta.size() != q.size()) {
    return runtime_error("quantize: update has {} values but the output has room for {}",
                         delta.size(), q.size());
  }
  std::uint64_t clipped = 0;
  std::uint64_t nonfinite = 0;
  cpu::kernels().quantize(delta.data(), q.data(), delta.size(),
                          fixed::power_of_two(params.scale_bits), params.clip_bound, &clipped,
                          &nonfinite);
  return counted(clipped, nonfinite);
}

Result<QuantizeStats> take_quantized_difference(std::span<float> trained,
                                                std::span<const float> base,
                                                std::span<std::int32_t> q,
                                                const QuantizeParams& params) {
  if (trained.size() != base.size() || trained.size() != q.size()) {
    return runtime_error(
        "take_quantized_difference: {} trained values, {} base values and room for {}",
        trained.size(), base.size(), q.size());
  }
  std::uint64_t clipped = 0;
  std::uint64_t nonfinite = 0;
  cpu::kernels().take_quantized_difference(trained.data(), base.data(), q.data(), trained.size(),
                                           fixed::power_of_two(params.scale_bits),
                                           params.clip_bound, &clipped, &nonfinite);
  return counted(clipped, nonfinite);
}

Status dequantize_add(std::span<float> theta, std::span<const std::int32_t> a, int scale_bits) {
  if (theta.size() != a.size()) {
    return runtime_error("dequantize_add: model has {} parameters but the aggregate has {}",
                         theta.size(), a.size());
  }
  // 2^-s is exact in float; float(a[j]) rounds to nearest-even when |a[j]| > 2^24; the
  // product by a power of two is exact (no underflow: |a| >= 1 gives >= 2^-30); the sum is
  // one rounding. Built with -ffp-contract=off, and even a fused multiply-add would give
  // the same bits, since the product it would skip rounding is exact.
  cpu::kernels().dequantize_add(theta.data(), a.data(), theta.size(),
                                std::ldexp(1.0f, -scale_bits));
  return {};
}

}  // namespace fedchain::aggregate
