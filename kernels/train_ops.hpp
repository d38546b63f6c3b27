// The CUDA training backend's ops apart from CUDA (not installed): the per-element bodies of
// its kernels, the cuBLAS GEMM each product becomes, and the order of calls in each op, all
// written once over a Device that supplies three primitives. kernels/train_backend.cu
// instantiates them for the GPU; tests/kernels/train_ops_host_twin_test.cpp instantiates
// them for the host (a loop and a plain column-major GEMM) and holds them to the double
// reference, so machines without a GPU check the index maths and the GEMM shapes.
//
// A Device provides:
//   for_each(op, n, f)        f(i) for every i in [0, n); each i writes only its own outputs
//   gemm(op, plan, a, b, c)   column-major c = op_a(a) op_b(b) + beta c, as cublasSgemm
//   column_sums(op, a, rows, cols, sums)   with column_lane_sum's fixed order
// op names the Backend op for error messages.
//
// Everything here is C++17 (nvcc builds CUDA as C++17) and deterministic: each output is
// computed by one f(i) in a fixed order.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

#include "fedchain/train/backend.hpp"

#if defined(__CUDACC__)
#define FEDCHAIN_HOST_DEVICE __host__ __device__
#else
#define FEDCHAIN_HOST_DEVICE
#endif

namespace fedchain::gpu::train_ops {

using train::AdamSettings;
using train::ConvShape;
using train::DenseShape;
using train::GroupNormShape;
using train::PoolShape;
using train::SgdSettings;

// ---- GEMMs --------------------------------------------------------------------------------
//
// cuBLAS is column-major; the Backend's matrices are row-major. A row-major (r, c) matrix
// with leading dimension c is, read column-major, the (c, r) matrix of its transpose. So each
// row-major product is computed as its transpose, C^T = op(B^T) op(A^T), on the same bytes:
//   y (B, out) = x w^T   ->  y^T (out, B) = op_T(w as (in, out), ld in) op_N(x as (in, B), ld in)
//   dw (out, in) = dy^T x ->  dw^T (in, out) = op_N(x as (in, B), ld in)
//                                              op_T(dy as (out, B), ld out)
//   dx (B, in) = dy w    ->  dx^T (in, B) = op_N(w as (in, out), ld in)
//                                           op_N(dy as (out, B), ld out)
// Convolutions are the same products with B = samples * OH * OW, in = k * k * C (an im2col
// row), out = O, and the im2col matrix in place of x.
struct Gemm {
  bool transpose_a = false;
  bool transpose_b = false;
  std::int64_t m = 0, n = 0, k = 0;
  std::int64_t lda = 0, ldb = 0, ldc = 0;
  float beta = 0.0f;  // 0 overwrites c, 1 adds to it
};

// a = w, b = x, c = y.
inline Gemm forward_gemm(const DenseShape& s) {
  return {true, false, s.out, s.batch, s.in, s.in, s.in, s.out, 0.0f};
}
// a = x, b = dy, c = dw; beta 1 adds this block's dw to the earlier blocks'.
inline Gemm weight_grad_gemm(const DenseShape& s, float beta) {
  return {false, true, s.in, s.out, s.batch, s.in, s.out, s.in, beta};
}
// a = w, b = dy, c = dx.
inline Gemm input_grad_gemm(const DenseShape& s) {
  return {false, false, s.in, s.batch, s.out, s.in, s.out, s.in, 0.0f};
}

// ---- Convolution blocking -----------------------------------------------------------------

// Convolutions run im2col + GEMM over blocks of samples whose im2col matrix holds at most
// this many floats (128 MiB). The models' layers fit whole (the cnn's conv2 at batch 64 is
// 10M floats), so each is one large GEMM, which is what keeps a GPU busy; the cap only
// bounds memory for large evaluation batches. Tests pass a small cap to split tiny batches.
inline constexpr std::int64_t kConvBlockFloats = std::int64_t{1} << 25;

inline std::int64_t conv_block_samples(const ConvShape& s, std::int64_t block_floats) {
  const std::int64_t per_sample = s.out_height() * s.out_width() * s.patch_size();
  return std::clamp<std::int64_t>(block_floats / std::max<std::int64_t>(per_sample, 1), 1,
                                  std::max<std::int64_t>(s.batch, 1));
}

// One block's im2col matrix and its gradient (the latter only for backward with dx).
inline std::int64_t conv_workspace(const ConvShape& s, std::int64_t block_floats) {
  return 2 * conv_block_samples(s, block_floats) * s.out_height() * s.out_width() * s.patch_size();
}

// The shape numbers the conv element functions index with (plain fields: ConvShape's
// helpers are host functions).
struct ConvGeometry {
  std::int64_t height, width, channels, kernel, stride, padding, out_height, out_width, patch;
};

inline ConvGeometry geometry(const ConvShape& s) {
  return {s.height,  s.width,        s.in_channels, s.kernel,      s.stride,
          s.padding, s.out_height(), s.out_width(), s.patch_size()};
}

// ---- Element functions: f(i) writes output i (or row i) ------------------------------------

struct Fill {
  float* x;
  float value;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const { x[i] = value; }
};

// y (rows, cols) += b (cols): the bias after the GEMM, as the CPU adds it after its product.
struct AddBiasRows {
  float* y;
  const float* b;
  std::int64_t cols;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const { y[i] = y[i] + b[i % cols]; }
};

// Column sums in a fixed order that a GPU block can follow: lane l (of kSumLanes) sums rows
// l, l + kSumLanes, ... of the column in order; the column's sum adds the lane sums in lane
// order.
inline constexpr int kSumLanes = 32;

FEDCHAIN_HOST_DEVICE inline float column_lane_sum(const float* a, std::int64_t rows,
                                                  std::int64_t cols, std::int64_t column,
                                                  int lane) {
  float sum = 0.0f;
  for (std::int64_t row = lane; row < rows; row += kSumLanes) sum += a[row * cols + column];
  return sum;
}

// cols (samples * OH * OW, k * k * C): element i is patch entry q = (ky, kx, ch) of output
// pixel row = (b, oy, ox), as cpu::im2col lays it out; zero where the patch hangs over the
// padding.
struct Im2col {
  ConvGeometry g;
  const float* x;
  float* cols;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const {
    const std::int64_t q = i % g.patch;
    const std::int64_t row = i / g.patch;
    const std::int64_t ch = q % g.channels;
    const std::int64_t kx = (q / g.channels) % g.kernel;
    const std::int64_t ky = q / (g.channels * g.kernel);
    const std::int64_t ox = row % g.out_width;
    const std::int64_t oy = (row / g.out_width) % g.out_height;
    const std::int64_t b = row / (g.out_width * g.out_height);
    const std::int64_t iy = oy * g.stride - g.padding + ky;
    const std::int64_t ix = ox * g.stride - g.padding + kx;
    const bool inside = iy >= 0 && iy < g.height && ix >= 0 && ix < g.width;
    cols[i] = inside ? x[((b * g.height + iy) * g.width + ix) * g.channels + ch] : 0.0f;
  }
};

// The first output coordinate o >= 0 whose window [o * stride, o * stride + kernel) covers
// `position` (an input coordinate plus the padding): o * stride >= position - kernel + 1.
FEDCHAIN_HOST_DEVICE inline std::int64_t first_covering(std::int64_t position, std::int64_t kernel,
                                                        std::int64_t stride) {
  const std::int64_t lowest = position - kernel + 1;
  return lowest <= 0 ? 0 : (lowest + stride - 1) / stride;
}

// Element i of a channels-last (B, height, width, channels) array, channels fastest.
struct Pixel {
  std::int64_t b, y, x, ch;
};

FEDCHAIN_HOST_DEVICE inline Pixel pixel_of(std::int64_t i, std::int64_t height, std::int64_t width,
                                           std::int64_t channels) {
  return {i / (channels * width * height), (i / (channels * width)) % height,
          (i / channels) % width, i % channels};
}

// col2im as a gather: input element i = (b, iy, ix, ch) sums the dcols entries im2col copied
// it to, i.e. output pixels (oy, ox) with ky = iy + padding - oy * stride in [0, kernel)
// (likewise x), in cpu::col2im's order (oy, then ox, ascending). No scatter, so no atomics;
// a pixel no window covers gets 0.
struct Col2imGather {
  ConvGeometry g;
  const float* dcols;
  float* dx;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const {
    const auto [b, iy, ix, ch] = pixel_of(i, g.height, g.width, g.channels);
    const std::int64_t py = iy + g.padding;
    const std::int64_t px = ix + g.padding;
    const std::int64_t y_last = g.out_height - 1 < py / g.stride ? g.out_height - 1 : py / g.stride;
    const std::int64_t x_last = g.out_width - 1 < px / g.stride ? g.out_width - 1 : px / g.stride;
    const std::int64_t x_first = first_covering(px, g.kernel, g.stride);
    float sum = 0.0f;
    for (std::int64_t oy = first_covering(py, g.kernel, g.stride); oy <= y_last; ++oy) {
      const std::int64_t ky = py - oy * g.stride;
      const float* row = dcols + (b * g.out_height + oy) * g.out_width * g.patch;
      for (std::int64_t ox = x_first; ox <= x_last; ++ox) {
        const std::int64_t kx = px - ox * g.stride;
        sum += row[ox * g.patch + (ky * g.kernel + kx) * g.channels + ch];
      }
    }
    dx[i] = sum;
  }
};

// std::max's choice (the first argument unless the second is larger), so that ties and NaNs
// pick what the CPU picks.
FEDCHAIN_HOST_DEVICE inline float larger(float a, float b) {
  return a < b ? b : a;
}

// The shape numbers the pool element functions index with (PoolShape's helpers are host
// functions).
struct PoolGeometry {
  std::int64_t height, width, channels, kernel, stride, out_height, out_width;
};

inline PoolGeometry geometry(const PoolShape& s) {
  return {s.height, s.width, s.channels, s.kernel, s.stride, s.out_height(), s.out_width()};
}

// The flat index of the first maximum of window (b, oy, ox) in channel ch, in row-major
// order (a later value wins only if strictly larger), as cpu::maxpool_backward finds it.
FEDCHAIN_HOST_DEVICE inline std::int64_t window_winner(const PoolGeometry& g, const float* x,
                                                       std::int64_t b, std::int64_t oy,
                                                       std::int64_t ox, std::int64_t ch) {
  const std::int64_t corner = (b * g.height + oy * g.stride) * g.width + ox * g.stride;
  std::int64_t winner = corner * g.channels + ch;
  for (std::int64_t ky = 0; ky < g.kernel; ++ky) {
    for (std::int64_t kx = 0; kx < g.kernel; ++kx) {
      const std::int64_t at = (corner + ky * g.width + kx) * g.channels + ch;
      winner = x[at] > x[winner] ? at : winner;
    }
  }
  return winner;
}

// y (B, OH, OW, C), element i = (b, oy, ox, ch): the window's first maximum.
struct MaxPoolForward {
  PoolGeometry g;
  const float* x;
  float* y;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const {
    const auto [b, oy, ox, ch] = pixel_of(i, g.out_height, g.out_width, g.channels);
    y[i] = x[window_winner(g, x, b, oy, ox, ch)];
  }
};

// The windows covering input pixel (iy, ix): rows [first_y, last_y] and columns
// [first_x, last_x] of the output (empty where first > last: a dropped row or column).
struct CoveringWindows {
  std::int64_t first_y, last_y, first_x, last_x;
};

FEDCHAIN_HOST_DEVICE inline CoveringWindows covering(const PoolGeometry& g, std::int64_t iy,
                                                     std::int64_t ix) {
  const std::int64_t last_y = g.out_height - 1 < iy / g.stride ? g.out_height - 1 : iy / g.stride;
  const std::int64_t last_x = g.out_width - 1 < ix / g.stride ? g.out_width - 1 : ix / g.stride;
  return {first_covering(iy, g.kernel, g.stride), last_y, first_covering(ix, g.kernel, g.stride),
          last_x};
}

// dx (B, H, W, C), element i = (b, iy, ix, ch): the sum of dy over the windows whose first
// maximum it is, in cpu::maxpool_backward's order (oy, then ox, ascending); 0 if none.
struct MaxPoolBackward {
  PoolGeometry g;
  const float* x;
  const float* dy;
  float* dx;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const {
    const auto [b, iy, ix, ch] = pixel_of(i, g.height, g.width, g.channels);
    const CoveringWindows w = covering(g, iy, ix);
    float sum = 0.0f;
    for (std::int64_t oy = w.first_y; oy <= w.last_y; ++oy) {
      for (std::int64_t ox = w.first_x; ox <= w.last_x; ++ox) {
        if (window_winner(g, x, b, oy, ox, ch) != i) continue;
        sum += dy[((b * g.out_height + oy) * g.out_width + ox) * g.channels + ch];
      }
    }
    dx[i] = sum;
  }
};

// y = the window's sum in row-major order / (kernel * kernel), as cpu::avgpool_forward.
struct AvgPoolForward {
  PoolGeometry g;
  const float* x;
  float* y;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const {
    const auto [b, oy, ox, ch] = pixel_of(i, g.out_height, g.out_width, g.channels);
    const float* corner =
        x + ((b * g.height + oy * g.stride) * g.width + ox * g.stride) * g.channels;
    float sum = 0.0f;
    for (std::int64_t ky = 0; ky < g.kernel; ++ky) {
      for (std::int64_t kx = 0; kx < g.kernel; ++kx) {
        sum += corner[(ky * g.width + kx) * g.channels + ch];
      }
    }
    y[i] = sum / static_cast<float>(g.kernel * g.kernel);
  }
};

// dx = the sum of dy / area over the covering windows, in cpu::avgpool_backward's order.
struct AvgPoolBackward {
  PoolGeometry g;
  const float* dy;
  float* dx;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const {
    const auto [b, iy, ix, ch] = pixel_of(i, g.height, g.width, g.channels);
    const CoveringWindows w = covering(g, iy, ix);
    const auto area = static_cast<float>(g.kernel * g.kernel);
    float sum = 0.0f;
    for (std::int64_t oy = w.first_y; oy <= w.last_y; ++oy) {
      for (std::int64_t ox = w.first_x; ox <= w.last_x; ++ox) {
        sum += dy[((b * g.out_height + oy) * g.out_width + ox) * g.channels + ch] / area;
      }
    }
    dx[i] = sum;
  }
};

// Group norm's plain shape numbers.
struct NormGeometry {
  std::int64_t pixels, channels, groups, per_group;
  FEDCHAIN_HOST_DEVICE std::int64_t group_of(std::int64_t i) const {
    return (i / (pixels * channels)) * groups + (i % channels) / per_group;
  }
};

inline NormGeometry geometry(const GroupNormShape& s) {
  return {s.pixels, s.channels, s.groups, s.channels / s.groups};
}

// Element (b * groups + g): that group's mean and 1 / sqrt(var + eps), summed pixel by pixel
// and channel by channel as cpu::groupnorm_forward sums them.
struct GroupNormStats {
  NormGeometry g;
  const float* x;
  float* stats;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const {
    const float* sample = x + (i / g.groups) * g.pixels * g.channels;
    const std::int64_t first = (i % g.groups) * g.per_group;
    const auto count = static_cast<float>(g.pixels * g.per_group);
    float sum = 0.0f;
    for (std::int64_t p = 0; p < g.pixels; ++p) {
      for (std::int64_t ch = first; ch < first + g.per_group; ++ch)
        sum += sample[p * g.channels + ch];
    }
    const float mean = sum / count;
    float squares = 0.0f;
    for (std::int64_t p = 0; p < g.pixels; ++p) {
      for (std::int64_t ch = first; ch < first + g.per_group; ++ch) {
        const float centred = sample[p * g.channels + ch] - mean;
        squares += centred * centred;
      }
    }
    stats[i * 2] = mean;
    stats[i * 2 + 1] = 1.0f / sqrtf(squares / count + train::kGroupNormEpsilon);
  }
};

struct GroupNormForward {
  NormGeometry g;
  const float* x;
  const float* weight;
  const float* bias;
  const float* stats;
  float* y;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const {
    const float* group = stats + g.group_of(i) * 2;
    const std::int64_t ch = i % g.channels;
    y[i] = (x[i] - group[0]) * group[1] * weight[ch] + bias[ch];
  }
};

// product[i] = dy[i] * xhat[i], whose column sums are dweight.
struct GroupNormWeightTerms {
  NormGeometry g;
  const float* x;
  const float* stats;
  const float* dy;
  float* product;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const {
    const float* group = stats + g.group_of(i) * 2;
    product[i] = dy[i] * ((x[i] - group[0]) * group[1]);
  }
};

// Element (b * groups + g): sums[2i] = sum dy * w, sums[2i + 1] = sum dy * w * xhat over the
// group, in cpu::groupnorm_backward's order.
struct GroupNormGroupSums {
  NormGeometry g;
  const float* x;
  const float* weight;
  const float* stats;
  const float* dy;
  float* sums;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const {
    const std::int64_t base = (i / g.groups) * g.pixels * g.channels;
    const std::int64_t first = (i % g.groups) * g.per_group;
    float sum = 0.0f;
    float projected = 0.0f;
    for (std::int64_t p = 0; p < g.pixels; ++p) {
      for (std::int64_t ch = first; ch < first + g.per_group; ++ch) {
        const std::int64_t at = base + p * g.channels + ch;
        const float scaled = dy[at] * weight[ch];
        sum += scaled;
        projected += scaled * ((x[at] - stats[i * 2]) * stats[i * 2 + 1]);
      }
    }
    sums[i * 2] = sum;
    sums[i * 2 + 1] = projected;
  }
};

struct GroupNormInputGrad {
  NormGeometry g;
  const float* x;
  const float* weight;
  const float* stats;
  const float* sums;
  const float* dy;
  float* dx;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const {
    const std::int64_t group = g.group_of(i);
    const std::int64_t ch = i % g.channels;
    const auto count = static_cast<float>(g.pixels * g.per_group);
    const float mean = stats[group * 2];
    const float rstd = stats[group * 2 + 1];
    const float xhat = (x[i] - mean) * rstd;
    dx[i] = rstd *
            (dy[i] * weight[ch] - sums[group * 2] / count - xhat * (sums[group * 2 + 1] / count));
  }
};

struct Dropout {
  train::DropoutMask mask;
  const float* x;
  float* y;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const {
    y[i] = mask.keeps(i) ? x[i] * mask.scale : 0.0f;
  }
};

struct ReluForward {
  const float* x;
  float* y;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const { y[i] = x[i] > 0.0f ? x[i] : 0.0f; }
};

struct ReluBackward {
  const float* y;
  const float* dy;
  float* dx;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const { dx[i] = y[i] > 0.0f ? dy[i] : 0.0f; }
};

// Row i (one sample): the class count is small (10), and a row summed by one thread is
// summed in the CPU's order. A label outside [0, classes) gives a NaN loss rather than a
// read outside the row.
struct SoftmaxXentForward {
  std::int64_t classes;
  const float* logits;
  const std::int32_t* labels;
  float* probs;
  float* losses;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const {
    const float* row = logits + i * classes;
    float* p = probs + i * classes;
    float max = row[0];
    for (std::int64_t k = 1; k < classes; ++k) max = max < row[k] ? row[k] : max;
    float sum = 0.0f;
    for (std::int64_t k = 0; k < classes; ++k) {
      p[k] = expf(row[k] - max);
      sum += p[k];
    }
    for (std::int64_t k = 0; k < classes; ++k) p[k] /= sum;
    const std::int32_t label = labels[i];
    losses[i] = label >= 0 && label < classes ? logf(sum) - (row[label] - max) : nanf("");
  }
};

struct SoftmaxXentBackward {
  std::int64_t classes;
  const float* probs;
  const std::int32_t* labels;
  float scale;  // 1 / batch, rounded to float as the CPU does
  float* dlogits;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const {
    const float target = i % classes == labels[i / classes] ? 1.0f : 0.0f;
    dlogits[i] = (probs[i] - target) * scale;
  }
};

// The optimizers, line for line as cpu::sgd_step and cpu::adam_step (built without
// contraction on both sides: --fmad=false and -ffp-contract=off). anchor is null unless the
// FedProx term is on.
struct SgdStep {
  SgdSettings s;
  float* params;
  const float* grads;
  float* velocity;
  const float* anchor;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const {
    float g = grads[i] + s.weight_decay * params[i];
    if (anchor != nullptr) g += s.prox_mu * (params[i] - anchor[i]);
    if (s.momentum != 0.0f) {
      velocity[i] = s.momentum * velocity[i] + g;
      params[i] -= s.lr * velocity[i];
    } else {
      params[i] -= s.lr * g;
    }
  }
};

// correction1, correction2: Adam's bias corrections 1 / (1 - beta^step), computed on the
// host in double and rounded to float as the CPU does.
struct AdamStep {
  AdamSettings s;
  float correction1;
  float correction2;
  float* params;
  const float* grads;
  float* m;
  float* v;
  const float* anchor;
  FEDCHAIN_HOST_DEVICE void operator()(std::int64_t i) const {
    float g = grads[i] + s.weight_decay * params[i];
    if (anchor != nullptr) g += s.prox_mu * (params[i] - anchor[i]);
    m[i] = s.beta1 * m[i] + (1.0f - s.beta1) * g;
    v[i] = s.beta2 * v[i] + (1.0f - s.beta2) * g * g;
    params[i] -= s.lr * (m[i] * correction1) / (sqrtf(v[i] * correction2) + s.epsilon);
  }
};

// ---- The ops, in call order ----------------------------------------------------------------

// Every compute op of train::Backend over a Device it owns. A backend derives from it and
// adds what differs between the GPU and the host twin: memory (allocate, upload, download,
// fill, copy, synchronize), name and threads.
template <class Device>
class TrainOps : public train::Backend {
 public:
  template <class... DeviceArgs>
  explicit TrainOps(std::int64_t block_floats, DeviceArgs&&... device_args)
      : device_(std::forward<DeviceArgs>(device_args)...), block_floats_(block_floats) {}

