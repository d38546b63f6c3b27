// The CPU ops as templates over the scalar type: the backend instantiates them for float,
// and the gradient tests instantiate the same code for double and check it against finite
// differences (as llm.c keeps a reference beside every fast path). Layouts and contracts
// are those of fedchain/train/backend.hpp.
//
// Threads: the GEMMs are Eigen's (parallel through OpenMP); the loops here split work by
// sample or by element, so each output is written by one thread in a fixed order and the
// result does not depend on scheduling.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include <Eigen/Core>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "fedchain/train/backend.hpp"

#if defined(_OPENMP)
#define FEDCHAIN_PARALLEL_FOR _Pragma("omp parallel for schedule(static)")
#else
#define FEDCHAIN_PARALLEL_FOR
#endif

namespace fedchain::train::cpu {

template <typename T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MatrixMap = Eigen::Map<RowMatrix<T>>;
template <typename T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;
template <typename T>
using RowVectorMap = Eigen::Map<Eigen::Matrix<T, 1, Eigen::Dynamic>>;
template <typename T>
using ConstRowVectorMap = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>;

// Below this many elements an elementwise loop is not worth waking threads for.
inline constexpr std::int64_t kParallelElements = 1 << 16;

template <typename T>
void dense_forward(const DenseShape& s, const T* x, const T* w, const T* b, T* y) {
  ConstMatrixMap<T> input(x, s.batch, s.in);
  ConstMatrixMap<T> weight(w, s.out, s.in);
  MatrixMap<T> output(y, s.batch, s.out);
  output.noalias() = input * weight.transpose();
  output.rowwise() += ConstRowVectorMap<T>(b, s.out);
}

template <typename T>
void dense_backward(const DenseShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db) {
  ConstMatrixMap<T> input(x, s.batch, s.in);
  ConstMatrixMap<T> weight(w, s.out, s.in);
  ConstMatrixMap<T> grad_out(dy, s.batch, s.out);
  MatrixMap<T>(dw, s.out, s.in).noalias() = grad_out.transpose() * input;
  RowVectorMap<T>(db, s.out).noalias() = grad_out.colwise().sum();
  if (dx != nullptr) MatrixMap<T>(dx, s.batch, s.in).noalias() = grad_out * weight;
}

// cols (B * OH * OW, k * k * C): row (b, oy, ox) holds the input patch under that output
// pixel, zeros where it hangs over the padding.
template <typename T>
void im2col(const ConvShape& s, const T* x, T* cols) {
  const std::int64_t out_h = s.out_height();
  const std::int64_t out_w = s.out_width();
  const std::int64_t c = s.in_channels;
  const std::int64_t k = s.kernel;
  const std::int64_t patch = s.patch_size();
  FEDCHAIN_PARALLEL_FOR
  for (std::int64_t b = 0; b < s.batch; ++b) {
    const T* image = x + b * s.height * s.width * c;
    for (std::int64_t oy = 0; oy < out_h; ++oy) {
      for (std::int64_t ox = 0; ox < out_w; ++ox) {
        T* row = cols + ((b * out_h + oy) * out_w + ox) * patch;
        const std::int64_t x0 = ox * s.stride - s.padding;
        for (std::int64_t ky = 0; ky < k; ++ky) {
          T* dst = row + ky * k * c;
          const std::int64_t iy = oy * s.stride - s.padding + ky;
          if (iy < 0 || iy >= s.height) {
            std::fill(dst, dst + k * c, T(0));
            continue;
          }
          const T* src_row = image + iy * s.width * c;
          if (x0 >= 0 && x0 + k <= s.width) {  // the whole kernel row is inside: one run
            std::memcpy(dst, src_row + x0 * c, static_cast<std::size_t>(k * c) * sizeof(T));
            continue;
          }
          for (std::int64_t kx = 0; kx < k; ++kx) {
            const std::int64_t ix = x0 + kx;
            if (ix < 0 || ix >= s.width) {
              std::fill(dst + kx * c, dst + (kx + 1) * c, T(0));
            } else {
              std::memcpy(dst + kx * c, src_row + ix * c, static_cast<std::size_t>(c) * sizeof(T));
            }
          }
        }
      }
    }
  }
}

// The adjoint of im2col: dx (B, H, W, C) = sum of every dcols entry back onto the input
// pixel it was copied from. Each sample is summed by one thread in a fixed order.
template <typename T>
void col2im(const ConvShape& s, const T* dcols, T* dx) {
  const std::int64_t out_h = s.out_height();
  const std::int64_t out_w = s.out_width();
  const std::int64_t c = s.in_channels;
  const std::int64_t k = s.kernel;
  const std::int64_t patch = s.patch_size();
  FEDCHAIN_PARALLEL_FOR
  for (std::int64_t b = 0; b < s.batch; ++b) {
    T* image = dx + b * s.height * s.width * c;
    std::fill(image, image + s.height * s.width * c, T(0));
    for (std::int64_t oy = 0; oy < out_h; ++oy) {
      for (std::int64_t ox = 0; ox < out_w; ++ox) {
        const T* row = dcols + ((b * out_h + oy) * out_w + ox) * patch;
        for (std::int64_t ky = 0; ky < k; ++ky) {
          const std::int64_t iy = oy * s.stride - s.padding + ky;
          if (iy < 0 || iy >= s.height) continue;
          for (std::int64_t kx = 0; kx < k; ++kx) {
            const std::int64_t ix = ox * s.stride - s.padding + kx;
            if (ix < 0 || ix >= s.width) continue;
            T* dst = image + (iy * s.width + ix) * c;
            const T* src = row + (ky * k + kx) * c;
            for (std::int64_t ch = 0; ch < c; ++ch) dst[ch] += src[ch];
          }
        }
      }
    }
  }
}

// Convolutions walk the batch in blocks small enough that the block's im2col matrix stays
// in cache while the GEMM reads it (conv2 of the cnn has 627 KB of patches per sample).
// With several threads each thread takes a contiguous run of blocks, im2col and GEMM on its
// own (Eigen runs single-threaded inside a parallel region): one fork per op instead of one
// per block GEMM, and no packed panels shared between threads.
inline constexpr std::int64_t kConvBlockFloats = std::int64_t{1} << 19;

inline int current_thread() {
#if defined(_OPENMP)
  return omp_get_thread_num();
#else
  return 0;
#endif
}
inline int team_size() {
#if defined(_OPENMP)
  return omp_get_num_threads();
#else
  return 1;
#endif
}

// Samples per block: as many as fit in block_floats, but no more than a thread's share of
// the batch, so that every thread has a block to work on.
inline std::int64_t conv_block_samples(const ConvShape& s, std::int64_t block_floats,
                                       int threads = 1) {
  const std::int64_t per_sample = s.out_height() * s.out_width() * s.patch_size();
  const std::int64_t share = (s.batch + threads - 1) / std::max(threads, 1);
  return std::clamp<std::int64_t>(block_floats / std::max<std::int64_t>(per_sample, 1), 1,
                                  std::max<std::int64_t>(share, 1));
}

// Floats of scratch that conv2d_forward and conv2d_backward need: per thread one block's
// im2col matrix and its gradient, and per thread after the first a partial dw. Tests pass a
// small block_floats to split tiny batches too.
inline std::int64_t conv2d_workspace(const ConvShape& s,
                                     std::int64_t block_floats = kConvBlockFloats,
                                     int threads = 1) {
  const std::int64_t block_cols = conv_block_samples(s, block_floats, threads) * s.out_height() *
                                  s.out_width() * s.patch_size();
  return threads * 2 * block_cols + (threads - 1) * s.out_channels * s.patch_size();
}

template <typename T>
void conv2d_forward(const ConvShape& s, const T* x, const T* w, const T* b, T* y, T* workspace,
                    std::int64_t block_floats = kConvBlockFloats, int threads = 1) {
  const std::int64_t block = conv_block_samples(s, block_floats, threads);
  const std::int64_t blocks = (s.batch + block - 1) / block;
  const std::int64_t pixels = s.out_height() * s.out_width();
  const std::int64_t image = s.height * s.width * s.in_channels;
  ConstMatrixMap<T> weight(w, s.out_channels, s.patch_size());
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(threads) if (blocks > 1 && threads > 1)
#endif
  for (std::int64_t index = 0; index < blocks; ++index) {
    const std::int64_t first = index * block;
    T* cols = workspace + current_thread() * 2 * block * pixels * s.patch_size();
    ConvShape part = s;
    part.batch = std::min(block, s.batch - first);
    im2col(part, x + first * image, cols);
    ConstMatrixMap<T> patches(cols, part.batch * pixels, s.patch_size());
    MatrixMap<T> output(y + first * pixels * s.out_channels, part.batch * pixels, s.out_channels);
    output.noalias() = patches * weight.transpose();
    output.rowwise() += ConstRowVectorMap<T>(b, s.out_channels);
  }
}

// Rebuilds each block's im2col from x rather than keeping the whole batch's from forward:
// less memory and traffic than reading it back. Each thread sums dw over its blocks in
// order; the partial sums are then added in thread order, so for a given thread count the
// result does not depend on scheduling.
template <typename T>
void conv2d_backward(const ConvShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db,
                     T* workspace, std::int64_t block_floats = kConvBlockFloats, int threads = 1) {
  const std::int64_t block = conv_block_samples(s, block_floats, threads);
  const std::int64_t blocks = (s.batch + block - 1) / block;
  const std::int64_t pixels = s.out_height() * s.out_width();
  const std::int64_t image = s.height * s.width * s.in_channels;
  const std::int64_t block_cols = block * pixels * s.patch_size();
  const std::int64_t weights = s.out_channels * s.patch_size();
  T* partials = workspace + threads * 2 * block_cols;
  ConstMatrixMap<T> weight(w, s.out_channels, s.patch_size());
  RowVectorMap<T>(db, s.out_channels).noalias() =
      ConstMatrixMap<T>(dy, s.batch * pixels, s.out_channels).colwise().sum();
  int used_threads = 1;
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads) if (blocks > 1 && threads > 1)
#endif
  {
    const int thread = current_thread();
    const int team = team_size();
    if (thread == 0) used_threads = team;
    T* cols = workspace + thread * 2 * block_cols;
    T* dcols = cols + block_cols;
    MatrixMap<T> grad_weight(thread == 0 ? dw : partials + (thread - 1) * weights, s.out_channels,
                             s.patch_size());
    grad_weight.setZero();
    for (std::int64_t index = blocks * thread / team; index < blocks * (thread + 1) / team;
         ++index) {
      const std::int64_t first = index * block;
      ConvShape part = s;
      part.batch = std::min(block, s.batch - first);
      im2col(part, x + first * image, cols);
      ConstMatrixMap<T> patches(cols, part.batch * pixels, s.patch_size());
      ConstMatrixMap<T> grad_out(dy + first * pixels * s.out_channels, part.batch * pixels,
                                 s.out_channels);
      grad_weight.noalias() += grad_out.transpose() * patches;
      if (dx == nullptr) continue;
      MatrixMap<T>(dcols, part.batch * pixels, s.patch_size()).noalias() = grad_out * weight;
      col2im(part, dcols, dx + first * image);
    }
  }
  for (int thread = 1; thread < used_threads; ++thread) {
    const T* partial = partials + (thread - 1) * weights;
    for (std::int64_t i = 0; i < weights; ++i) dw[i] += partial[i];
  }
}

