// The CPU backend: convolutions and dense layers through oneDNN where it is built in
// (onednn_ops.hpp), else through the templates in cpu_ops.hpp; every other op through
// cpu_ops.hpp, instantiated for float, with Eigen's GEMM threads and OpenMP's loop threads
// set from the job.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include <Eigen/Core>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "cpu_direct_conv.hpp"
#include "cpu_ops.hpp"
#include "fedchain/train/backend.hpp"
#if defined(FEDCHAIN_HAVE_ONEDNN)
#include "onednn_ops.hpp"
#endif

#if defined(FEDCHAIN_HAVE_CUDA)
#include "fedchain/kernels/device.hpp"
#include "fedchain/kernels/train_backend.hpp"
#endif

namespace fedchain::train {

namespace {

// 64-byte alignment: a cache line, and enough for any SIMD load Eigen may issue.
constexpr std::size_t kAlignment = 64;

// The Eigen kernels; OneDnnCpuBackend below replaces its convolutions and dense layers.
class CpuBackend : public Backend {
 public:
  explicit CpuBackend(int threads) : threads_(threads) {
#if defined(_OPENMP)
    omp_set_num_threads(threads);
#endif
    Eigen::setNbThreads(threads);
  }

  std::string name() const override {
    return "cpu with " + cpu_kernels_name(CpuKernels::kEigen);
  }
  bool memory_is_host() const override {
    return true;
  }
  int threads() const override {
    return threads_;
  }

  Result<Buffer> allocate(std::size_t bytes) override {
    const std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
    void* data = rounded == 0 ? nullptr : std::aligned_alloc(kAlignment, rounded);
    if (rounded != 0 && data == nullptr) {
      return runtime_error("cpu backend: cannot allocate {} bytes", bytes);
    }
    if (data != nullptr) std::memset(data, 0, rounded);
    return Buffer(data, bytes, [](void* p) { std::free(p); });
  }
  void upload(Buffer& dst, const void* src, std::size_t bytes, std::size_t offset) override {
    std::memcpy(static_cast<char*>(dst.data()) + offset, src, bytes);
  }
  void download(void* dst, const Buffer& src, std::size_t bytes, std::size_t offset) override {
    std::memcpy(dst, static_cast<const char*>(src.data()) + offset, bytes);
  }
  void download_difference(float* dst, const Buffer& src, const float* base, std::int64_t n,
                           std::int64_t first) override {
    const float* trained = src.f32() + first;
    for (std::int64_t i = 0; i < n; ++i) dst[i] = trained[i] - base[i];
  }
  void fill(float* x, std::int64_t n, float value) override {
    std::fill(x, x + n, value);
  }
  void copy(float* dst, const float* src, std::int64_t n) override {
    std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float));
  }
  void synchronize() override {}

  void dense_forward(const DenseShape& s, const float* x, const float* w, const float* b,
                     float* y) override {
    cpu::dense_forward(s, x, w, b, y);
  }
  void dense_backward(const DenseShape& s, const float* x, const float* w, const float* dy,
                      float* dx, float* dw, float* db) override {
    cpu::dense_backward(s, x, w, dy, dx, dw, db);
  }
  // Single-channel inputs (first layers) take the direct kernel; where such a layer is asked
  // for dx too (never in the models, whose first layer needs none) it goes through im2col.
  std::int64_t conv2d_workspace(const ConvShape& s) const override {
    const std::int64_t gemm = cpu::conv2d_workspace(s, cpu::kConvBlockFloats, threads_);
    if (!cpu::direct_conv_applies(s)) return gemm;
    return std::max(gemm, cpu::direct_conv_workspace(s, threads_));
  }
  void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y,
                      float* workspace) override {
    if (cpu::direct_conv_applies(s)) {
      cpu::direct_conv_forward(s, x, w, b, y, workspace, threads_);
    } else {
      cpu::conv2d_forward(s, x, w, b, y, workspace, cpu::kConvBlockFloats, threads_);
    }
  }
  void conv2d_backward(const ConvShape& s, const float* x, const float* w, const float* dy,
                       float* dx, float* dw, float* db, float* workspace) override {
    if (dx == nullptr && cpu::direct_conv_applies(s)) {
      cpu::direct_conv_backward_weights(s, x, dy, dw, db, workspace, threads_);
    } else {
      cpu::conv2d_backward(s, x, w, dy, dx, dw, db, workspace, cpu::kConvBlockFloats, threads_);
    }
  }
  void maxpool_forward(const PoolShape& s, const float* x, float* y) override {
    cpu::maxpool_forward(s, x, y);
  }
  void maxpool_backward(const PoolShape& s, const float* x, const float* dy, float* dx) override {
    cpu::maxpool_backward(s, x, dy, dx);
  }
  void avgpool_forward(const PoolShape& s, const float* x, float* y) override {
    cpu::avgpool_forward(s, x, y);
  }
  void avgpool_backward(const PoolShape& s, const float* dy, float* dx) override {
    cpu::avgpool_backward(s, dy, dx);
  }
  std::int64_t groupnorm_workspace(const GroupNormShape& /*s*/) const override {
    return 0;
  }
  void groupnorm_forward(const GroupNormShape& s, const float* x, const float* weight,
                         const float* bias, float* y, float* stats) override {
    cpu::groupnorm_forward(s, x, weight, bias, y, stats);
  }
  void groupnorm_backward(const GroupNormShape& s, const float* x, const float* weight,
                          const float* stats, const float* dy, float* dx, float* dweight,
                          float* dbias, float* /*workspace*/) override {
    cpu::groupnorm_backward(s, x, weight, stats, dy, dx, dweight, dbias);
  }
  void dropout_forward(std::int64_t n, const DropoutMask& mask, const float* x, float* y) override {
    cpu::dropout(n, mask, x, y);
  }
  void dropout_backward(std::int64_t n, const DropoutMask& mask, const float* dy,
                        float* dx) override {
    cpu::dropout(n, mask, dy, dx);
  }
  void relu_forward(std::int64_t n, const float* x, float* y) override {
    cpu::relu_forward(n, x, y);
  }
  void relu_backward(std::int64_t n, const float* y, const float* dy, float* dx) override {
    cpu::relu_backward(n, y, dy, dx);
  }
  void softmax_xent_forward(std::int64_t batch, std::int64_t classes, const float* logits,
                            const std::int32_t* labels, float* probs, float* losses) override {
    cpu::softmax_xent_forward(batch, classes, logits, labels, probs, losses);
  }
  void softmax_xent_backward(std::int64_t batch, std::int64_t classes, const float* probs,
                             const std::int32_t* labels, float* dlogits) override {
    cpu::softmax_xent_backward(batch, classes, probs, labels, dlogits);
  }
  void sgd_step(const SgdSettings& s, std::int64_t n, float* params, const float* grads,
                float* velocity, const float* anchor) override {
    cpu::sgd_step(s, n, params, grads, velocity, anchor);
  }
  void adam_step(const AdamSettings& s, std::int64_t step, std::int64_t n, float* params,
                 const float* grads, float* m, float* v, const float* anchor) override {
    cpu::adam_step(s, step, n, params, grads, m, v, anchor);
  }

 private:
  int threads_;
};