  std::int64_t conv2d_workspace(const ConvShape& s) const override {
    return conv_workspace(s, block_floats_);
  }

  void dense_forward(const DenseShape& s, const float* x, const float* w, const float* b,
                     float* y) override {
    device_.gemm("dense_forward", forward_gemm(s), w, x, y);
    device_.for_each("dense_forward bias", s.batch * s.out, AddBiasRows{y, b, s.out});
  }
  void dense_backward(const DenseShape& s, const float* x, const float* w, const float* dy,
                      float* dx, float* dw, float* db) override {
    device_.gemm("dense_backward dw", weight_grad_gemm(s, 0.0f), x, dy, dw);
    device_.column_sums("dense_backward db", dy, s.batch, s.out, db);
    if (dx != nullptr) device_.gemm("dense_backward dx", input_grad_gemm(s), w, dy, dx);
  }

  // Per block of samples: cols = im2col(x), y = cols w^T + b.
  void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y,
                      float* workspace) override {
    const std::int64_t block = conv_block_samples(s, block_floats_);
    const std::int64_t pixels = s.out_height() * s.out_width();
    const std::int64_t image = s.height * s.width * s.in_channels;
    for (std::int64_t first = 0; first < s.batch; first += block) {
      const std::int64_t samples = std::min(block, s.batch - first);
      const DenseShape product{samples * pixels, s.patch_size(), s.out_channels};
      float* out = y + first * pixels * s.out_channels;
      device_.for_each("conv2d_forward im2col", product.batch * product.in,
                       Im2col{geometry(s), x + first * image, workspace});
      device_.gemm("conv2d_forward", forward_gemm(product), w, workspace, out);
      device_.for_each("conv2d_forward bias", product.batch * product.out,
                       AddBiasRows{out, b, s.out_channels});
    }
  }