template <typename T>
void maxpool2x2_forward(const PoolShape& s, const T* x, T* y) {
  const std::int64_t out_h = s.out_height();
  const std::int64_t out_w = s.out_width();
  const std::int64_t c = s.channels;
  FEDCHAIN_PARALLEL_FOR
  for (std::int64_t b = 0; b < s.batch; ++b) {
    for (std::int64_t oy = 0; oy < out_h; ++oy) {
      const T* top = x + ((b * s.height + 2 * oy) * s.width) * c;
      const T* bottom = top + s.width * c;
      T* out = y + ((b * out_h + oy) * out_w) * c;
      for (std::int64_t ox = 0; ox < out_w; ++ox) {
        const T* t = top + 2 * ox * c;
        const T* u = bottom + 2 * ox * c;
        for (std::int64_t ch = 0; ch < c; ++ch) {
          out[ox * c + ch] = std::max(std::max(t[ch], t[c + ch]), std::max(u[ch], u[c + ch]));
        }
      }
    }
  }
}

// Writes every element of dx once (the window's winner gets dy, the rest 0; a dropped odd
// row or column 0) rather than clearing dx and scattering: one pass over dx, not two, and a
// branch-free inner loop over channels that the compiler vectorizes.
template <typename T>
void maxpool2x2_backward(const PoolShape& s, const T* x, const T* dy, T* dx) {
  const std::int64_t out_h = s.out_height();
  const std::int64_t out_w = s.out_width();
  const std::int64_t c = s.channels;
  const std::int64_t row = s.width * c;
  FEDCHAIN_PARALLEL_FOR
  for (std::int64_t b = 0; b < s.batch; ++b) {
    for (std::int64_t oy = 0; oy < out_h; ++oy) {
      const std::int64_t top = (b * s.height + 2 * oy) * row;
      const T* grad_row = dy + (b * out_h + oy) * out_w * c;
      for (std::int64_t ox = 0; ox < out_w; ++ox) {
        const T* t = x + top + 2 * ox * c;
        const T* u = t + row;
        const T* grad = grad_row + ox * c;
        T* dt = dx + top + 2 * ox * c;
        T* du = dt + row;
        for (std::int64_t ch = 0; ch < c; ++ch) {
          // The first maximum wins, in the order top-left, top-right, bottom-left, bottom-right.
          T best = t[ch];
          const bool right = t[c + ch] > best;
          best = right ? t[c + ch] : best;
          const bool below = u[ch] > best;
          best = below ? u[ch] : best;
          const bool below_right = u[c + ch] > best;
          const T g = grad[ch];
          du[c + ch] = below_right ? g : T(0);
          du[ch] = below && !below_right ? g : T(0);
          dt[c + ch] = right && !below && !below_right ? g : T(0);
          dt[ch] = !right && !below && !below_right ? g : T(0);
        }
      }
      if (s.width % 2 != 0) {  // the dropped last column of both rows
        std::fill(dx + top + (s.width - 1) * c, dx + top + row, T(0));
        std::fill(dx + top + row + (s.width - 1) * c, dx + top + 2 * row, T(0));
      }
    }
    if (s.height % 2 != 0) {  // the dropped last row
      T* last = dx + (b * s.height + s.height - 1) * row;
      std::fill(last, last + row, T(0));
    }
  }
}

