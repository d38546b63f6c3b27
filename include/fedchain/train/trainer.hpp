// Local training and evaluation: what one rank does with the global model in a round.
//
//   auto backend = make_backend(job.train.device, job.train.threads);
//   auto model = make_job_model(**backend, job, samples);  // room for the real batch
//   auto trainer = LocalTrainer::create(*model, train_options(job.train));
//   model->set_parameters(global);                       // theta_h
//   auto result = trainer->train(samples, shard, derive_seed(job.job.seed, rank, round));
//   model->parameters()                                  // theta_i, one contiguous buffer
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "fedchain/core/error.hpp"
#include "fedchain/train/augment.hpp"
#include "fedchain/train/model.hpp"
#include "fedchain/train/optimizer.hpp"
#include "fedchain/train/samples.hpp"

namespace fedchain::train {

struct LocalResult {
  std::int64_t samples = 0;       // shard size: the weight of this rank's update
  std::int64_t steps = 0;         // minibatches taken
  std::int64_t samples_seen = 0;  // summed batch sizes
  double mean_loss = 0.0;         // mean training loss over every sample seen
};

class BatchStage;  // trainer.cpp: one minibatch's buffers on the host and the backend

class LocalTrainer {
 public:
  // Each call to train() takes batches of min(batch_size, shard size), which must fit the
  // model's max_batch(). `augment` applies to every training batch (augment.hpp).
  static Result<LocalTrainer> create(Model& model, const TrainOptions& options,
                                     Augment augment = Augment::kNone);

  // Trains the model's current parameters on data[shard] for options.epochs passes (or
  // options.steps minibatches), reshuffling the shard each pass with `seed`; the last
  // minibatch of a pass may be smaller. The parameters at the start are FedProx's anchor.
  // Augmentation draws come from augment_seed(seed), a stream of their own.
  // Optimizer state carries over between calls until reset_optimizer().
  Result<LocalResult> train(const Samples& data, std::span<const std::int64_t> shard,
                            std::uint64_t seed);
  void reset_optimizer();
  // For schedules: e.g. set_learning_rate(options.lr_at(round)) before train().
  void set_learning_rate(double lr) { optimizer_.set_learning_rate(lr); }

  LocalTrainer(LocalTrainer&&) noexcept;
  LocalTrainer& operator=(LocalTrainer&&) noexcept;
  ~LocalTrainer();

 private:
  LocalTrainer(Model& model, const TrainOptions& options, Optimizer optimizer, Augment augment);
  Model* model_;
  TrainOptions options_;
  Optimizer optimizer_;
  Augment augment_;
  // Kept between train() calls, so that a rank training many small clients one after
  // another allocates and clears its batch buffers once, not once per client.
  std::unique_ptr<BatchStage> stage_;
};

struct Evaluation {
  double loss = 0.0;  // mean cross-entropy
  double accuracy = 0.0;
  std::int64_t count = 0;
  std::int64_t correct = 0;
};

// Loss and accuracy of the model's current parameters on data[indices] (every sample
// when indices is empty), in minibatches of model.max_batch().
Result<Evaluation> evaluate(Model& model, const Samples& data,
                            std::span<const std::int64_t> indices = {});

}  // namespace fedchain::train