  // Rebuilds each block's cols from x; dw sums over blocks in block order (beta 1 after the
  // first), dcols = dy w, and col2im gathers dcols into the block's dx.
  void conv2d_backward(const ConvShape& s, const float* x, const float* w, const float* dy,
                       float* dx, float* dw, float* db, float* workspace) override {
    const std::int64_t block = conv_block_samples(s, block_floats_);
    const std::int64_t pixels = s.out_height() * s.out_width();
    const std::int64_t image = s.height * s.width * s.in_channels;
    float* cols = workspace;
    float* dcols = workspace + block * pixels * s.patch_size();
    device_.column_sums("conv2d_backward db", dy, s.batch * pixels, s.out_channels, db);
    for (std::int64_t first = 0; first < s.batch; first += block) {
      const std::int64_t samples = std::min(block, s.batch - first);
      const DenseShape product{samples * pixels, s.patch_size(), s.out_channels};
      const float* grad_out = dy + first * pixels * s.out_channels;
      device_.for_each("conv2d_backward im2col", product.batch * product.in,
                       Im2col{geometry(s), x + first * image, cols});
      device_.gemm("conv2d_backward dw", weight_grad_gemm(product, first == 0 ? 0.0f : 1.0f), cols,
                   grad_out, dw);
      if (dx == nullptr) continue;
      device_.gemm("conv2d_backward dcols", input_grad_gemm(product), w, grad_out, dcols);
      device_.for_each("conv2d_backward col2im", samples * image,
                       Col2imGather{geometry(s), dcols, dx + first * image});
    }
  }

