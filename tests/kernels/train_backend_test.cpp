// The CUDA training backend against the references: every op against the double CPU
// templates over the CPU backend's odd shapes (tests/train/backend_ops.hpp), a few training
// steps of real models against the CPU backend, bit-identical repeated runs, and the error
// policy of fedchain/kernels/train_backend.hpp. Skips (exit 77) where no GPU answers.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend_ops.hpp"
#include "fedchain/kernels/train_backend.hpp"
#include "fedchain/train/backend.hpp"
#include "train_compare.hpp"

namespace fedchain::gpu {
namespace {

std::unique_ptr<train::Backend> cuda_backend() {
  auto backend = make_cuda_backend(0);
  EXPECT_TRUE(backend) << backend.error().message;
  return backend ? std::move(backend.value()) : nullptr;
}

TEST(CudaBackendOps, MatchDoubleReference) {
  auto backend = cuda_backend();
  ASSERT_NE(backend, nullptr);
  EXPECT_EQ(backend->name(), "cuda:0");
  train::testing::check_backend_ops(*backend);
}

TEST(CudaTraining, TracksTheCpuBackend) {
  auto backend = cuda_backend();
  ASSERT_NE(backend, nullptr);
  train::testing::expect_training_tracks_cpu(*backend);
}

TEST(CudaTraining, RepeatedRunsGiveIdenticalBits) {
  for (const auto& [arch, optimizer] : {std::pair{"cnn", "sgd"}, std::pair{"mlp", "adam"}}) {
    auto first_backend = cuda_backend();
    auto second_backend = cuda_backend();
    ASSERT_NE(first_backend, nullptr);
    ASSERT_NE(second_backend, nullptr);
    const auto first = train::testing::train_a_few_steps(*first_backend, arch, optimizer);
    const auto second = train::testing::train_a_few_steps(*second_backend, arch, optimizer);
    ASSERT_EQ(first.final.size(), second.final.size());
    EXPECT_EQ(
        std::memcmp(first.final.data(), second.final.data(), first.final.size() * sizeof(float)), 0)
        << arch << " " << optimizer;
    EXPECT_EQ(first.mean_loss, second.mean_loss) << arch;
  }
}

TEST(CudaBackend, TrainDeviceCudaBuildsIt) {
  auto backend = train::make_backend("cuda", 1);
  ASSERT_TRUE(backend) << backend.error().message;
  EXPECT_EQ((*backend)->name().rfind("cuda:", 0), 0u) << (*backend)->name();
}

TEST(CudaBackend, MissingDeviceIsAConfigError) {
  auto backend = make_cuda_backend(1 << 20);
  ASSERT_FALSE(backend);
  EXPECT_EQ(backend.error().kind, ErrorKind::kConfig);
  EXPECT_NE(backend.error().message.find("does not exist"), std::string::npos)
      << backend.error().message;
}

// Out of device memory is an error value, and the backend works on afterwards.
TEST(CudaBackend, FailedAllocationLeavesTheBackendUsable) {
  auto backend = cuda_backend();
  ASSERT_NE(backend, nullptr);
  auto huge = backend->allocate(std::size_t{1} << 60);
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().kind, ErrorKind::kRuntime);
  EXPECT_NE(huge.error().message.find("cuda:0"), std::string::npos) << huge.error().message;

  auto small = backend->allocate(5 * sizeof(float));
  ASSERT_TRUE(small) << small.error().message;
  backend->fill(small->f32(), 5, 2.5f);
  std::vector<float> host(5, 0.0f);
  backend->download(host.data(), *small, 5 * sizeof(float));
  EXPECT_EQ(host, std::vector<float>(5, 2.5f));
  EXPECT_TRUE(backend->allocate(0)) << "an empty buffer is not an error";
}

// A kernel that faults is reported by the next call that checks, which names itself and
// the device and stops the process (the header's policy for ops that return void). Run in
// a re-executed child: a faulted CUDA context cannot be used again.
TEST(CudaBackendDeathTest, KernelFaultAbortsNamingTheOp) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto backend = make_cuda_backend(0);
        if (!backend) std::abort();
        float* unmapped = reinterpret_cast<float*>(std::uintptr_t{0x1000});
        (*backend)->fill(unmapped, 1 << 20, 1.0f);
        (*backend)->synchronize();
      },
      "cuda:0: (fill|synchronize) failed: CUDA error");
}

}  // namespace
}  // namespace fedchain::gpu
