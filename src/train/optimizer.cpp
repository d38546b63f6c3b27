// Optimizer state and the dispatch to the backend's fused update ops.
#include "fedchain/train/optimizer.hpp"

#include <cmath>
#include <utility>

namespace fedchain::train {

TrainOptions train_options(const TrainSection& section) {
  TrainOptions options;
  options.epochs = section.local_epochs;
  options.steps = section.local_steps;
  options.batch_size = section.batch_size;
  options.optimizer = section.optimizer;
  options.lr = section.lr;
  options.lr_decay = section.lr_decay;
  options.momentum = section.momentum;
  options.weight_decay = section.weight_decay;
  options.prox_mu = section.prox_mu;
  return options;
}

double TrainOptions::lr_at(std::int64_t index) const {
  return lr * std::pow(lr_decay, static_cast<double>(index));
}

Optimizer::Optimizer(Backend& backend, const TrainOptions& options, std::int64_t count,
                     Buffer first, Buffer second)
    : backend_(&backend),
      options_(options),
      count_(count),
      first_(std::move(first)),
      second_(std::move(second)) {}

Result<Optimizer> Optimizer::create(Backend& backend, const TrainOptions& options,
                                    std::int64_t parameter_count) {
  if (options.optimizer != "sgd" && options.optimizer != "adam") {
    return config_error("train.optimizer = \"{}\": expected sgd or adam", options.optimizer);
  }
  const std::size_t bytes = static_cast<std::size_t>(parameter_count) * sizeof(float);
  auto first = backend.allocate(bytes);
  if (!first) return first.error();
  auto second = backend.allocate(options.optimizer == "adam" ? bytes : 0);
  if (!second) return second.error();
  Optimizer optimizer(backend, options, parameter_count, std::move(first.value()),
                      std::move(second.value()));
  optimizer.reset();
  return optimizer;
}

void Optimizer::reset() {
  steps_ = 0;
  // Plain SGD keeps no state: sgd_step neither reads nor writes the velocity without
  // momentum, so there is nothing to clear (a pass over d floats per client saved).
  if (options_.optimizer == "sgd" && static_cast<float>(options_.momentum) == 0.0f) return;
  backend_->fill(first_.f32(), count_, 0.0f);
  if (second_.bytes() > 0) backend_->fill(second_.f32(), count_, 0.0f);
}

void Optimizer::step(float* params, const float* grads, const float* anchor) {
  ++steps_;
  const float* prox_anchor = options_.prox_mu > 0.0 ? anchor : nullptr;
  if (options_.optimizer == "adam") {
    AdamSettings settings;
    settings.lr = static_cast<float>(options_.lr);
    settings.weight_decay = static_cast<float>(options_.weight_decay);
    settings.prox_mu = static_cast<float>(options_.prox_mu);
    backend_->adam_step(settings, steps_, count_, params, grads, first_.f32(), second_.f32(),
                        prox_anchor);
    return;
  }
  SgdSettings settings;
  settings.lr = static_cast<float>(options_.lr);
  settings.momentum = static_cast<float>(options_.momentum);
  settings.weight_decay = static_cast<float>(options_.weight_decay);
  settings.prox_mu = static_cast<float>(options_.prox_mu);
  backend_->sgd_step(settings, count_, params, grads, first_.f32(), prox_anchor);
}

}  // namespace fedchain::train