  void maxpool_forward(const PoolShape& s, const float* x, float* y) override {
    device_.for_each("maxpool_forward", s.batch * s.out_height() * s.out_width() * s.channels,
                     MaxPoolForward{geometry(s), x, y});
  }
  void maxpool_backward(const PoolShape& s, const float* x, const float* dy, float* dx) override {
    device_.for_each("maxpool_backward", s.batch * s.height * s.width * s.channels,
                     MaxPoolBackward{geometry(s), x, dy, dx});
  }
  void avgpool_forward(const PoolShape& s, const float* x, float* y) override {
    device_.for_each("avgpool_forward", s.batch * s.out_height() * s.out_width() * s.channels,
                     AvgPoolForward{geometry(s), x, y});
  }
  void avgpool_backward(const PoolShape& s, const float* dy, float* dx) override {
    device_.for_each("avgpool_backward", s.batch * s.height * s.width * s.channels,
                     AvgPoolBackward{geometry(s), dy, dx});
  }

  // dy * xhat for dweight's column sums, then each group's two sums for dx.
  std::int64_t groupnorm_workspace(const GroupNormShape& s) const override {
    return s.batch * s.pixels * s.channels + 2 * s.batch * s.groups;
  }
  void groupnorm_forward(const GroupNormShape& s, const float* x, const float* weight,
                         const float* bias, float* y, float* stats) override {
    device_.for_each("groupnorm_forward stats", s.batch * s.groups,
                     GroupNormStats{geometry(s), x, stats});
    device_.for_each("groupnorm_forward", s.batch * s.pixels * s.channels,
                     GroupNormForward{geometry(s), x, weight, bias, stats, y});
  }
  void groupnorm_backward(const GroupNormShape& s, const float* x, const float* weight,
                          const float* stats, const float* dy, float* dx, float* dweight,
                          float* dbias, float* workspace) override {
    const std::int64_t rows = s.batch * s.pixels;
    float* product = workspace;
    float* sums = workspace + rows * s.channels;
    device_.for_each("groupnorm_backward dweight terms", rows * s.channels,
                     GroupNormWeightTerms{geometry(s), x, stats, dy, product});
    device_.column_sums("groupnorm_backward dweight", product, rows, s.channels, dweight);
    device_.column_sums("groupnorm_backward dbias", dy, rows, s.channels, dbias);
    if (dx == nullptr) return;
    device_.for_each("groupnorm_backward sums", s.batch * s.groups,
                     GroupNormGroupSums{geometry(s), x, weight, stats, dy, sums});
    device_.for_each("groupnorm_backward dx", rows * s.channels,
                     GroupNormInputGrad{geometry(s), x, weight, stats, sums, dy, dx});
  }