// Calls window(corner, out) for every pooling window, sample by sample (the samples split
// over threads, each sample's windows in (oy, ox) order): corner is the flat index of the
// window's top-left input pixel times the channels, out its output pixel's. `first(b)` runs
// before sample b's windows.
template <typename First, typename Window>
void for_each_window(const PoolShape& s, const First& first, const Window& window) {
  const std::int64_t out_h = s.out_height();
  const std::int64_t out_w = s.out_width();
  const std::int64_t c = s.channels;
  FEDCHAIN_PARALLEL_FOR
  for (std::int64_t b = 0; b < s.batch; ++b) {
    first(b);
    for (std::int64_t oy = 0; oy < out_h; ++oy) {
      for (std::int64_t ox = 0; ox < out_w; ++ox) {
        window(((b * s.height + oy * s.stride) * s.width + ox * s.stride) * c,
               ((b * out_h + oy) * out_w + ox) * c);
      }
    }
  }
}

template <typename Window>
void for_each_window(const PoolShape& s, const Window& window) {
  for_each_window(
      s, [](std::int64_t) {}, window);
}

// The flat index of the first maximum of the window at `corner` in channel ch, in row-major
// order (a later value wins only if strictly larger, as in the 2x2 path).
template <typename T>
std::int64_t window_winner(const PoolShape& s, const T* x, std::int64_t corner, std::int64_t ch) {
  std::int64_t winner = corner + ch;
  for (std::int64_t ky = 0; ky < s.kernel; ++ky) {
    for (std::int64_t kx = 0; kx < s.kernel; ++kx) {
      const std::int64_t at = corner + (ky * s.width + kx) * s.channels + ch;
      winner = x[at] > x[winner] ? at : winner;
    }
  }
  return winner;
}

