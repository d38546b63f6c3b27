// The round path on the GPU: quantize, dequantize-and-add, int64 weighted sums, fedavg,
// coordinate-wise median and trimmed mean. Bit-exact twins of src/aggregate/: the scalar
// arithmetic is the same header (fedchain/aggregate/fixed_point.hpp), float steps use
// explicit round-to-nearest intrinsics, and integer sums are exact in any order.
// defines: quantize, dequantize_add, weighted_sum, divide_round_half_even, fedavg,
//          coordinate_median, trimmed_mean (fedchain/kernels/aggregate.hpp)
#include <cuda_runtime.h>

#include <climits>
#include <cstdint>

#include "fedchain/aggregate/fixed_point.hpp"
#include "fedchain/kernels/aggregate.hpp"
#include "launch.cuh"

namespace fedchain::gpu {

namespace {

// Weights travel as a kernel argument: no copy to the device, no synchronization. Larger
// n is summed in batches of this many rows.
constexpr std::size_t kRowsPerLaunch = 64;
struct RowWeights {
  std::int64_t weight[kRowsPerLaunch];
};

// Kernels that stream whole arrays visit four consecutive values per step with 16-byte
// loads and stores where the pointers allow it (16-byte aligned; for (n, d) rows also d a
// multiple of 4), which is what lets them keep up with a device-to-device copy. The
// values left over, or all of them otherwise, are visited one at a time.
bool aligned(const void* pointer) {
  return reinterpret_cast<std::uintptr_t>(pointer) % 16 == 0;
}

struct Counts {
  unsigned long long clipped = 0;
  unsigned long long nonfinite = 0;
  __device__ std::int32_t add(fixed::QuantizedValue quantized) {
    clipped += quantized.outcome == fixed::kClipped ? 1 : 0;
    nonfinite += quantized.outcome == fixed::kNonFinite ? 1 : 0;
    return quantized.value;
  }
};

__global__ void quantize_kernel(const float* delta, std::int32_t* q, std::size_t d, double scale,
                                std::int32_t bound, unsigned long long* counts, bool by_four) {
  Counts local;
  std::size_t done = 0;
  if (by_four) {
    const std::size_t groups = d / 4;
    for (std::size_t g = first_index(); g < groups; g += grid_stride()) {
      const float4 v = reinterpret_cast<const float4*>(delta)[g];
      reinterpret_cast<int4*>(q)[g] =
          make_int4(local.add(fixed::quantize_value(v.x, scale, bound)),
                    local.add(fixed::quantize_value(v.y, scale, bound)),
                    local.add(fixed::quantize_value(v.z, scale, bound)),
                    local.add(fixed::quantize_value(v.w, scale, bound)));
    }
    done = 4 * groups;
  }
  for (std::size_t j = done + first_index(); j < d; j += grid_stride()) {
    q[j] = local.add(fixed::quantize_value(delta[j], scale, bound));
  }
  // Counts are integers: the sum is the same whatever order the atomics land in.
  if (local.clipped != 0) atomicAdd(&counts[0], local.clipped);
  if (local.nonfinite != 0) atomicAdd(&counts[1], local.nonfinite);
}

// The CPU reference's three operations, each rounded to nearest and never fused.
__device__ float dequantize_add_one(float theta, std::int32_t a, float step) {
  return __fadd_rn(theta, __fmul_rn(__int2float_rn(a), step));
}

__global__ void dequantize_add_kernel(float* theta, const std::int32_t* a, std::size_t d,
                                      float step, bool by_four) {
  std::size_t done = 0;
  if (by_four) {
    const std::size_t groups = d / 4;
    for (std::size_t g = first_index(); g < groups; g += grid_stride()) {
      float4 t = reinterpret_cast<const float4*>(theta)[g];
      const int4 v = reinterpret_cast<const int4*>(a)[g];
      t.x = dequantize_add_one(t.x, v.x, step);
      t.y = dequantize_add_one(t.y, v.y, step);
      t.z = dequantize_add_one(t.z, v.z, step);
      t.w = dequantize_add_one(t.w, v.w, step);
      reinterpret_cast<float4*>(theta)[g] = t;
    }
    done = 4 * groups;
  }
  for (std::size_t j = done + first_index(); j < d; j += grid_stride()) {
    theta[j] = dequantize_add_one(theta[j], a[j], step);
  }
}

// sum += sum_i weight_i * rows[i][j] for one coordinate j.
__device__ std::int64_t weighted_row_sum(const std::int32_t* rows, const RowWeights& weights,
                                         int count, std::size_t d, std::size_t j,
                                         std::int64_t sum) {
#pragma unroll 8
  for (int i = 0; i < count; ++i) {
    sum += weights.weight[i] * static_cast<std::int64_t>(rows[i * d + j]);
  }
  return sum;
}

// The same for the four coordinates 4g..4g+3, with one 16-byte load per row (d % 4 == 0).
__device__ void weighted_row_sum4(const std::int32_t* rows, const RowWeights& weights, int count,
                                  std::size_t d, std::size_t g, std::int64_t (&sum)[4]) {
  const std::size_t row_groups = d / 4;
#pragma unroll 8
  for (int i = 0; i < count; ++i) {
    const int4 v = reinterpret_cast<const int4*>(rows)[i * row_groups + g];
    const std::int64_t w = weights.weight[i];
    sum[0] += w * v.x;
    sum[1] += w * v.y;
    sum[2] += w * v.z;
    sum[3] += w * v.w;
  }
}

__global__ void weighted_sum_kernel(const std::int32_t* rows, RowWeights weights, int count,
                                    std::size_t d, std::int64_t* sums, bool accumulate,
                                    bool by_four) {
  if (by_four) {
    for (std::size_t g = first_index(); g < d / 4; g += grid_stride()) {
      auto* out = reinterpret_cast<longlong2*>(sums) + 2 * g;
      std::int64_t sum[4] = {0, 0, 0, 0};
      if (accumulate) {
        const longlong2 low = out[0], high = out[1];
        sum[0] = low.x;
        sum[1] = low.y;
        sum[2] = high.x;
        sum[3] = high.y;
      }
      weighted_row_sum4(rows, weights, count, d, g, sum);
      out[0] = make_longlong2(sum[0], sum[1]);
      out[1] = make_longlong2(sum[2], sum[3]);
    }
    return;
  }
  for (std::size_t j = first_index(); j < d; j += grid_stride()) {
    sums[j] = weighted_row_sum(rows, weights, count, d, j, accumulate ? sums[j] : 0);
  }
}

__global__ void divide_kernel(const std::int64_t* sums, fixed::RoundingDivider divide,
                              std::size_t d, std::int32_t* out) {
  for (std::size_t j = first_index(); j < d; j += grid_stride()) {
    out[j] = static_cast<std::int32_t>(divide(sums[j]));
  }
}

__global__ void fedavg_kernel(const std::int32_t* rows, RowWeights weights, int count,
                              fixed::RoundingDivider divide, std::size_t d, std::int32_t* out,
                              bool by_four) {
  if (by_four) {
    for (std::size_t g = first_index(); g < d / 4; g += grid_stride()) {
      std::int64_t sum[4] = {0, 0, 0, 0};
      weighted_row_sum4(rows, weights, count, d, g, sum);
      reinterpret_cast<int4*>(out)[g] = make_int4(
          static_cast<std::int32_t>(divide(sum[0])), static_cast<std::int32_t>(divide(sum[1])),
          static_cast<std::int32_t>(divide(sum[2])), static_cast<std::int32_t>(divide(sum[3])));
    }
    return;
  }
  for (std::size_t j = first_index(); j < d; j += grid_stride()) {
    out[j] = static_cast<std::int32_t>(divide(weighted_row_sum(rows, weights, count, d, j, 0)));
  }
}

__host__ __device__ constexpr int padded_size(int n) {
  return n <= 1 ? 1 : 2 * padded_size((n + 1) / 2);
}

// Sorts N values held in registers with Batcher's odd-even merge sort: the network for the
// next power of two P, less the comparators that reach past N (every comparator puts the
// smaller value at the lower index, so values padded on at the top would never move).
// With N a template parameter the loops unroll completely and every condition is decided
// at compile time: the sort is a straight line of min/max pairs on registers.
template <int N>
__device__ void odd_even_merge_sort(std::int32_t (&v)[padded_size(N)]) {
  constexpr int P = padded_size(N);
#pragma unroll
  for (int p = 1; p < P; p <<= 1) {
#pragma unroll
    for (int k = p; k >= 1; k >>= 1) {
      // Stage (p, k) compares low with low + k where low - k % p is in [0, k) modulo 2k,
      // both in the same block of 2p (the usual j, i double loop, as one loop over low).
#pragma unroll
      for (int low = 0; low < P; ++low) {
        const int high = low + k;
        const int offset = low - k % p;
        if (offset >= 0 && offset % (2 * k) < k && high < N && low / (2 * p) == high / (2 * p)) {
          const std::int32_t smaller = min(v[low], v[high]);
          v[high] = max(v[low], v[high]);
          v[low] = smaller;
        }
      }
    }
  }
}

// The rounded mean of sorted positions first..last of each coordinate's N values: the
// median (the middle position, or the two middle ones; known at compile time) or the
// trimmed mean (positions trim..N-1-trim). 1024 threads must fit even at N = 32.
template <int N, bool kMedian>
__global__ void __launch_bounds__(1024)
    sorted_rule_kernel(const std::int32_t* rows, std::size_t d, int first, int last,
                       fixed::RoundingDivider divide, std::int32_t* out) {
  for (std::size_t j = first_index(); j < d; j += grid_stride()) {
    std::int32_t v[padded_size(N)];
#pragma unroll
    for (int i = 0; i < N; ++i) v[i] = rows[i * d + j];
    odd_even_merge_sort<N>(v);
    std::int64_t sum = 0;
    if (kMedian) {
      sum = std::int64_t{v[(N - 1) / 2]} + (N % 2 == 0 ? v[N / 2] : 0);
    } else {
#pragma unroll
      for (int i = 0; i < N; ++i) sum += (i >= first && i <= last) ? v[i] : 0;
    }
    out[j] = static_cast<std::int32_t>(divide(sum));
  }
}

// Launches the kernel instantiated for exactly n updates (N counts up to n).
template <int N>
void launch_sorted_rule(std::size_t n, bool median, unsigned grid, unsigned threads,
                        const std::int32_t* rows, std::size_t d, int first, int last,
                        fixed::RoundingDivider divide, std::int32_t* out) {
  if constexpr (N <= static_cast<int>(kMaxSortedUpdates)) {
    if (n != N) {
      launch_sorted_rule<N + 1>(n, median, grid, threads, rows, d, first, last, divide, out);
    } else if (median) {
      sorted_rule_kernel<N, true><<<grid, threads>>>(rows, d, first, last, divide, out);
    } else {
      sorted_rule_kernel<N, false><<<grid, threads>>>(rows, d, first, last, divide, out);
    }
  }
}

// Rounded mean of sorted positions first..last of each coordinate's n values.
Status sorted_rule(const std::int32_t* updates, std::size_t n, std::size_t d, int first, int last,
                   bool median, std::int32_t* out, const Launch& launch) {
  if (auto status = check_launch(launch); !status) return status;
  if (n < 1 || n > kMaxSortedUpdates) {
    return runtime_error("median and trimmed mean kernels take 1 to {} updates, got {}",
                         kMaxSortedUpdates, n);
  }
  if (d == 0) return {};
  launch_sorted_rule<1>(n, median, grid_for(launch, d), static_cast<unsigned>(launch.block_size),
                        updates, d, first, last, fixed::RoundingDivider(last - first + 1), out);
  return launch_status(median ? "coordinate_median" : "trimmed_mean");
}

RowWeights batch_weights(const std::int64_t* weights, std::size_t first, std::size_t count) {
  RowWeights batch{};
  for (std::size_t i = 0; i < count; ++i) batch.weight[i] = weights[first + i];
  return batch;
}

}  // namespace

Status quantize_async(const float* delta, std::int32_t* q, std::size_t d, int scale_bits,
                      std::int32_t clip_bound, std::int64_t* device_counts, Launch launch) {
  if (auto status = check_launch(launch); !status) return status;
  if (scale_bits < 0 || scale_bits > fixed::kMaxScaleBits || clip_bound < 1) {
    return runtime_error("quantize: scale_bits {} or clip bound {} out of range", scale_bits,
                         clip_bound);
  }
  if (d == 0) return {};
  const bool by_four = aligned(delta) && aligned(q);
  static_assert(sizeof(unsigned long long) == sizeof(std::int64_t));
  quantize_kernel<<<grid_for(launch, by_four ? (d + 3) / 4 : d),
                    static_cast<unsigned>(launch.block_size)>>>(
      delta, q, d, fixed::power_of_two(scale_bits), clip_bound,
      reinterpret_cast<unsigned long long*>(device_counts), by_four);
  return launch_status("quantize");
}

Result<QuantizeCounts> quantize(const float* delta, std::int32_t* q, std::size_t d, int scale_bits,
                                std::int32_t clip_bound, Launch launch) {
  std::int64_t* counts = nullptr;
  if (auto status = cudaMallocAsync(&counts, 2 * sizeof(std::int64_t), nullptr);
      status != cudaSuccess) {
    return runtime_error("quantize: cudaMallocAsync failed: {}", cudaGetErrorString(status));
  }
  cudaMemsetAsync(counts, 0, 2 * sizeof(std::int64_t), nullptr);
  const auto launched = quantize_async(delta, q, d, scale_bits, clip_bound, counts, launch);
  std::int64_t host[2] = {0, 0};
  const cudaError_t copied =
      cudaMemcpy(host, counts, sizeof host, cudaMemcpyDeviceToHost);  // waits for the kernel
  cudaFreeAsync(counts, nullptr);
  if (!launched) return launched.error();
  if (copied != cudaSuccess) {
    return runtime_error("quantize: reading the counts failed: {}", cudaGetErrorString(copied));
  }
  return QuantizeCounts{host[0], host[1]};
}

Status dequantize_add(float* theta, const std::int32_t* a, std::size_t d, int scale_bits,
                      Launch launch) {
  if (auto status = check_launch(launch); !status) return status;
  if (scale_bits < 0 || scale_bits > fixed::kMaxScaleBits) {
    return runtime_error("dequantize_add: scale_bits {} out of range", scale_bits);
  }
  if (d == 0) return {};
  // 2^-s, exact in float; the same value the CPU reference computes with ldexp.
  const float step = static_cast<float>(1.0 / fixed::power_of_two(scale_bits));
  const bool by_four = aligned(theta) && aligned(a);
  dequantize_add_kernel<<<grid_for(launch, by_four ? (d + 3) / 4 : d),
                          static_cast<unsigned>(launch.block_size)>>>(theta, a, d, step, by_four);
  return launch_status("dequantize_add");
}

Status weighted_sum(const std::int32_t* updates, const std::int64_t* weights, std::size_t n,
                    std::size_t d, std::int64_t* sums, Launch launch) {
  if (auto status = check_launch(launch); !status) return status;
  if (n == 0) return runtime_error("weighted_sum: no updates");
  if (d == 0) return {};
  const bool by_four = d % 4 == 0 && aligned(updates) && aligned(sums);
  const unsigned grid = grid_for(launch, by_four ? d / 4 : d);
  const auto threads = static_cast<unsigned>(launch.block_size);
  for (std::size_t first = 0; first < n; first += kRowsPerLaunch) {
    const std::size_t count = n - first < kRowsPerLaunch ? n - first : kRowsPerLaunch;
    weighted_sum_kernel<<<grid, threads>>>(updates + first * d,
                                           batch_weights(weights, first, count),
                                           static_cast<int>(count), d, sums, first > 0, by_four);
    if (auto status = launch_status("weighted_sum"); !status) return status;
  }
  return {};
}

Status divide_round_half_even(const std::int64_t* sums, std::int64_t total_weight, std::size_t d,
                              std::int32_t* out, Launch launch) {
  if (auto status = check_launch(launch); !status) return status;
  if (total_weight < 1) return runtime_error("fedavg: total weight {} < 1", total_weight);
  if (d == 0) return {};
  divide_kernel<<<grid_for(launch, d), static_cast<unsigned>(launch.block_size)>>>(
      sums, fixed::RoundingDivider(total_weight), d, out);
  return launch_status("divide_round_half_even");
}

Status fedavg(const std::int32_t* updates, const std::int64_t* weights, std::size_t n,
              std::size_t d, std::int32_t* out, Launch launch) {
  if (auto status = check_launch(launch); !status) return status;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < n; ++i) total += weights[i];
  if (n == 0 || total < 1) return runtime_error("fedavg: {} updates of total weight {}", n, total);
  if (d == 0) return {};
  if (n <= kRowsPerLaunch) {
    const bool by_four = d % 4 == 0 && aligned(updates) && aligned(out);
    fedavg_kernel<<<grid_for(launch, by_four ? d / 4 : d),
                    static_cast<unsigned>(launch.block_size)>>>(
        updates, batch_weights(weights, 0, n), static_cast<int>(n), fixed::RoundingDivider(total),
        d, out, by_four);
    return launch_status("fedavg");
  }
  std::int64_t* sums = nullptr;
  if (auto status = cudaMallocAsync(&sums, d * sizeof(std::int64_t), nullptr);
      status != cudaSuccess) {
    return runtime_error("fedavg: cudaMallocAsync failed: {}", cudaGetErrorString(status));
  }
  const auto summed = weighted_sum(updates, weights, n, d, sums, launch);
  const auto divided =
      summed ? divide_round_half_even(sums, total, d, out, launch) : Status(summed);
  cudaFreeAsync(sums, nullptr);
  return divided;
}

Status coordinate_median(const std::int32_t* updates, std::size_t n, std::size_t d,
                         std::int32_t* out, Launch launch) {
  // Odd n: position (n - 1) / 2 alone; even n: positions n / 2 - 1 and n / 2.
  const int count = static_cast<int>(n);
  return sorted_rule(updates, n, d, (count - 1) / 2, count / 2, true, out, launch);
}

Status trimmed_mean(const std::int32_t* updates, std::size_t n, std::size_t d, std::size_t trim,
                    std::int32_t* out, Launch launch) {
  if (2 * trim >= n) {
    return runtime_error("trimmed_mean: trimming {} from each end of {} leaves nothing", trim, n);
  }
  return sorted_rule(updates, n, d, static_cast<int>(trim), static_cast<int>(n - 1 - trim), false,
                     out, launch);
}

}  // namespace fedchain::gpu
