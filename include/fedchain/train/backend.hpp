// The training ops behind one interface, so the same model runs on the CPU (Eigen) or a
// GPU (CUDA kernels) chosen at run time, and so a test can run every op on two backends
// and compare them (as ggml's test-backend-ops does).
//
// Contract shared by every backend:
// - Pointers passed to ops live in the backend's memory (host for cpu, device for cuda);
//   move data across with upload() and download().
// - Activations are batch-first and channels-last: an image batch is (B, H, W, C), row-major.
//   Dense weights are (out, in); conv weights are (out, kh, kw, in), i.e. one row per
//   output channel over an im2col row.
// - Backward ops overwrite (never accumulate into) their gradient outputs; a null dx means
//   "not needed" (the first layer).
// - For a given backend, binary and thread count, every op is deterministic: no atomics or
//   thread-order-dependent reductions.
// This header shows neither Eigen nor CUDA types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fedchain/core/error.hpp"

namespace fedchain::train {

// An array in one backend's memory. Move-only; freed by the backend that made it.
class Buffer {
 public:
  using Deleter = void (*)(void*);
  Buffer() = default;
  Buffer(void* data, std::size_t bytes, Deleter deleter) : data_(data, deleter), bytes_(bytes) {}

  void* data() { return data_.get(); }
  const void* data() const { return data_.get(); }
  float* f32() { return static_cast<float*>(data_.get()); }
  const float* f32() const { return static_cast<const float*>(data_.get()); }
  std::int32_t* i32() { return static_cast<std::int32_t*>(data_.get()); }
  const std::int32_t* i32() const { return static_cast<const std::int32_t*>(data_.get()); }
  std::size_t bytes() const { return bytes_; }
  std::int64_t floats() const { return static_cast<std::int64_t>(bytes_ / sizeof(float)); }

 private:
  std::unique_ptr<void, Deleter> data_{nullptr, [](void*) {}};
  std::size_t bytes_ = 0;
};

struct DenseShape {
  std::int64_t batch = 0;
  std::int64_t in = 0;
  std::int64_t out = 0;
};

struct ConvShape {
  std::int64_t batch = 0;
  std::int64_t height = 0;  // input
  std::int64_t width = 0;
  std::int64_t in_channels = 0;
  std::int64_t out_channels = 0;
  std::int64_t kernel = 0;  // square kernel: kernel x kernel
  std::int64_t stride = 1;
  std::int64_t padding = 0;  // zero padding on every side

  std::int64_t out_height() const { return (height + 2 * padding - kernel) / stride + 1; }
  std::int64_t out_width() const { return (width + 2 * padding - kernel) / stride + 1; }
  std::int64_t patch_size() const { return kernel * kernel * in_channels; }  // im2col row
};

// Max- or average-pooling over kernel x kernel windows every `stride` pixels, no padding; a
// trailing row or column no window reaches is dropped. The defaults are the 2x2 pool of the
// preset CNNs.
struct PoolShape {
  std::int64_t batch = 0;
  std::int64_t height = 0;  // input
  std::int64_t width = 0;
  std::int64_t channels = 0;
  std::int64_t kernel = 2;
  std::int64_t stride = 2;
  std::int64_t out_height() const { return height < kernel ? 0 : (height - kernel) / stride + 1; }
  std::int64_t out_width() const { return width < kernel ? 0 : (width - kernel) / stride + 1; }
};

// Group normalisation of (B, H, W, C): each sample's channels split into `groups` runs of
// C / groups adjacent channels, each run normalised over its pixels and channels, then a
// per-channel affine weight and bias (Wu and He 2018; PyTorch's GroupNorm).
struct GroupNormShape {
  std::int64_t batch = 0;
  std::int64_t pixels = 0;  // H * W
  std::int64_t channels = 0;
  std::int64_t groups = 1;  // divides channels
  std::int64_t group_size() const { return pixels * (channels / groups); }
};
// Added to the variance before the square root, as PyTorch's default.
inline constexpr float kGroupNormEpsilon = 1e-5f;

#if defined(__CUDACC__)
#define FEDCHAIN_DROPOUT_HOST_DEVICE __host__ __device__
#else
#define FEDCHAIN_DROPOUT_HOST_DEVICE
#endif

// Which elements a dropout step keeps, the same bits on every backend: element i is kept when
// the top 24 bits of SplitMix64(seed + (i + 1) * golden) are at least `threshold`
// (rate * 2^24, rounded down); a kept element is scaled by `scale` = 1 / (1 - rate) rounded
// to float. Counter-based, so backward recomputes the mask instead of storing it.
struct DropoutMask {
  std::uint64_t seed = 0;
  std::uint64_t threshold = 0;
  float scale = 1.0f;