// Any window and stride. Forward: the window's first maximum.
template <typename T>
void maxpool_forward(const PoolShape& s, const T* x, T* y) {
  if (s.kernel == 2 && s.stride == 2) return maxpool2x2_forward(s, x, y);
  for_each_window(s, [&](std::int64_t corner, std::int64_t out) {
    for (std::int64_t ch = 0; ch < s.channels; ++ch)
      y[out + ch] = x[window_winner(s, x, corner, ch)];
  });
}

// Each window's dy goes to its first maximum; dx is cleared first and the windows are
// visited in (oy, ox) order, so overlapping windows add in a fixed order.
template <typename T>
void maxpool_backward(const PoolShape& s, const T* x, const T* dy, T* dx) {
  if (s.kernel == 2 && s.stride == 2) return maxpool2x2_backward(s, x, dy, dx);
  const std::int64_t image = s.height * s.width * s.channels;
  for_each_window(
      s, [&](std::int64_t b) { std::fill(dx + b * image, dx + (b + 1) * image, T(0)); },
      [&](std::int64_t corner, std::int64_t out) {
        for (std::int64_t ch = 0; ch < s.channels; ++ch) {
          dx[window_winner(s, x, corner, ch)] += dy[out + ch];
        }
      });
}

// The window's sum in row-major order, divided by kernel * kernel.
template <typename T>
void avgpool_forward(const PoolShape& s, const T* x, T* y) {
  const T area = static_cast<T>(s.kernel * s.kernel);
  for_each_window(s, [&](std::int64_t corner, std::int64_t out) {
    for (std::int64_t ch = 0; ch < s.channels; ++ch) {
      T sum = 0;
      for (std::int64_t ky = 0; ky < s.kernel; ++ky) {
        for (std::int64_t kx = 0; kx < s.kernel; ++kx) {
          sum += x[corner + (ky * s.width + kx) * s.channels + ch];
        }
      }
      y[out + ch] = sum / area;
    }
  });
}

