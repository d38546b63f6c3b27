// The CUDA training backend's device code (kernels/train_ops.hpp: element functions, GEMM
// shapes, call order) run on the host: a loop for each kernel, cublasSgemm's column-major
// definition for each GEMM, the column sums' lane order. Runs everywhere (no GPU needed),
// so CI checks the index maths, the transposes and leading dimensions, and the conv
// blocking against the double reference and the CPU backend; gpu_train_backend_test checks
// the kernels and cuBLAS themselves where a GPU answers.
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "backend_ops.hpp"
#include "fedchain/core/job.hpp"
#include "fedchain/train/backend.hpp"
#include "fedchain/train/job_setup.hpp"
#include "train_compare.hpp"
#include "train_ops.hpp"

namespace fedchain::gpu {
namespace {

using train::Buffer;
using train_ops::Gemm;

// train_ops' Device on the host.
class HostDevice {
 public:
  template <class F>
  void for_each(const char* /*op*/, std::int64_t n, const F& f) {
    for (std::int64_t i = 0; i < n; ++i) f(i);
  }

  // cublasSgemm's definition: column-major, element (r, c) of op(A) is A[r + c * lda], or
  // A[c + r * lda] transposed; beta 0 does not read C.
  void gemm(const char* /*op*/, const Gemm& g, const float* a, const float* b, float* c) {
    for (std::int64_t col = 0; col < g.n; ++col) {
      for (std::int64_t row = 0; row < g.m; ++row) {
        float sum = 0.0f;
        for (std::int64_t p = 0; p < g.k; ++p) {
          const float left = g.transpose_a ? a[p + row * g.lda] : a[row + p * g.lda];
          const float right = g.transpose_b ? b[col + p * g.ldb] : b[p + col * g.ldb];
          sum += left * right;
        }
        float& out = c[row + col * g.ldc];
        out = g.beta == 0.0f ? sum : sum + g.beta * out;
      }
    }
  }

  void column_sums(const char* /*op*/, const float* a, std::int64_t rows, std::int64_t cols,
                   float* sums) {
    for (std::int64_t column = 0; column < cols; ++column) {
      float total = 0.0f;
      for (int lane = 0; lane < train_ops::kSumLanes; ++lane) {
        total += train_ops::column_lane_sum(a, rows, cols, column, lane);
      }
      sums[column] = total;
    }
  }
};

// The CUDA backend's ops over host memory.
class HostTwinBackend : public train_ops::TrainOps<HostDevice> {
 public:
  explicit HostTwinBackend(std::int64_t block_floats) : TrainOps(block_floats) {}