  void dropout_forward(std::int64_t n, const train::DropoutMask& mask, const float* x,
                       float* y) override {
    device_.for_each("dropout_forward", n, Dropout{mask, x, y});
  }
  void dropout_backward(std::int64_t n, const train::DropoutMask& mask, const float* dy,
                        float* dx) override {
    device_.for_each("dropout_backward", n, Dropout{mask, dy, dx});
  }
  void relu_forward(std::int64_t n, const float* x, float* y) override {
    device_.for_each("relu_forward", n, ReluForward{x, y});
  }
  void relu_backward(std::int64_t n, const float* y, const float* dy, float* dx) override {
    device_.for_each("relu_backward", n, ReluBackward{y, dy, dx});
  }
  void softmax_xent_forward(std::int64_t batch, std::int64_t classes, const float* logits,
                            const std::int32_t* labels, float* probs, float* losses) override {
    if (classes < 1) return;
    device_.for_each("softmax_xent_forward", batch,
                     SoftmaxXentForward{classes, logits, labels, probs, losses});
  }
  void softmax_xent_backward(std::int64_t batch, std::int64_t classes, const float* probs,
                             const std::int32_t* labels, float* dlogits) override {
    if (batch < 1) return;
    const float scale = 1.0f / static_cast<float>(batch);
    device_.for_each("softmax_xent_backward", batch * classes,
                     SoftmaxXentBackward{classes, probs, labels, scale, dlogits});
  }
  void sgd_step(const SgdSettings& s, std::int64_t n, float* params, const float* grads,
                float* velocity, const float* anchor) override {
    const float* prox_anchor = anchor != nullptr && s.prox_mu != 0.0f ? anchor : nullptr;
    device_.for_each("sgd_step", n, SgdStep{s, params, grads, velocity, prox_anchor});
  }
  void adam_step(const AdamSettings& s, std::int64_t step, std::int64_t n, float* params,
                 const float* grads, float* m, float* v, const float* anchor) override {
    const float* prox_anchor = anchor != nullptr && s.prox_mu != 0.0f ? anchor : nullptr;
    const float correction1 =
        1.0f / static_cast<float>(1.0 - std::pow(double(s.beta1), double(step)));
    const float correction2 =
        1.0f / static_cast<float>(1.0 - std::pow(double(s.beta2), double(step)));
    device_.for_each("adam_step", n,
                     AdamStep{s, correction1, correction2, params, grads, m, v, prox_anchor});
  }

 protected:
  Device device_;

 private:
  std::int64_t block_floats_;
};

}  // namespace fedchain::gpu::train_ops