// dx = the sum, over the windows covering each pixel in (oy, ox) order, of dy / area.
template <typename T>
void avgpool_backward(const PoolShape& s, const T* dy, T* dx) {
  const std::int64_t image = s.height * s.width * s.channels;
  const T area = static_cast<T>(s.kernel * s.kernel);
  for_each_window(
      s, [&](std::int64_t b) { std::fill(dx + b * image, dx + (b + 1) * image, T(0)); },
      [&](std::int64_t corner, std::int64_t out) {
        for (std::int64_t ky = 0; ky < s.kernel; ++ky) {
          for (std::int64_t kx = 0; kx < s.kernel; ++kx) {
            T* at = dx + corner + (ky * s.width + kx) * s.channels;
            for (std::int64_t ch = 0; ch < s.channels; ++ch) at[ch] += dy[out + ch] / area;
          }
        }
      });
}

// Group g of sample b: its mean and 1 / sqrt(var + eps), summed pixel by pixel, channel by
// channel (the order the CUDA backend follows too).
template <typename T>
void groupnorm_forward(const GroupNormShape& s, const T* x, const T* weight, const T* bias, T* y,
                       T* stats) {
  const std::int64_t per_group = s.channels / s.groups;
  const T count = static_cast<T>(s.group_size());
  FEDCHAIN_PARALLEL_FOR
  for (std::int64_t b = 0; b < s.batch; ++b) {
    const T* sample = x + b * s.pixels * s.channels;
    T* out = y + b * s.pixels * s.channels;
    for (std::int64_t g = 0; g < s.groups; ++g) {
      const std::int64_t first = g * per_group;
      T sum = 0;
      for (std::int64_t p = 0; p < s.pixels; ++p) {
        for (std::int64_t ch = first; ch < first + per_group; ++ch)
          sum += sample[p * s.channels + ch];
      }
      const T mean = sum / count;
      T squares = 0;
      for (std::int64_t p = 0; p < s.pixels; ++p) {
        for (std::int64_t ch = first; ch < first + per_group; ++ch) {
          const T centred = sample[p * s.channels + ch] - mean;
          squares += centred * centred;
        }
      }
      const T rstd = T(1) / std::sqrt(squares / count + T(kGroupNormEpsilon));
      stats[(b * s.groups + g) * 2] = mean;
      stats[(b * s.groups + g) * 2 + 1] = rstd;
      for (std::int64_t p = 0; p < s.pixels; ++p) {
        for (std::int64_t ch = first; ch < first + per_group; ++ch) {
          const std::int64_t at = p * s.channels + ch;
          out[at] = (sample[at] - mean) * rstd * weight[ch] + bias[ch];
        }
      }
    }
  }
}

