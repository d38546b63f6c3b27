// The local optimizer: SGD (momentum, weight decay) or Adam, with the optional FedProx pull
// mu/2 * ||theta - theta_global||^2 toward an anchor. State lives in backend memory beside
// the model.
#pragma once

#include <cstdint>
#include <string>

#include "fedchain/core/error.hpp"
#include "fedchain/core/job.hpp"
#include "fedchain/train/backend.hpp"

namespace fedchain::train {

struct TrainOptions {
  std::int64_t epochs = 1;  // passes over the shard, unless steps > 0
  std::int64_t steps = 0;   // > 0: exactly this many minibatches instead of epochs
  std::int64_t batch_size = 32;
  std::string optimizer = "sgd";  // sgd | adam
  double lr = 0.05;
  double lr_decay = 1.0;  // lr_at(i) = lr * lr_decay^i for epoch or round i (from 0)
  double momentum = 0.0;
  double weight_decay = 0.0;
  double prox_mu = 0.0;

  double lr_at(std::int64_t index) const;
};

TrainOptions train_options(const TrainSection& section);

class Optimizer {
 public:
  // An unknown optimizer name is a config error.
  static Result<Optimizer> create(Backend& backend, const TrainOptions& options,
                                  std::int64_t parameter_count);

  // params -= update(grads); anchor (parameter_count floats, backend memory) is used only
  // when prox_mu > 0.
  void step(float* params, const float* grads, const float* anchor);
  // Zeroes the state (momentum, Adam moments and step count): a fresh start, as at the
  // beginning of each federated round.
  void reset();
  void set_learning_rate(double lr) { options_.lr = lr; }

 private:
  Optimizer(Backend& backend, const TrainOptions& options, std::int64_t count, Buffer first,
            Buffer second);
  Backend* backend_;
  TrainOptions options_;
  std::int64_t count_;
  Buffer first_;   // SGD velocity or Adam m, (count)
  Buffer second_;  // Adam v, (count); empty for SGD
  std::int64_t steps_ = 0;
};

}  // namespace fedchain::train