  std::string name() const override { return "cuda-host-twin"; }
  int threads() const override { return 1; }
  Result<Buffer> allocate(std::size_t bytes) override {
    void* data = bytes == 0 ? nullptr : std::calloc(bytes, 1);
    if (bytes != 0 && data == nullptr) return runtime_error("cannot allocate {} bytes", bytes);
    return Buffer(data, bytes, [](void* p) { std::free(p); });
  }
  void upload(Buffer& dst, const void* src, std::size_t bytes, std::size_t offset) override {
    if (bytes > 0) std::memcpy(static_cast<char*>(dst.data()) + offset, src, bytes);
  }
  void download(void* dst, const Buffer& src, std::size_t bytes, std::size_t offset) override {
    if (bytes > 0) std::memcpy(dst, static_cast<const char*>(src.data()) + offset, bytes);
  }
  void fill(float* x, std::int64_t n, float value) override {
    device_.for_each("fill", n, train_ops::Fill{x, value});
  }
  void copy(float* dst, const float* src, std::int64_t n) override {
    if (n > 0) std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(float));
  }
  void synchronize() override {}
};

TEST(CudaDeviceCodeOnHost, MatchesDoubleReference) {
  HostTwinBackend backend(train_ops::kConvBlockFloats);
  train::testing::check_backend_ops(backend);
}

// A block of one sample: every conv runs im2col and GEMM per sample and sums dw over the
// blocks (beta 1), as a large evaluation batch would on the GPU.
TEST(CudaDeviceCodeOnHost, BlockedConvolutionsMatchDoubleReference) {
  HostTwinBackend backend(1);
  const train::ConvShape shape{3, 9, 11, 5, 7, 5, 2, 2};
  EXPECT_EQ(backend.conv2d_workspace(shape), 2 * shape.out_height() * shape.out_width() * 125);
  train::testing::check_backend_ops(backend);
}

TEST(CudaDeviceCodeOnHost, TrainingTracksTheCpuBackend) {
  HostTwinBackend backend(train_ops::kConvBlockFloats);
  train::testing::expect_training_tracks_cpu(backend);
}

// Optimizer steps are the CPU's float expressions, and both sides are built without
// contraction: the same bits (exp and log in softmax may differ between libms, and GEMM and
// sums differ in order, so only the optimizers are compared bitwise).
TEST(CudaDeviceCodeOnHost, OptimizerStepsGiveTheCpuBits) {
  HostTwinBackend twin(train_ops::kConvBlockFloats);
  auto cpu = train::make_cpu_backend(1);
  constexpr std::int64_t kCount = 1001;
  const auto params = train::testing::random_floats(kCount, 21);
  const auto grads = train::testing::random_floats(kCount, 22);
  const auto anchor = train::testing::random_floats(kCount, 23);
  auto run = [&](train::Backend& backend) {
    train::testing::DeviceArrays d(backend);
    float *sgd = d.put(params), *adam = d.put(params), *velocity = d.zeros(kCount),
          *m = d.zeros(kCount), *v = d.zeros(kCount);
    const float *g = d.put(grads), *a = d.put(anchor);
    for (int step = 1; step <= 3; ++step) {
      backend.sgd_step({0.1f, 0.9f, 0.01f, 0.5f}, kCount, sgd, g, velocity, a);
      backend.adam_step({1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 0.5f}, step, kCount, adam, g, m, v, a);
    }
    return std::pair{d.get(sgd, kCount), d.get(adam, kCount)};
  };
  const auto [twin_sgd, twin_adam] = run(twin);
  const auto [cpu_sgd, cpu_adam] = run(*cpu);
  EXPECT_EQ(twin_sgd, cpu_sgd);
  EXPECT_EQ(twin_adam, cpu_adam);
}

// Pooling and dropout follow the CPU's order of additions (dropout: the same integer mask and
// one multiply), so they give the CPU's bits, overlapping windows included.
TEST(CudaDeviceCodeOnHost, PoolsAndDropoutGiveTheCpuBits) {
  HostTwinBackend twin(train_ops::kConvBlockFloats);
  auto cpu = train::make_cpu_backend(2);
  const train::PoolShape pool{3, 9, 8, 5, 3, 2};
  const auto in_size = static_cast<std::size_t>(3 * 9 * 8 * 5);
  const auto out_size = static_cast<std::size_t>(3 * pool.out_height() * pool.out_width() * 5);
  const auto x = train::testing::random_floats(in_size, 31);
  const auto dy = train::testing::random_floats(out_size, 32);
  const train::DropoutMask mask = train::dropout_mask(0.4, 33);
  auto run = [&](train::Backend& backend) {
    train::testing::DeviceArrays d(backend);
    const float *x_in = d.put(x), *dy_in = d.put(dy);
    float *max_y = d.zeros(out_size), *max_dx = d.zeros(in_size), *avg_y = d.zeros(out_size),
          *avg_dx = d.zeros(in_size), *dropped = d.zeros(in_size);
    backend.maxpool_forward(pool, x_in, max_y);
    backend.maxpool_backward(pool, x_in, dy_in, max_dx);
    backend.avgpool_forward(pool, x_in, avg_y);
    backend.avgpool_backward(pool, dy_in, avg_dx);
    backend.dropout_forward(static_cast<std::int64_t>(in_size), mask, x_in, dropped);
    return std::vector{d.get(max_y, out_size), d.get(max_dx, in_size), d.get(avg_y, out_size),
                       d.get(avg_dx, in_size), d.get(dropped, in_size)};
  };
  const auto on_twin = run(twin);
  const auto on_cpu = run(*cpu);
  const char* names[] = {"maxpool y", "maxpool dx", "avgpool y", "avgpool dx", "dropout y"};
  for (std::size_t i = 0; i < on_twin.size(); ++i) EXPECT_EQ(on_twin[i], on_cpu[i]) << names[i];
}

// train.device = "auto" takes a GPU only where the job's own model trains there as on the
// CPU (train::check_training_agrees): the device code passes; a backend with one wrong op
// (relu letting negatives through) does not, and the error says how far apart they end.
class ReluLeakingTwin final : public HostTwinBackend {
 public:
  ReluLeakingTwin() : HostTwinBackend(train_ops::kConvBlockFloats) {}
  void relu_forward(std::int64_t n, const float* x, float* y) override {
    for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.01f * x[i];
  }
};

Job small_job(const std::string& arch, const std::string& optimizer) {
  Job job;
  job.model.arch = arch;
  job.model.hidden = {64};
  job.train.optimizer = optimizer;
  job.train.lr = optimizer == "adam" ? 1e-3 : 0.05;
  job.train.momentum = 0.9;
  job.train.batch_size = 16;
  return job;
}

TEST(CudaDeviceCodeOnHost, TrainsTheJobsModelAsTheCpuDoes) {
  const train::Samples data = train::testing::random_samples(96, 8);
  auto cpu = train::make_cpu_backend(1);
  for (const auto& [arch, optimizer] : {std::pair{"mlp", "adam"}, std::pair{"cnn", "sgd"}}) {
    HostTwinBackend twin(train_ops::kConvBlockFloats);
    auto agrees = train::check_training_agrees(twin, *cpu, small_job(arch, optimizer), data);
    EXPECT_TRUE(agrees) << arch << ": " << agrees.error().message;
  }
  ReluLeakingTwin leaking;
  auto refused = train::check_training_agrees(leaking, *cpu, small_job("mlp", "sgd"), data);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("4 steps of the job's mlp on cuda-host-twin end"),
            std::string::npos)
      << refused.error().message;
}

}  // namespace
}  // namespace fedchain::gpu