// dbias[c] = sum dy, dweight[c] = sum dy * xhat over every sample and pixel, in that order;
// dx = rstd * (dy * w - mean(dy * w) - xhat * mean(dy * w * xhat)), the means over the group.
template <typename T>
void groupnorm_backward(const GroupNormShape& s, const T* x, const T* weight, const T* stats,
                        const T* dy, T* dx, T* dweight, T* dbias) {
  const std::int64_t per_group = s.channels / s.groups;
  const T count = static_cast<T>(s.group_size());
  auto xhat = [&](std::int64_t b, std::int64_t at, std::int64_t ch) {
    const T* group = stats + (b * s.groups + ch / per_group) * 2;
    return (x[at] - group[0]) * group[1];
  };
  std::fill(dweight, dweight + s.channels, T(0));
  std::fill(dbias, dbias + s.channels, T(0));
  for (std::int64_t b = 0; b < s.batch; ++b) {
    for (std::int64_t p = 0; p < s.pixels; ++p) {
      for (std::int64_t ch = 0; ch < s.channels; ++ch) {
        const std::int64_t at = (b * s.pixels + p) * s.channels + ch;
        dweight[ch] += dy[at] * xhat(b, at, ch);
        dbias[ch] += dy[at];
      }
    }
  }
  if (dx == nullptr) return;
  FEDCHAIN_PARALLEL_FOR
  for (std::int64_t b = 0; b < s.batch; ++b) {
    for (std::int64_t g = 0; g < s.groups; ++g) {
      const std::int64_t first = g * per_group;
      const T rstd = stats[(b * s.groups + g) * 2 + 1];
      T sum = 0, projected = 0;
      for (std::int64_t p = 0; p < s.pixels; ++p) {
        for (std::int64_t ch = first; ch < first + per_group; ++ch) {
          const std::int64_t at = (b * s.pixels + p) * s.channels + ch;
          const T scaled = dy[at] * weight[ch];
          sum += scaled;
          projected += scaled * xhat(b, at, ch);
        }
      }
      const T mean_scaled = sum / count;
      const T mean_projected = projected / count;
      for (std::int64_t p = 0; p < s.pixels; ++p) {
        for (std::int64_t ch = first; ch < first + per_group; ++ch) {
          const std::int64_t at = (b * s.pixels + p) * s.channels + ch;
          dx[at] = rstd * (dy[at] * weight[ch] - mean_scaled - xhat(b, at, ch) * mean_projected);
        }
      }
    }
  }
}

template <typename T>
void dropout(std::int64_t n, const DropoutMask& mask, const T* x, T* y) {
  const T scale = static_cast<T>(mask.scale);
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (n >= kParallelElements)
#endif
  for (std::int64_t i = 0; i < n; ++i) y[i] = mask.keeps(i) ? x[i] * scale : T(0);
}

