// A few training steps of a real model on any backend, for comparing backends: the CUDA
// backend and its host twin against the CPU backend, and runs against each other.
#pragma once

#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fedchain/core/random.hpp"
#include "fedchain/train/backend.hpp"
#include "fedchain/train/model.hpp"
#include "fedchain/train/trainer.hpp"

namespace fedchain::train::testing {

// Every sample's pixels uniform in [0, 1), labels uniform over the 10 classes: enough for
// the gradients to be dense and different in every step.
inline Samples random_samples(std::int64_t count, std::uint64_t seed) {
  SeededRandom random(seed);
  Samples samples;
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
inline Trained train_a_few_steps(Backend& backend, const std::string& arch,
                                 const std::string& optimizer) {
  const Samples data = random_samples(96, 8);
  ModelConfig config;
  config.arch = arch;
  auto model = Model::create(backend, config, 16);
  EXPECT_TRUE(model) << model.error().message;
  Trained trained;
  if (!model) return trained;
  model->initialize(3);
  trained.initial.resize(static_cast<std::size_t>(model->parameter_count()));
  trained.final.resize(trained.initial.size());
  EXPECT_TRUE(model->get_parameters(trained.initial));
  TrainOptions options;
  options.steps = 4;
  options.batch_size = 16;
  options.optimizer = optimizer;
  options.lr = optimizer == "adam" ? 1e-3 : 0.05;
  options.momentum = 0.9;
  options.weight_decay = 1e-4;
  options.prox_mu = optimizer == "sgd" ? 0.01 : 0.0;
  auto trainer = LocalTrainer::create(*model, options);
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

inline double distance(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += std::pow(double(a[i]) - double(b[i]), 2);
  return std::sqrt(sum);
}

// Training on `backend` moves the parameters where training on the CPU does (mnist-cnn with
// its dropout on: the masks are the same bits on every backend): the two end
// points differ by less than 0.1% of the distance training moved them, and the mean losses
// agree to 1e-4. Summation orders differ, so the last bits do; a wrong op would be off by
// the whole step.
inline void expect_training_tracks_cpu(Backend& backend) {
  auto cpu = make_cpu_backend(1);
  for (const auto& [arch, optimizer] : {std::pair{"mlp", "adam"}, std::pair{"cnn", "sgd"},
                                        std::pair{"lenet", "sgd"}, std::pair{"mnist-cnn", "sgd"}}) {
    const Trained tested = train_a_few_steps(backend, arch, optimizer);
    const Trained reference = train_a_few_steps(*cpu, arch, optimizer);
    ASSERT_EQ(tested.final.size(), reference.final.size()) << arch;
    ASSERT_EQ(tested.initial, reference.initial) << arch << ": initialisation differs";
    const double moved = distance(reference.final, reference.initial);
    ASSERT_GT(moved, 0.0) << arch;
    EXPECT_LE(distance(tested.final, reference.final) / moved, 1e-3)
        << backend.name() << " " << arch << " " << optimizer;
    EXPECT_NEAR(tested.mean_loss, reference.mean_loss, 1e-4 * std::abs(reference.mean_loss))
        << backend.name() << " " << arch;
  }
}

}  // namespace fedchain::train::testing
