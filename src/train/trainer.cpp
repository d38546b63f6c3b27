// The minibatch loop shared by training and evaluation: gather a batch on the host, upload
// it, forward, loss, and (training) backward and an optimizer step.
#include "fedchain/train/trainer.hpp"

#include <algorithm>
#include <numeric>
#include <utility>
#include <vector>

#include "fedchain/core/random.hpp"
#include "fedchain/train/augment.hpp"

namespace fedchain::train {

namespace {

// derive_seed's "rank" for the dropout stream of a train() call ("dropout" in ASCII).
constexpr std::uint64_t kDropoutStream = 0x64726f706f7574;

Status check_shapes(const Model& model, const Samples& data) {
  const ModelConfig& config = model.config();
  if (data.height != config.height || data.width != config.width ||
      data.channels != config.channels || data.classes != config.classes) {
    return config_error(
        "data of {}x{}x{} images in {} classes does not fit model {} ({}x{}x{}, {} classes)",
        data.height, data.width, data.channels, data.classes, config.arch, config.height,
        config.width, config.channels, config.classes);
  }
  return {};
}

}  // namespace

// Backend buffers for minibatches of up to `batch` samples, and the host staging they are
// filled from.
class BatchStage {
 public:
  static Result<BatchStage> create(Model& model, std::int64_t largest_batch) {
    Backend& backend = model.backend();
    const auto batch = static_cast<std::size_t>(largest_batch);
    const auto classes = static_cast<std::size_t>(model.config().classes);
    BatchStage stage;
    for (auto [buffer, bytes] :
         {std::pair{&stage.input_, batch * model.input_size() * sizeof(float)},
          std::pair{&stage.labels_, batch * sizeof(std::int32_t)},
          std::pair{&stage.probs_, batch * classes * sizeof(float)},
          std::pair{&stage.losses_, batch * sizeof(float)},
          std::pair{&stage.dlogits_, batch * classes * sizeof(float)}}) {
      auto allocated = backend.allocate(bytes);
      if (!allocated) return allocated.error();
      *buffer = std::move(allocated.value());
    }
    stage.host_pixels_.resize(batch * static_cast<std::size_t>(model.input_size()));
    stage.host_labels_.resize(batch);
    stage.host_losses_.resize(batch);
    stage.host_probs_.resize(batch * classes);
    return stage;
  }

  // The largest minibatch the buffers hold.
  std::int64_t capacity() const { return static_cast<std::int64_t>(host_labels_.size()); }

  // Forward on data[indices] and the per-sample losses; returns their sum.
  double forward(Model& model, const Samples& data, std::span<const std::int64_t> indices,
                 const ForwardPass& pass = {}) {
    gather(data, indices);
    return forward_gathered(model, static_cast<std::int64_t>(indices.size()), pass);
  }

  // data[indices] into the host staging, in batch order.
  void gather(const Samples& data, std::span<const std::int64_t> indices) {
    const auto size = static_cast<std::size_t>(data.sample_size());
    for (std::size_t i = 0; i < indices.size(); ++i) {
      const auto sample = static_cast<std::size_t>(indices[i]);
      std::copy_n(data.pixels.begin() + static_cast<std::ptrdiff_t>(sample * size), size,
                  host_pixels_.begin() + static_cast<std::ptrdiff_t>(i * size));
      host_labels_[i] = data.labels[sample];
    }
  }

  // data.augment = crop_flip on the gathered batch: one draw per sample, in batch order.
  void crop_flip_gathered(const Samples& data, std::int64_t batch, SeededRandom& random) {
    const auto size = static_cast<std::size_t>(data.sample_size());
    scratch_.resize(size);
    for (std::size_t i = 0; i < static_cast<std::size_t>(batch); ++i) {
      const std::span<float> image(host_pixels_.data() + i * size, size);
      std::copy(image.begin(), image.end(), scratch_.begin());
      apply_crop_flip(scratch_, image, data.height, data.width, data.fill, draw_crop_flip(random));
    }
  }