template <typename T>
void relu_forward(std::int64_t n, const T* x, T* y) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] > T(0) ? x[i] : T(0);
}

template <typename T>
void relu_backward(std::int64_t n, const T* y, const T* dy, T* dx) {
  for (std::int64_t i = 0; i < n; ++i) dx[i] = y[i] > T(0) ? dy[i] : T(0);
}

template <typename T>
void softmax_xent_forward(std::int64_t batch, std::int64_t classes, const T* logits,
                          const std::int32_t* labels, T* probs, T* losses) {
  for (std::int64_t b = 0; b < batch; ++b) {
    const T* row = logits + b * classes;
    T* p = probs + b * classes;
    const T max = *std::max_element(row, row + classes);
    T sum = 0;
    for (std::int64_t k = 0; k < classes; ++k) {
      p[k] = std::exp(row[k] - max);
      sum += p[k];
    }
    for (std::int64_t k = 0; k < classes; ++k) p[k] /= sum;
    losses[b] = std::log(sum) - (row[labels[b]] - max);  // shifted first: no big + small
  }
}

template <typename T>
void softmax_xent_backward(std::int64_t batch, std::int64_t classes, const T* probs,
                           const std::int32_t* labels, T* dlogits) {
  const T scale = T(1) / static_cast<T>(batch);
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t k = 0; k < classes; ++k) {
      const T target = k == labels[b] ? T(1) : T(0);
      dlogits[b * classes + k] = (probs[b * classes + k] - target) * scale;
    }
  }
}

// The gradient the optimizers step on: loss gradient + L2 + FedProx pull to the anchor.
template <typename T>
T regularised_gradient(T grad, T param, T weight_decay, T prox_mu, const T* anchor,
                       std::int64_t i) {
  T g = grad + weight_decay * param;
  if (anchor != nullptr) g += prox_mu * (param - anchor[i]);
  return g;
}

template <typename T>
void sgd_step(const SgdSettings& s, std::int64_t n, T* params, const T* grads, T* velocity,
              const T* anchor) {
  const T lr = s.lr, momentum = s.momentum, decay = s.weight_decay, mu = s.prox_mu;
  const bool use_anchor = anchor != nullptr && mu != T(0);
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (n >= kParallelElements)
#endif
  for (std::int64_t i = 0; i < n; ++i) {
    const T g =
        regularised_gradient(grads[i], params[i], decay, mu, use_anchor ? anchor : nullptr, i);
    if (momentum != T(0)) {
      velocity[i] = momentum * velocity[i] + g;
      params[i] -= lr * velocity[i];
    } else {
      params[i] -= lr * g;
    }
  }
}

template <typename T>
void adam_step(const AdamSettings& s, std::int64_t step, std::int64_t n, T* params, const T* grads,
               T* m, T* v, const T* anchor) {
  const T beta1 = s.beta1, beta2 = s.beta2, epsilon = s.epsilon;
  const T decay = s.weight_decay, mu = s.prox_mu;
  const T correction1 = T(1) / static_cast<T>(1.0 - std::pow(double(s.beta1), double(step)));
  const T correction2 = T(1) / static_cast<T>(1.0 - std::pow(double(s.beta2), double(step)));
  const T lr = s.lr;
  const bool use_anchor = anchor != nullptr && mu != T(0);
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) if (n >= kParallelElements)
#endif
  for (std::int64_t i = 0; i < n; ++i) {
    const T g =
        regularised_gradient(grads[i], params[i], decay, mu, use_anchor ? anchor : nullptr, i);
    m[i] = beta1 * m[i] + (T(1) - beta1) * g;
    v[i] = beta2 * v[i] + (T(1) - beta2) * g * g;
    params[i] -= lr * (m[i] * correction1) / (std::sqrt(v[i] * correction2) + epsilon);
  }
}

}  // namespace fedchain::train::cpu