  FEDCHAIN_DROPOUT_HOST_DEVICE bool keeps(std::int64_t i) const {
    std::uint64_t z = seed + (static_cast<std::uint64_t>(i) + 1) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return (z >> 40) >= threshold;
  }
};

// rate in [0, 1).
inline DropoutMask dropout_mask(double rate, std::uint64_t seed) {
  return {seed, static_cast<std::uint64_t>(rate * 16777216.0),
          static_cast<float>(1.0 / (1.0 - rate))};
}

struct SgdSettings {
  float lr = 0.05f;
  float momentum = 0.0f;
  float weight_decay = 0.0f;  // adds weight_decay * theta to the gradient
  float prox_mu = 0.0f;       // FedProx: adds prox_mu * (theta - anchor) to the gradient
};

struct AdamSettings {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
  float weight_decay = 0.0f;  // L2 added to the gradient (not AdamW)
  float prox_mu = 0.0f;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;  // "cpu with onednn avx512_core", "cuda:0"
  // The arithmetic training runs, without where: backends with equal kernels() train the
  // same bits from the same inputs and thread count ("cuda sm_90" for every cuda:N of one
  // kind). Ranks compare it at start (node/setup.cpp).
  virtual std::string kernels() const { return name(); }
  virtual int threads() const = 0;

  // Whether buffers are host memory that the caller may read and write in place (the CPU
  // backend); false where they live on a device.
  virtual bool memory_is_host() const { return false; }

  // Memory. offset and bytes are in bytes.
  virtual Result<Buffer> allocate(std::size_t bytes) = 0;
  virtual void upload(Buffer& dst, const void* src, std::size_t bytes, std::size_t offset = 0) = 0;
  virtual void download(void* dst, const Buffer& src, std::size_t bytes,
                        std::size_t offset = 0) = 0;
  // dst[i] = src[first + i] - base[i] for n floats, dst and base in host memory: (part of) a
  // client's update from its trained parameters. One IEEE subtraction per value, so every
  // backend gives the same bits; this one downloads, then subtracts, and the CPU backend
  // does both in one pass.
  virtual void download_difference(float* dst, const Buffer& src, const float* base, std::int64_t n,
                                   std::int64_t first = 0) {
    download(dst, src, static_cast<std::size_t>(n) * sizeof(float),
             static_cast<std::size_t>(first) * sizeof(float));
    for (std::int64_t i = 0; i < n; ++i) dst[i] -= base[i];
  }
  // download_difference, and src[first, first + n) = base: the update's run taken out and
  // the parameters put back to where training started, so the next client trained from
  // base needs no upload of its own. (Where memory_is_host(), the round does this and the
  // quantization in one pass of its own: aggregate::take_quantized_difference.)
  virtual void take_difference(float* dst, Buffer& src, const float* base, std::int64_t n,
                               std::int64_t first = 0) {
    download_difference(dst, src, base, n, first);
    upload(src, base, static_cast<std::size_t>(n) * sizeof(float),
           static_cast<std::size_t>(first) * sizeof(float));
  }
  virtual void fill(float* x, std::int64_t n, float value) = 0;
  virtual void copy(float* dst, const float* src, std::int64_t n) = 0;
  // Waits until every op issued so far has finished (a no-op on the CPU).
  virtual void synchronize() = 0;

  // y (B, out) = x (B, in) * w^T (in, out) + b (out)
  virtual void dense_forward(const DenseShape& s, const float* x, const float* w, const float* b,
                             float* y) = 0;
  // dw (out, in) = dy^T x; db (out) = column sums of dy; dx (B, in) = dy w (if dx)
  virtual void dense_backward(const DenseShape& s, const float* x, const float* w, const float* dy,
                              float* dx, float* dw, float* db) = 0;

  // Floats of scratch the conv ops need for shape s (the backend decides how it blocks).
  virtual std::int64_t conv2d_workspace(const ConvShape& s) const = 0;
  // y (B, OH, OW, O) from x (B, H, W, C), w (O, k, k, C), b (O), through im2col + GEMM.
  virtual void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b,
                              float* y, float* workspace) = 0;
  // Reads the forward's x (not its output); dx may be null.
  virtual void conv2d_backward(const ConvShape& s, const float* x, const float* w, const float* dy,
                               float* dx, float* dw, float* db, float* workspace) = 0;