  // Forward on the first `batch` gathered samples; returns the sum of their losses.
  double forward_gathered(Model& model, std::int64_t batch, const ForwardPass& pass = {}) {
    Backend& backend = model.backend();
    const auto count = static_cast<std::size_t>(batch);
    const auto size = static_cast<std::size_t>(model.input_size());
    backend.upload(input_, host_pixels_.data(), count * size * sizeof(float));
    backend.upload(labels_, host_labels_.data(), count * sizeof(std::int32_t));
    const float* logits = model.forward(input_.f32(), batch, pass);
    backend.softmax_xent_forward(batch, model.config().classes, logits, labels_.i32(), probs_.f32(),
                                 losses_.f32());
    backend.download(host_losses_.data(), losses_, count * sizeof(float));
    double sum = 0.0;
    for (std::size_t i = 0; i < count; ++i) sum += host_losses_[i];
    return sum;
  }

  void backward(Model& model, std::int64_t batch) {
    model.backend().softmax_xent_backward(batch, model.config().classes, probs_.f32(),
                                          labels_.i32(), dlogits_.f32());
    model.backward(dlogits_.f32());
  }

  // Predictions of the last forward that match their labels.
  std::int64_t correct(const Model& model, std::int64_t batch) {
    const std::int64_t classes = model.config().classes;
    model.backend().download(host_probs_.data(), probs_,
                             static_cast<std::size_t>(batch * classes) * sizeof(float));
    std::int64_t correct = 0;
    for (std::int64_t b = 0; b < batch; ++b) {
      const float* row = host_probs_.data() + b * classes;
      const auto predicted = std::max_element(row, row + classes) - row;
      if (predicted == host_labels_[static_cast<std::size_t>(b)]) ++correct;
    }
    return correct;
  }