#if defined(FEDCHAIN_HAVE_ONEDNN)
class OneDnnCpuBackend final : public CpuBackend {
 public:
  explicit OneDnnCpuBackend(int threads) : CpuBackend(threads), kernels_(threads) {}

  std::string name() const override { return "cpu with " + cpu_kernels_name(CpuKernels::kBest); }
  void dense_forward(const DenseShape& s, const float* x, const float* w, const float* b,
                     float* y) override {
    kernels_.dense_forward(s, x, w, b, y);
  }
  void dense_backward(const DenseShape& s, const float* x, const float* w, const float* dy,
                      float* dx, float* dw, float* db) override {
    kernels_.dense_backward(s, x, w, dy, dx, dw, db);
  }
  // oneDNN keeps its own scratch.
  std::int64_t conv2d_workspace(const ConvShape& /*s*/) const override { return 0; }
  void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y,
                      float* /*workspace*/) override {
    kernels_.conv2d_forward(s, x, w, b, y);
  }
  void conv2d_backward(const ConvShape& s, const float* x, const float* w, const float* dy,
                       float* dx, float* dw, float* db, float* /*workspace*/) override {
    kernels_.conv2d_backward(s, x, w, dy, dx, dw, db);
  }

 private:
  onednn::Kernels kernels_;
};
#endif

}  // namespace

std::string cpu_kernels_name(CpuKernels kernels) {
#if defined(FEDCHAIN_HAVE_ONEDNN)
  if (kernels == CpuKernels::kBest) return "onednn " + onednn::effective_isa();
#else
  (void)kernels;
#endif
  return "eigen";
}

std::unique_ptr<Backend> make_cpu_backend(int threads, CpuKernels kernels) {
  threads = threads < 1 ? 1 : threads;
#if defined(FEDCHAIN_HAVE_ONEDNN)
  if (kernels == CpuKernels::kBest) return std::make_unique<OneDnnCpuBackend>(threads);
#else
  (void)kernels;
#endif
  return std::make_unique<CpuBackend>(threads);
}

#if defined(FEDCHAIN_HAVE_CUDA)
namespace {

Result<std::unique_ptr<Backend>> make_cuda() {
  const auto probe = gpu::probe_devices();
  if (probe.devices.empty()) {
    return config_error(
        "train.device = \"cuda\": no usable GPU on this node ({}); use train.device = \"cpu\"",
        probe.why_none);
  }
  const auto& device = gpu::device_for_this_rank(probe);
  auto backend = gpu::make_cuda_backend(device.index);
  if (!backend) {
    return Error{backend.error().kind,
                 fmt::format("train.device = \"cuda\": {}", backend.error().message),
                 {}};
  }
  return std::move(backend.value());
}

}  // namespace
#endif

Result<std::unique_ptr<Backend>> make_backend(const std::string& device, int threads) {
  // "auto" is the CPU here: taking the GPU needs the job's model to check it against
  // (make_job_backend, which train and centralized use).
  if (device == "cpu" || device == "auto") return make_cpu_backend(threads);
  if (device == "cuda") {
#if defined(FEDCHAIN_HAVE_CUDA)
    return make_cuda();
#else
    return config_error(
        "train.device = \"cuda\": this fedchain was built without CUDA (no nvcc when it was "
        "configured, or FEDCHAIN_CUDA=OFF); rebuild with CUDA or use train.device = \"cpu\"");
#endif
  }
  return config_error("train.device = \"{}\": expected auto, cpu or cuda", device);
}

}  // namespace fedchain::train
