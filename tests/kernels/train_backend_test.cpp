// The CUDA training backend against the references: every op against the double CPU
// templates over the CPU backend's odd shapes (tests/train/backend_ops.hpp), a few training
// steps of real models against the CPU backend, bit-identical repeated runs, and the error
// policy of fedchain/kernels/train_backend.hpp. Skips (exit 77) where no GPU answers.
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "backend_ops.hpp"
#include "fedchain/core/random.hpp"
#include "fedchain/kernels/train_backend.hpp"
#include "fedchain/train/backend.hpp"
#include "fedchain/train/model.hpp"
#include "fedchain/train/trainer.hpp"

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

// Every sample's pixels uniform in [0, 1), labels uniform over the 10 classes: enough for
// the gradients to be dense and different in every step.
train::Samples random_samples(std::int64_t count, std::uint64_t seed) {
  SeededRandom random(seed);
  train::Samples samples;
  samples.count = count;
  samples.height = 28;
  samples.width = 28;
  samples.classes = 10;
  samples.pixels.resize(static_cast<std::size_t>(count * 784));
  for (float& pixel : samples.pixels) pixel = static_cast<float>(random.uniform01());
  samples.labels.resize(static_cast<std::size_t>(count));
  for (auto& label : samples.labels) label = static_cast<std::int32_t>(random.below(10));
  return samples;
}

struct Trained {
  std::vector<float> initial;
  std::vector<float> final;
  double mean_loss = 0.0;
};

// Four minibatches of 16 from a fixed shard, with momentum, weight decay and (sgd) FedProx,
// so that every op of the model and of the optimizer takes part.
Trained train_a_few_steps(train::Backend& backend, const std::string& arch,
                          const std::string& optimizer) {
  const train::Samples data = random_samples(96, 8);
  train::ModelConfig config;
  config.arch = arch;
  auto model = train::Model::create(backend, config, 16);
  EXPECT_TRUE(model) << model.error().message;
  Trained trained;
  if (!model) return trained;
  model->initialize(3);
  trained.initial.resize(static_cast<std::size_t>(model->parameter_count()));
  trained.final.resize(trained.initial.size());
  EXPECT_TRUE(model->get_parameters(trained.initial));
  train::TrainOptions options;
  options.steps = 4;
  options.batch_size = 16;
  options.optimizer = optimizer;
  options.lr = optimizer == "adam" ? 1e-3 : 0.05;
  options.momentum = 0.9;
  options.weight_decay = 1e-4;
  options.prox_mu = optimizer == "sgd" ? 0.01 : 0.0;
  auto trainer = train::LocalTrainer::create(*model, options);
  EXPECT_TRUE(trainer) << trainer.error().message;
  if (!trainer) return trained;
  std::vector<std::int64_t> shard(80);
  std::iota(shard.begin(), shard.end(), std::int64_t{8});
  auto result = trainer->train(data, shard, derive_seed(42, 1, 3));
  EXPECT_TRUE(result) << result.error().message;
  if (result) trained.mean_loss = result->mean_loss;
  EXPECT_TRUE(model->get_parameters(trained.final));
  return trained;
}

double distance(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += std::pow(double(a[i]) - double(b[i]), 2);
  return std::sqrt(sum);
}

// Training on the GPU moves the parameters where training on the CPU does: the two end
// points differ by less than 0.1% of the distance training moved them. Summation orders
// differ (cuBLAS, Eigen), so the last bits do; a wrong op would be off by the whole step.
TEST(CudaTraining, TracksTheCpuBackend) {
  auto cuda = cuda_backend();
  ASSERT_NE(cuda, nullptr);
  auto cpu = train::make_cpu_backend(1);
  for (const auto& [arch, optimizer] :
       {std::pair{"mlp", "adam"}, std::pair{"cnn", "sgd"}, std::pair{"lenet", "sgd"}}) {
    const Trained on_gpu = train_a_few_steps(*cuda, arch, optimizer);
    const Trained on_cpu = train_a_few_steps(*cpu, arch, optimizer);
    ASSERT_EQ(on_gpu.final.size(), on_cpu.final.size()) << arch;
    ASSERT_EQ(std::memcmp(on_gpu.initial.data(), on_cpu.initial.data(),
                          on_cpu.initial.size() * sizeof(float)),
              0)
        << arch << ": initialisation differs";
    const double moved = distance(on_cpu.final, on_cpu.initial);
    ASSERT_GT(moved, 0.0) << arch;
    EXPECT_LE(distance(on_gpu.final, on_cpu.final) / moved, 1e-3) << arch << " " << optimizer;
    EXPECT_NEAR(on_gpu.mean_loss, on_cpu.mean_loss, 1e-4 * std::abs(on_cpu.mean_loss)) << arch;
  }
}

TEST(CudaTraining, RepeatedRunsGiveIdenticalBits) {
  for (const auto& [arch, optimizer] : {std::pair{"cnn", "sgd"}, std::pair{"mlp", "adam"}}) {
    auto first_backend = cuda_backend();
    auto second_backend = cuda_backend();
    ASSERT_NE(first_backend, nullptr);
    ASSERT_NE(second_backend, nullptr);
    const Trained first = train_a_few_steps(*first_backend, arch, optimizer);
    const Trained second = train_a_few_steps(*second_backend, arch, optimizer);
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