 private:
  Buffer input_;    // (batch, H, W, C)
  Buffer labels_;   // (batch) int32
  Buffer probs_;    // (batch, classes)
  Buffer losses_;   // (batch)
  Buffer dlogits_;  // (batch, classes)
  std::vector<float> host_pixels_;
  std::vector<std::int32_t> host_labels_;
  std::vector<float> host_losses_;
  std::vector<float> host_probs_;
  std::vector<float> scratch_;  // one image, for augmentation
};

LocalTrainer::LocalTrainer(Model& model, const TrainOptions& options, Optimizer optimizer,
                           Augment augment)
    : model_(&model), options_(options), optimizer_(std::move(optimizer)), augment_(augment) {}

LocalTrainer::LocalTrainer(LocalTrainer&&) noexcept = default;
LocalTrainer& LocalTrainer::operator=(LocalTrainer&&) noexcept = default;
LocalTrainer::~LocalTrainer() = default;

Result<LocalTrainer> LocalTrainer::create(Model& model, const TrainOptions& options,
                                          Augment augment) {
  if (options.batch_size < 1) {
    return config_error("train.batch_size = {}: must be at least 1", options.batch_size);
  }
  if (options.steps <= 0 && options.epochs <= 0) {
    return config_error("train: set train.local_epochs or train.local_steps above 0");
  }
  auto optimizer = Optimizer::create(model.backend(), options, model.parameter_count());
  if (!optimizer) return optimizer.error();
  return LocalTrainer(model, options, std::move(optimizer.value()), augment);
}

void LocalTrainer::reset_optimizer() {
  optimizer_.reset();
}

Result<LocalResult> LocalTrainer::train(const Samples& data, std::span<const std::int64_t> shard,
                                        std::uint64_t seed) {
  if (auto status = check_shapes(*model_, data); !status) return status.error();
  if (shard.empty()) return config_error("train: the shard is empty");
  for (const std::int64_t index : shard) {
    if (index < 0 || index >= data.count) {
      return config_error("train: shard index {} is outside the {} samples", index, data.count);
    }
  }
  Model& model = *model_;
  Backend& backend = model.backend();
  // The real batch: a batch_size above the shard takes the whole shard.
  const auto largest_batch = std::min(options_.batch_size, static_cast<std::int64_t>(shard.size()));
  if (largest_batch > model.max_batch()) {
    return config_error(
        "train.batch_size = {} on a shard of {} samples takes batches of {}, above the model's "
        "batch room of {}",
        options_.batch_size, shard.size(), largest_batch, model.max_batch());
  }
  if (!stage_ || stage_->capacity() < largest_batch) {
    auto stage = BatchStage::create(model, largest_batch);
    if (!stage) return stage.error();
    stage_ = std::make_unique<BatchStage>(std::move(*stage));
  }
  BatchStage* stage = stage_.get();
  Buffer anchor;
  if (options_.prox_mu > 0.0) {
    auto allocated = backend.allocate(model.parameters().bytes());
    if (!allocated) return allocated.error();
    anchor = std::move(allocated.value());
    backend.copy(anchor.f32(), model.parameters().f32(), model.parameter_count());
  }

  SeededRandom random(seed);
  SeededRandom augment_random(augment_seed(seed));
  std::vector<std::int64_t> order(shard.begin(), shard.end());
  const auto shard_size = static_cast<std::int64_t>(order.size());
  const std::int64_t batches_per_pass =
      (shard_size + options_.batch_size - 1) / options_.batch_size;
  const std::int64_t total_steps =
      options_.steps > 0 ? options_.steps : options_.epochs * batches_per_pass;

  LocalResult result;
  result.samples = shard_size;
  double loss_sum = 0.0;
  std::int64_t position = shard_size;  // forces a shuffle before the first batch
  for (std::int64_t step = 0; step < total_steps; ++step) {
    if (position >= shard_size) {
      random.shuffle(order);
      position = 0;
    }
    const std::int64_t batch = std::min(options_.batch_size, shard_size - position);
    const std::span<const std::int64_t> indices(order.data() + position,
                                                static_cast<std::size_t>(batch));
    position += batch;
    stage->gather(data, indices);
    if (augment_ == Augment::kCropFlip) stage->crop_flip_gathered(data, batch, augment_random);
    // Dropout masks per client, round (both in seed) and step, apart from the shuffle's stream.
    const ForwardPass pass{true,
                           derive_seed(seed, kDropoutStream, static_cast<std::uint64_t>(step))};
    loss_sum += stage->forward_gathered(model, batch, pass);
    stage->backward(model, batch);
    optimizer_.step(model.parameters().f32(), model.gradients().f32(),
                    anchor.bytes() > 0 ? anchor.f32() : nullptr);
    result.samples_seen += batch;
    ++result.steps;
  }
  backend.synchronize();
  result.mean_loss = result.samples_seen > 0 ? loss_sum / double(result.samples_seen) : 0.0;
  return result;
}

Result<Evaluation> evaluate(Model& model, const Samples& data,
                            std::span<const std::int64_t> indices) {
  if (auto status = check_shapes(model, data); !status) return status.error();
  std::vector<std::int64_t> all;
  if (indices.empty()) {
    all.resize(static_cast<std::size_t>(data.count));
    std::iota(all.begin(), all.end(), std::int64_t{0});
    indices = all;
  }
  auto stage = BatchStage::create(
      model, std::min(model.max_batch(), static_cast<std::int64_t>(indices.size())));
  if (!stage) return stage.error();
  Evaluation evaluation;
  double loss_sum = 0.0;
  for (std::size_t start = 0; start < indices.size();
       start += static_cast<std::size_t>(model.max_batch())) {
    const std::size_t batch =
        std::min(indices.size() - start, static_cast<std::size_t>(model.max_batch()));
    const auto chunk = indices.subspan(start, batch);
    for (const std::int64_t index : chunk) {
      if (index < 0 || index >= data.count) {
        return config_error("evaluate: index {} is outside the {} samples", index, data.count);
      }
    }
    loss_sum += stage->forward(model, data, chunk);
    evaluation.correct += stage->correct(model, static_cast<std::int64_t>(batch));
    evaluation.count += static_cast<std::int64_t>(batch);
  }
  if (evaluation.count > 0) {
    evaluation.loss = loss_sum / double(evaluation.count);
    evaluation.accuracy = double(evaluation.correct) / double(evaluation.count);
  }
  return evaluation;
}

}  // namespace fedchain::train
