// The CUDA training backend (fedchain/kernels/train_backend.hpp): train::Backend's ops on
// one GPU, each the twin of its CPU template in src/train/cpu_ops.hpp. Everything runs in
// order on one stream; the GEMMs are cuBLAS's, bound to that stream; the rest are the
// kernels below, one thread per output element with a grid-stride loop, so that every
// output is written by one thread in a fixed order (no atomics, no races).
// defines: make_cuda_backend; kernels fill, add_bias_rows, column_sums, im2col,
//          col2im_gather, maxpool2x2_{forward,backward}, relu_{forward,backward},
//          softmax_xent_{forward,backward}, sgd_step, adam_step
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "fedchain/kernels/train_backend.hpp"
#include "launch.cuh"

namespace fedchain::gpu {

namespace {

using train::AdamSettings;
using train::Buffer;
using train::ConvShape;
using train::DenseShape;
using train::PoolShape;
using train::SgdSettings;

// Convolutions run im2col + GEMM over blocks of samples whose im2col matrix holds at most
// this many floats (128 MiB). The models' layers fit whole (the cnn's conv2 at batch 64 is
// 10M floats), so each is one large GEMM, which is what keeps a GPU busy; the cap only
// bounds memory for large evaluation batches.
constexpr std::int64_t kConvBlockFloats = std::int64_t{1} << 25;

// column_sums: a block covers 32 adjacent columns (a warp reads 32 consecutive floats of a
// row) with 32 row lanes; lane l sums rows l, l + 32, ... in order, then lane 0 adds the
// 32 lane sums in lane order. A fixed order, whatever the scheduling.
constexpr int kSumColumns = 32;
constexpr int kSumLanes = 32;

std::int64_t conv_block_samples(const ConvShape& s) {
  const std::int64_t per_sample = s.out_height() * s.out_width() * s.patch_size();
  return std::clamp<std::int64_t>(kConvBlockFloats / std::max<std::int64_t>(per_sample, 1), 1,
                                  std::max<std::int64_t>(s.batch, 1));
}

// The shape numbers the conv kernels index with.
struct ConvGeometry {
  std::int64_t height, width, channels, kernel, stride, padding, out_height, out_width, patch;
};

ConvGeometry geometry(const ConvShape& s) {
  return {s.height,  s.width,        s.in_channels, s.kernel,      s.stride,
          s.padding, s.out_height(), s.out_width(), s.patch_size()};
}

__device__ inline std::int64_t smaller(std::int64_t a, std::int64_t b) {
  return a < b ? a : b;
}

__device__ inline std::int64_t index0() {
  return static_cast<std::int64_t>(first_index());
}
__device__ inline std::int64_t stride0() {
  return static_cast<std::int64_t>(grid_stride());
}

__global__ void fill_kernel(float* x, std::int64_t n, float value) {
  for (std::int64_t i = index0(); i < n; i += stride0()) x[i] = value;
}

// y (rows, cols) += b (cols): the bias after the GEMM, as the CPU adds it after its product.
__global__ void add_bias_rows_kernel(float* y, const float* b, std::int64_t rows,
                                     std::int64_t cols) {
  const std::int64_t n = rows * cols;
  for (std::int64_t i = index0(); i < n; i += stride0()) y[i] = y[i] + b[i % cols];
}

// sums (cols) = column sums of a (rows, cols); blockDim (kSumColumns, kSumLanes).
__global__ void column_sums_kernel(const float* a, std::int64_t rows, std::int64_t cols,
                                   float* sums) {
  __shared__ float lane_sums[kSumLanes][kSumColumns + 1];  // +1: no bank conflicts
  const std::int64_t column = static_cast<std::int64_t>(blockIdx.x) * kSumColumns + threadIdx.x;
  float sum = 0.0f;
  if (column < cols) {
    for (std::int64_t row = threadIdx.y; row < rows; row += kSumLanes)
      sum += a[row * cols + column];
  }
  lane_sums[threadIdx.y][threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.y == 0 && column < cols) {
    float total = 0.0f;
    for (int lane = 0; lane < kSumLanes; ++lane) total += lane_sums[lane][threadIdx.x];
    sums[column] = total;
  }
}

// cols (samples * OH * OW, k * k * C): element i is patch entry q = (ky, kx, ch) of output
// pixel row = (b, oy, ox); zero where the patch hangs over the padding.
__global__ void im2col_kernel(ConvGeometry g, const float* x, std::int64_t samples, float* cols) {
  const std::int64_t n = samples * g.out_height * g.out_width * g.patch;
  for (std::int64_t i = index0(); i < n; i += stride0()) {
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
}

// The first output coordinate o >= 0 whose window [o * stride, o * stride + kernel) covers
// `position` (an input coordinate plus the padding): o * stride >= position - kernel + 1.
__device__ inline std::int64_t first_covering(std::int64_t position, std::int64_t kernel,
                                              std::int64_t stride) {
  const std::int64_t lowest = position - kernel + 1;
  return lowest <= 0 ? 0 : (lowest + stride - 1) / stride;
}

// col2im as a gather: each input element (b, iy, ix, ch) sums the dcols entries that im2col
// copied it to, i.e. output pixels (oy, ox) with ky = iy + padding - oy * stride in
// [0, kernel) (likewise x), in the CPU's order (oy, then ox, ascending). No scatter, so no
// atomics; a pixel no window covers gets 0.
__global__ void col2im_gather_kernel(ConvGeometry g, const float* dcols, std::int64_t samples,
                                     float* dx) {
  const std::int64_t n = samples * g.height * g.width * g.channels;
  for (std::int64_t i = index0(); i < n; i += stride0()) {
    const std::int64_t ch = i % g.channels;
    const std::int64_t ix = (i / g.channels) % g.width;
    const std::int64_t iy = (i / (g.channels * g.width)) % g.height;
    const std::int64_t b = i / (g.channels * g.width * g.height);
    const std::int64_t py = iy + g.padding;
    const std::int64_t px = ix + g.padding;
    const std::int64_t y_last = smaller(g.out_height - 1, py / g.stride);
    const std::int64_t x_last = smaller(g.out_width - 1, px / g.stride);
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
}

// std::max's choice (the first argument unless the second is larger), so that ties and
// NaNs pick what the CPU picks.
__device__ inline float larger(float a, float b) {
  return a < b ? b : a;
}

// y (B, H/2, W/2, C): one thread per output element.
__global__ void maxpool2x2_forward_kernel(PoolShape s, const float* x, float* y) {
  const std::int64_t out_h = s.height / 2;
  const std::int64_t out_w = s.width / 2;
  const std::int64_t c = s.channels;
  const std::int64_t n = s.batch * out_h * out_w * c;
  for (std::int64_t i = index0(); i < n; i += stride0()) {
    const std::int64_t ch = i % c;
    const std::int64_t ox = (i / c) % out_w;
    const std::int64_t oy = (i / (c * out_w)) % out_h;
    const std::int64_t b = i / (c * out_w * out_h);
    const float* t = x + ((b * s.height + 2 * oy) * s.width + 2 * ox) * c + ch;
    const float* u = t + s.width * c;
    y[i] = larger(larger(t[0], t[c]), larger(u[0], u[c]));
  }
}

// dx (B, H, W, C): one thread per input element. It finds its window's first maximum with
// the CPU's comparisons (top-left, top-right, bottom-left, bottom-right; a later value wins
// only if strictly larger) and takes dy if it is that element, else 0; a dropped odd row or
// column gets 0.
__global__ void maxpool2x2_backward_kernel(PoolShape s, const float* x, const float* dy,
                                           float* dx) {
  const std::int64_t out_h = s.height / 2;
  const std::int64_t out_w = s.width / 2;
  const std::int64_t c = s.channels;
  const std::int64_t n = s.batch * s.height * s.width * c;
  for (std::int64_t i = index0(); i < n; i += stride0()) {
    const std::int64_t ch = i % c;
    const std::int64_t ix = (i / c) % s.width;
    const std::int64_t iy = (i / (c * s.width)) % s.height;
    const std::int64_t b = i / (c * s.width * s.height);
    const std::int64_t oy = iy / 2;
    const std::int64_t ox = ix / 2;
    if (oy >= out_h || ox >= out_w) {
      dx[i] = 0.0f;
      continue;
    }
    const float* t = x + ((b * s.height + 2 * oy) * s.width + 2 * ox) * c + ch;
    const float* u = t + s.width * c;
    float best = t[0];
    const bool right = t[c] > best;
    best = right ? t[c] : best;
    const bool below = u[0] > best;
    best = below ? u[0] : best;
    const bool below_right = u[c] > best;
    const int winner = below_right ? 3 : below ? 2 : right ? 1 : 0;
    const int position = static_cast<int>((iy - 2 * oy) * 2 + (ix - 2 * ox));
    dx[i] = position == winner ? dy[((b * out_h + oy) * out_w + ox) * c + ch] : 0.0f;
  }
}

__global__ void relu_forward_kernel(std::int64_t n, const float* x, float* y) {
  for (std::int64_t i = index0(); i < n; i += stride0()) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

__global__ void relu_backward_kernel(std::int64_t n, const float* y, const float* dy, float* dx) {
  for (std::int64_t i = index0(); i < n; i += stride0()) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

// One thread per sample: the class count is small (10), and a row summed by one thread is
// summed in the CPU's order. A label outside [0, classes) gives a NaN loss rather than a
// read outside the row.
__global__ void softmax_xent_forward_kernel(std::int64_t batch, std::int64_t classes,
                                            const float* logits, const std::int32_t* labels,
                                            float* probs, float* losses) {
  for (std::int64_t b = index0(); b < batch; b += stride0()) {
    const float* row = logits + b * classes;
    float* p = probs + b * classes;
    float max = row[0];
    for (std::int64_t k = 1; k < classes; ++k) max = max < row[k] ? row[k] : max;
    float sum = 0.0f;
    for (std::int64_t k = 0; k < classes; ++k) {
      p[k] = expf(row[k] - max);
      sum += p[k];
    }
    for (std::int64_t k = 0; k < classes; ++k) p[k] /= sum;
    const std::int32_t label = labels[b];
    losses[b] = label >= 0 && label < classes ? logf(sum) - (row[label] - max) : nanf("");
  }
}

__global__ void softmax_xent_backward_kernel(std::int64_t batch, std::int64_t classes,
                                             const float* probs, const std::int32_t* labels,
                                             float scale, float* dlogits) {
  const std::int64_t n = batch * classes;
  for (std::int64_t i = index0(); i < n; i += stride0()) {
    const float target = i % classes == labels[i / classes] ? 1.0f : 0.0f;
    dlogits[i] = (probs[i] - target) * scale;
  }
}

// The optimizers, line for line as cpu::sgd_step and cpu::adam_step (the library builds
// with --fmad=false, so each a * b + c rounds twice there too). anchor is null unless the
// FedProx term is on.
__global__ void sgd_step_kernel(SgdSettings s, std::int64_t n, float* params, const float* grads,
                                float* velocity, const float* anchor) {
  for (std::int64_t i = index0(); i < n; i += stride0()) {
    float g = grads[i] + s.weight_decay * params[i];
    if (anchor != nullptr) g += s.prox_mu * (params[i] - anchor[i]);
    if (s.momentum != 0.0f) {
      velocity[i] = s.momentum * velocity[i] + g;
      params[i] -= s.lr * velocity[i];
    } else {
      params[i] -= s.lr * g;
    }
  }
}

// correction1, correction2: Adam's bias corrections 1 / (1 - beta^step), computed on the
// host in double and rounded to float as the CPU does.
__global__ void adam_step_kernel(AdamSettings s, float correction1, float correction2,
                                 std::int64_t n, float* params, const float* grads, float* m,
                                 float* v, const float* anchor) {
  const float keep1 = 1.0f - s.beta1;
  const float keep2 = 1.0f - s.beta2;
  for (std::int64_t i = index0(); i < n; i += stride0()) {
    float g = grads[i] + s.weight_decay * params[i];
    if (anchor != nullptr) g += s.prox_mu * (params[i] - anchor[i]);
    m[i] = s.beta1 * m[i] + keep1 * g;
    v[i] = s.beta2 * v[i] + keep2 * g * g;
    params[i] -= s.lr * (m[i] * correction1) / (sqrtf(v[i] * correction2) + s.epsilon);
  }
}

void free_device(void* pointer) {
  // Nothing to report to: a deleter returns void, and at process exit the runtime may
  // already be unloading.
  if (pointer != nullptr) cudaFree(pointer);
}

class CudaBackend final : public train::Backend {
 public:
  CudaBackend(int device, cudaStream_t stream, cublasHandle_t blas)
      : device_(device), name_(fmt::format("cuda:{}", device)), stream_(stream), blas_(blas) {}
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    cublasDestroy(blas_);
    cudaStreamDestroy(stream_);
  }

  std::string name() const override { return name_; }
  int threads() const override { return 1; }

  Result<Buffer> allocate(std::size_t bytes) override {
    if (bytes == 0) return Buffer(nullptr, 0, [](void*) {});
    void* data = nullptr;
    if (const cudaError_t status = cudaMalloc(&data, bytes); status != cudaSuccess) {
      cudaGetLastError();  // out of memory is not sticky: clear it so later checks pass
      return runtime_error("{}: cannot allocate {} bytes of device memory: CUDA error {} ({})",
                           name_, bytes, static_cast<int>(status), cudaGetErrorString(status));
    }
    // Zeroed, as the CPU backend's buffers are; on the stream, so it lands before any op.
    if (const cudaError_t status = cudaMemsetAsync(data, 0, bytes, stream_);
        status != cudaSuccess) {
      cudaFree(data);
      return runtime_error("{}: cannot clear {} new bytes: CUDA error {} ({})", name_, bytes,
                           static_cast<int>(status), cudaGetErrorString(status));
    }
    return Buffer(data, bytes, free_device);
  }

  // Returns once the bytes are on the device, so the caller may reuse src at once (a
  // pinned src would otherwise still be read after the call).
  void upload(Buffer& dst, const void* src, std::size_t bytes, std::size_t offset) override {
    if (bytes == 0) return;
    check(cudaMemcpyAsync(static_cast<char*>(dst.data()) + offset, src, bytes,
                          cudaMemcpyHostToDevice, stream_),
          "upload");
    check(cudaStreamSynchronize(stream_), "upload");
  }
  void download(void* dst, const Buffer& src, std::size_t bytes, std::size_t offset) override {
    if (bytes == 0) return;
    check(cudaMemcpyAsync(dst, static_cast<const char*>(src.data()) + offset, bytes,
                          cudaMemcpyDeviceToHost, stream_),
          "download");
    check(cudaStreamSynchronize(stream_), "download");
  }
  void fill(float* x, std::int64_t n, float value) override {
    if (n <= 0) return;
    fill_kernel<<<blocks(n), kThreads, 0, stream_>>>(x, n, value);
    check_launch("fill");
  }
  void copy(float* dst, const float* src, std::int64_t n) override {
    if (n <= 0) return;
    check(cudaMemcpyAsync(dst, src, static_cast<std::size_t>(n) * sizeof(float),
                          cudaMemcpyDeviceToDevice, stream_),
          "copy");
  }
  void synchronize() override { check(cudaStreamSynchronize(stream_), "synchronize"); }

  // Row-major (r, c) with leading dimension c is, to column-major cuBLAS, the (c, r) matrix
  // of its transpose. So each row-major product is computed as its transpose:
  //   y (B, out) = x w^T    ->  y^T (out, B) = op_T(w: col-major (in, out), ld in)
  //                                            * op_N(x: col-major (in, B), ld in); ld y = out
  void dense_forward(const DenseShape& s, const float* x, const float* w, const float* b,
                     float* y) override {
    gemm("dense_forward", CUBLAS_OP_T, CUBLAS_OP_N, s.out, s.batch, s.in, w, s.in, x, s.in, 0.0f, y,
         s.out);
    add_bias(y, b, s.batch, s.out, "dense_forward bias");
  }
  //   dw (out, in) = dy^T x ->  dw^T (in, out) = op_N(x: (in, B), ld in)
  //                                              * op_T(dy: col-major (out, B), ld out); ld in
  //   dx (B, in) = dy w     ->  dx^T (in, B) = op_N(w: (in, out), ld in)
  //                                            * op_N(dy: (out, B), ld out); ld in
  void dense_backward(const DenseShape& s, const float* x, const float* w, const float* dy,
                      float* dx, float* dw, float* db) override {
    gemm("dense_backward dw", CUBLAS_OP_N, CUBLAS_OP_T, s.in, s.out, s.batch, x, s.in, dy, s.out,
         0.0f, dw, s.in);
    column_sums(dy, s.batch, s.out, db, "dense_backward db");
    if (dx != nullptr) {
      gemm("dense_backward dx", CUBLAS_OP_N, CUBLAS_OP_N, s.in, s.batch, s.out, w, s.in, dy, s.out,
           0.0f, dx, s.in);
    }
  }

  // One block's im2col matrix and its gradient (the latter only used by backward with dx).
  std::int64_t conv2d_workspace(const ConvShape& s) const override {
    return 2 * conv_block_samples(s) * s.out_height() * s.out_width() * s.patch_size();
  }
  // Per block of samples: cols = im2col(x), then the dense products with in = k * k * C,
  // out = O and B = samples * OH * OW rows (the derivations above).
  void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y,
                      float* workspace) override {
    const std::int64_t block = conv_block_samples(s);
    const std::int64_t pixels = s.out_height() * s.out_width();
    const std::int64_t image = s.height * s.width * s.in_channels;
    const std::int64_t patch = s.patch_size();
    for (std::int64_t first = 0; first < s.batch; first += block) {
      const std::int64_t samples = std::min(block, s.batch - first);
      const std::int64_t rows = samples * pixels;
      im2col(s, x + first * image, samples, workspace);
      float* out = y + first * pixels * s.out_channels;
      gemm("conv2d_forward", CUBLAS_OP_T, CUBLAS_OP_N, s.out_channels, rows, patch, w, patch,
           workspace, patch, 0.0f, out, s.out_channels);
      add_bias(out, b, rows, s.out_channels, "conv2d_forward bias");
    }
  }
  // Rebuilds each block's cols from x; dw sums over blocks in block order (beta = 1 after
  // the first), dcols = dy w, and col2im gathers dcols into dx.
  void conv2d_backward(const ConvShape& s, const float* x, const float* w, const float* dy,
                       float* dx, float* dw, float* db, float* workspace) override {
    const std::int64_t block = conv_block_samples(s);
    const std::int64_t pixels = s.out_height() * s.out_width();
    const std::int64_t image = s.height * s.width * s.in_channels;
    const std::int64_t patch = s.patch_size();
    float* cols = workspace;
    float* dcols = workspace + block * pixels * patch;
    column_sums(dy, s.batch * pixels, s.out_channels, db, "conv2d_backward db");
    for (std::int64_t first = 0; first < s.batch; first += block) {
      const std::int64_t samples = std::min(block, s.batch - first);
      const std::int64_t rows = samples * pixels;
      const float* grad_out = dy + first * pixels * s.out_channels;
      im2col(s, x + first * image, samples, cols);
      gemm("conv2d_backward dw", CUBLAS_OP_N, CUBLAS_OP_T, patch, s.out_channels, rows, cols, patch,
           grad_out, s.out_channels, first == 0 ? 0.0f : 1.0f, dw, patch);
      if (dx == nullptr) continue;
      gemm("conv2d_backward dcols", CUBLAS_OP_N, CUBLAS_OP_N, patch, rows, s.out_channels, w, patch,
           grad_out, s.out_channels, 0.0f, dcols, patch);
      const std::int64_t n = samples * image;
      col2im_gather_kernel<<<blocks(n), kThreads, 0, stream_>>>(geometry(s), dcols, samples,
                                                                dx + first * image);
      check_launch("conv2d_backward col2im");
    }
  }

  void maxpool2x2_forward(const PoolShape& s, const float* x, float* y) override {
    const std::int64_t n = s.batch * s.out_height() * s.out_width() * s.channels;
    if (n <= 0) return;
    maxpool2x2_forward_kernel<<<blocks(n), kThreads, 0, stream_>>>(s, x, y);
    check_launch("maxpool2x2_forward");
  }
  void maxpool2x2_backward(const PoolShape& s, const float* x, const float* dy,
                           float* dx) override {
    const std::int64_t n = s.batch * s.height * s.width * s.channels;
    if (n <= 0) return;
    maxpool2x2_backward_kernel<<<blocks(n), kThreads, 0, stream_>>>(s, x, dy, dx);
    check_launch("maxpool2x2_backward");
  }
  void relu_forward(std::int64_t n, const float* x, float* y) override {
    if (n <= 0) return;
    relu_forward_kernel<<<blocks(n), kThreads, 0, stream_>>>(n, x, y);
    check_launch("relu_forward");
  }
  void relu_backward(std::int64_t n, const float* y, const float* dy, float* dx) override {
    if (n <= 0) return;
    relu_backward_kernel<<<blocks(n), kThreads, 0, stream_>>>(n, y, dy, dx);
    check_launch("relu_backward");
  }
  void softmax_xent_forward(std::int64_t batch, std::int64_t classes, const float* logits,
                            const std::int32_t* labels, float* probs, float* losses) override {
    if (batch <= 0 || classes <= 0) return;
    softmax_xent_forward_kernel<<<blocks(batch), kThreads, 0, stream_>>>(batch, classes, logits,
                                                                         labels, probs, losses);
    check_launch("softmax_xent_forward");
  }
  void softmax_xent_backward(std::int64_t batch, std::int64_t classes, const float* probs,
                             const std::int32_t* labels, float* dlogits) override {
    if (batch <= 0 || classes <= 0) return;
    const float scale = 1.0f / static_cast<float>(batch);
    softmax_xent_backward_kernel<<<blocks(batch * classes), kThreads, 0, stream_>>>(
        batch, classes, probs, labels, scale, dlogits);
    check_launch("softmax_xent_backward");
  }
  void sgd_step(const SgdSettings& s, std::int64_t n, float* params, const float* grads,
                float* velocity, const float* anchor) override {
    if (n <= 0) return;
    const float* prox_anchor = anchor != nullptr && s.prox_mu != 0.0f ? anchor : nullptr;
    sgd_step_kernel<<<blocks(n), kThreads, 0, stream_>>>(s, n, params, grads, velocity,
                                                         prox_anchor);
    check_launch("sgd_step");
  }
  void adam_step(const AdamSettings& s, std::int64_t step, std::int64_t n, float* params,
                 const float* grads, float* m, float* v, const float* anchor) override {
    if (n <= 0) return;
    const float* prox_anchor = anchor != nullptr && s.prox_mu != 0.0f ? anchor : nullptr;
    const float correction1 =
        1.0f / static_cast<float>(1.0 - std::pow(double(s.beta1), double(step)));
    const float correction2 =
        1.0f / static_cast<float>(1.0 - std::pow(double(s.beta2), double(step)));
    adam_step_kernel<<<blocks(n), kThreads, 0, stream_>>>(s, correction1, correction2, n, params,
                                                          grads, m, v, prox_anchor);
    check_launch("adam_step");
  }

 private:
  static constexpr int kThreads = 256;

  static unsigned blocks(std::int64_t n) {
    return grid_for(Launch{kThreads, 0}, static_cast<std::size_t>(n));
  }

  // The error policy of the header: ops that return void stop the process, naming the op.
  [[noreturn]] void fail(const char* op, const std::string& what) const {
    std::fprintf(stderr,
                 "fedchain: %s: %s failed: %s. This rank stops here; its run directory is left "
                 "as it was and the run can be resumed. (Kernel faults are reported by a later "
                 "call: rerun with CUDA_LAUNCH_BLOCKING=1 to name the kernel.)\n",
                 name_.c_str(), op, what.c_str());
    std::fflush(stderr);
    std::abort();
  }
  void check(cudaError_t status, const char* op) const {
    if (status != cudaSuccess) {
      fail(op,
           fmt::format("CUDA error {} ({})", static_cast<int>(status), cudaGetErrorString(status)));
    }
  }
  void check_launch(const char* op) const { check(cudaGetLastError(), op); }
  void check_blas(cublasStatus_t status, const char* op) const {
    if (status != CUBLAS_STATUS_SUCCESS) {
      fail(op, fmt::format("cuBLAS status {} ({})", static_cast<int>(status),
                           cublasGetStatusString(status)));
    }
  }

  // Column-major C (m, n) = op_a(A) op_b(B) + beta C, as cublasSgemm; every size must fit
  // cuBLAS's int (the conv blocks keep them far below).
  void gemm(const char* op, cublasOperation_t op_a, cublasOperation_t op_b, std::int64_t m,
            std::int64_t n, std::int64_t k, const float* a, std::int64_t lda, const float* b,
            std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
    if (m <= 0 || n <= 0) return;
    for (const std::int64_t size : {k, lda, ldb, ldc}) {
      if (size > INT_MAX) fail(op, fmt::format("a GEMM size of {} exceeds cuBLAS's int", size));
    }
    if (m > INT_MAX || n > INT_MAX) {
      fail(op, fmt::format("a GEMM of {} x {} exceeds cuBLAS's int", m, n));
    }
    const float alpha = 1.0f;
    check_blas(cublasSgemm(blas_, op_a, op_b, static_cast<int>(m), static_cast<int>(n),
                           static_cast<int>(k), &alpha, a, static_cast<int>(lda), b,
                           static_cast<int>(ldb), &beta, c, static_cast<int>(ldc)),
               op);
  }

  void add_bias(float* y, const float* b, std::int64_t rows, std::int64_t cols, const char* op) {
    if (rows <= 0 || cols <= 0) return;
    add_bias_rows_kernel<<<blocks(rows * cols), kThreads, 0, stream_>>>(y, b, rows, cols);
    check_launch(op);
  }

  void column_sums(const float* a, std::int64_t rows, std::int64_t cols, float* sums,
                   const char* op) {
    if (cols <= 0) return;
    const auto tiles = static_cast<unsigned>((cols + kSumColumns - 1) / kSumColumns);
    column_sums_kernel<<<tiles, dim3(kSumColumns, kSumLanes), 0, stream_>>>(a, rows, cols, sums);
    check_launch(op);
  }

  void im2col(const ConvShape& s, const float* x, std::int64_t samples, float* cols) {
    const std::int64_t n = samples * s.out_height() * s.out_width() * s.patch_size();
    if (n <= 0) return;
    im2col_kernel<<<blocks(n), kThreads, 0, stream_>>>(geometry(s), x, samples, cols);
    check_launch("conv2d im2col");
  }

  int device_;
  std::string name_;
  cudaStream_t stream_;
  cublasHandle_t blas_;
};

Error setup_error(int device, const char* what, cudaError_t status) {
  return runtime_error("cuda:{}: {} failed: CUDA error {} ({})", device, what,
                       static_cast<int>(status), cudaGetErrorString(status));
}

}  // namespace

Result<std::unique_ptr<train::Backend>> make_cuda_backend(int device_index) {
  int count = 0;
  if (const cudaError_t status = cudaGetDeviceCount(&count); status != cudaSuccess) {
    cudaGetLastError();
    return config_error("no usable CUDA device: cudaGetDeviceCount failed with error {} ({})",
                        static_cast<int>(status), cudaGetErrorString(status));
  }
  if (device_index < 0 || device_index >= count) {
    return config_error("CUDA device {} does not exist: this node shows {} device(s)", device_index,
                        count);
  }
  if (const cudaError_t status = cudaSetDevice(device_index); status != cudaSuccess) {
    return setup_error(device_index, "cudaSetDevice", status);
  }
  // A blocking stream: it still orders with work other code puts on the legacy default
  // stream (the aggregation kernels).
  cudaStream_t stream = nullptr;
  if (const cudaError_t status = cudaStreamCreate(&stream); status != cudaSuccess) {
    return setup_error(device_index, "cudaStreamCreate", status);
  }
  cublasHandle_t blas = nullptr;
  if (const cublasStatus_t status = cublasCreate(&blas); status != CUBLAS_STATUS_SUCCESS) {
    cudaStreamDestroy(stream);
    return runtime_error("cuda:{}: cublasCreate failed: cuBLAS status {} ({})", device_index,
                         static_cast<int>(status), cublasGetStatusString(status));
  }
  // Determinism: every call on the one stream, no TF32 or other reduced-precision paths,
  // no atomics in cuBLAS's kernels.
  const char* what = "cublasSetStream";
  cublasStatus_t status = cublasSetStream(blas, stream);
  if (status == CUBLAS_STATUS_SUCCESS) {
    what = "cublasSetMathMode";
    status = cublasSetMathMode(blas, CUBLAS_PEDANTIC_MATH);
  }
  if (status == CUBLAS_STATUS_SUCCESS) {
    what = "cublasSetAtomicsMode";
    status = cublasSetAtomicsMode(blas, CUBLAS_ATOMICS_NOT_ALLOWED);
  }
  if (status != CUBLAS_STATUS_SUCCESS) {
    cublasDestroy(blas);
    cudaStreamDestroy(stream);
    return runtime_error("cuda:{}: {} failed: cuBLAS status {} ({})", device_index, what,
                         static_cast<int>(status), cublasGetStatusString(status));
  }
  return std::unique_ptr<train::Backend>(new CudaBackend(device_index, stream, blas));
}

}  // namespace fedchain::gpu