  // y (B, OH, OW, C) = the largest x of each window; backward routes dy to the window's first
  // maximum (row-major order), summing where windows overlap.
  virtual void maxpool_forward(const PoolShape& s, const float* x, float* y) = 0;
  virtual void maxpool_backward(const PoolShape& s, const float* x, const float* dy, float* dx) = 0;
  // y = the window's sum / (kernel * kernel); backward spreads dy / (kernel * kernel).
  virtual void avgpool_forward(const PoolShape& s, const float* x, float* y) = 0;
  virtual void avgpool_backward(const PoolShape& s, const float* dy, float* dx) = 0;

  // Floats of scratch group-norm backward needs for shape s.
  virtual std::int64_t groupnorm_workspace(const GroupNormShape& s) const = 0;
  // y = (x - mean) / sqrt(var + eps) * weight[c] + bias[c] per (sample, group), mean and
  // (biased) variance over the group; stats (B * groups * 2) receives each group's mean and
  // 1 / sqrt(var + eps) for backward.
  virtual void groupnorm_forward(const GroupNormShape& s, const float* x, const float* weight,
                                 const float* bias, float* y, float* stats) = 0;
  // Reads the forward's x and stats; dx may be null.
  virtual void groupnorm_backward(const GroupNormShape& s, const float* x, const float* weight,
                                  const float* stats, const float* dy, float* dx, float* dweight,
                                  float* dbias, float* workspace) = 0;

  // y = x * mask.scale where mask.keeps(i), else 0; dx likewise from dy. In place is allowed.
  virtual void dropout_forward(std::int64_t n, const DropoutMask& mask, const float* x,
                               float* y) = 0;
  virtual void dropout_backward(std::int64_t n, const DropoutMask& mask, const float* dy,
                                float* dx) = 0;

  // y = max(x, 0); dx = dy where y > 0, else 0. In place is allowed (y == x, dx == dy).
  virtual void relu_forward(std::int64_t n, const float* x, float* y) = 0;
  virtual void relu_backward(std::int64_t n, const float* y, const float* dy, float* dx) = 0;

  // probs (B, K) = softmax(logits), losses (B) = -log probs[label], computed stably
  // (max subtracted, log-sum-exp).
  virtual void softmax_xent_forward(std::int64_t batch, std::int64_t classes, const float* logits,
                                    const std::int32_t* labels, float* probs, float* losses) = 0;
  // dlogits (B, K) = (probs - onehot(label)) / B: the gradient of the mean loss.
  virtual void softmax_xent_backward(std::int64_t batch, std::int64_t classes, const float* probs,
                                     const std::int32_t* labels, float* dlogits) = 0;

  // One optimizer step over n parameters. velocity / m, v: state of n floats each,
  // zeroed before the first step; anchor: theta_global for FedProx (null when prox_mu is
  // 0). step counts from 1 (Adam's bias correction).
  virtual void sgd_step(const SgdSettings& s, std::int64_t n, float* params, const float* grads,
                        float* velocity, const float* anchor) = 0;
  virtual void adam_step(const AdamSettings& s, std::int64_t step, std::int64_t n, float* params,
                         const float* grads, float* m, float* v, const float* anchor) = 0;
};

// The CPU backend's convolution and dense kernels: oneDNN's (compiled at run time for the
// CPU's best instruction set) where fedchain is built with it, else im2col and Eigen's GEMM
// with a direct kernel for single-channel convolutions. kBest is oneDNN when built; tests
// and benchmarks ask for kEigen to compare the two.
enum class CpuKernels { kBest, kEigen };

// "onednn <isa>" or "eigen": what a CPU backend made with `kernels` runs, for the log.
std::string cpu_kernels_name(CpuKernels kernels);

// The CPU backend. threads > 0; the count is process-wide (Eigen and OpenMP keep it
// globally), which is fine with one rank per process.
std::unique_ptr<Backend> make_cpu_backend(int threads, CpuKernels kernels = CpuKernels::kBest);

// device: "cpu", "cuda" or "auto" (cuda where built and a device answers, else cpu).
// Asking for "cuda" where it is unavailable is a config error naming why.
Result<std::unique_ptr<Backend>> make_backend(const std::string& device, int threads);

}  // namespace fedchain::train
