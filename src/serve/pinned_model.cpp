#include "fedchain/serve/pinned_model.hpp"

#include <bit>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fedchain/core/job_file.hpp"
#include "fedchain/crypto/merkle.hpp"
#include "fedchain/data/dataset.hpp"
#include "fedchain/io/run_dir.hpp"
#include "fedchain/ledger/chain_store.hpp"
#include "fedchain/train/job_setup.hpp"

namespace fedchain::serve {

namespace {

// The heights below and above `height` that have a checkpoint, for the message.
std::string nearest_checkpoints(const io::RunDir& dir, std::uint64_t height, std::uint64_t tip) {
  std::optional<std::uint64_t> below;
  std::optional<std::uint64_t> above;
  for (std::uint64_t h = height; h-- > 0 && !below;) {
    if (std::filesystem::exists(dir.checkpoint_path(h))) below = h;
  }
  for (std::uint64_t h = height + 1; h <= tip && !above; ++h) {
    if (std::filesystem::exists(dir.checkpoint_path(h))) above = h;
  }
  if (!below && !above) return "no height has one";
  std::string text = "the nearest with one: ";
  if (below) text += fmt::format("height {}", *below);
  if (below && above) text += " and ";
  if (above) text += fmt::format("height {}", *above);
  return text;
}

// The model config the job trained, sized by its dataset, and its input scaling: the
// same steps as train::load_job_data (data.normalize takes the training split's
// statistics, after data.train_limit).
Status size_from_dataset(PinnedModel& model) {
  const Job& job = model.job;
  auto info = data::read_dataset_info(job.data.path);
  if (!info) return info.error();
  model.config = train::model_config(job.model);
  model.config.height = info->rows;
  model.config.width = info->cols;
  model.config.channels = info->channels;
  model.config.classes = info->num_classes;
  model.input_scale = info->type == data::PixelType::kFloat32 ? 1.0 : 1.0 / 255.0;
  model.normalized = job.data.normalize;
  if (job.data.normalize) {
    auto dataset = data::read_dataset(job.data.path, job.data.train_limit, 1);
    if (!dataset) return dataset.error();
    auto scaling = train::normalization_of(dataset->train, job.data.path);
    if (!scaling) return scaling.error();
    model.scaling = std::move(*scaling);
  }
  auto layers = train::layer_specs(model.config);
  if (!layers) return layers.error();
  model.layers = std::move(*layers);
  return {};
}

// The checkpoint of `height`, checked against the chain and the job's model.
Status read_pinned_checkpoint(const io::RunDir& dir, PinnedModel& model, std::uint64_t tip,
                              std::uint32_t chunk_bytes) {
  const auto path = dir.checkpoint_path(model.height);
  if (!std::filesystem::exists(path)) {
    return config_error(
        "{}: no checkpoint at height {} (checkpoints are written every checkpoint.every = {} "
        "heights and at the end); {}: pass --height with one of them",
        dir.root().string(), model.height, model.job.checkpoint.every,
        nearest_checkpoints(dir, model.height, tip));
  }
  auto checkpoint = io::read_checkpoint(path);
  if (!checkpoint) return reject("bad-checkpoint", "{}", checkpoint.error().message);
  if (checkpoint->meta.chain_id != model.chain_id || checkpoint->meta.height != model.height) {
    return reject("checkpoint-mismatch",
                  "checkpoint {} holds height {} of chain {}, not height {} of this chain {}",
                  path.string(), checkpoint->meta.height, checkpoint->meta.chain_id.short_hex(),
                  model.height, model.chain_id.short_hex());
  }
  static_assert(std::endian::native == std::endian::little, "state roots hash float32 LE");
  const ByteView bytes(reinterpret_cast<const std::uint8_t*>(checkpoint->params.data()),
                       checkpoint->params.size() * sizeof(float));
  const Hash32 root = crypto::merkle_root(bytes, chunk_bytes);
  if (root != model.state_root) {
    return reject("checkpoint-root",
                  "checkpoint {}: its parameters hash to {} but the chain committed state root "
                  "{} at height {}: it is not this run's model (damaged or swapped); refused",
                  path.string(), root.short_hex(), model.state_root.short_hex(), model.height);
  }
  model.checkpoint = std::move(*checkpoint);
  return {};
}

// The checkpoint's tensors are the ones the job's model names, in the same shapes.
Status check_fits_model(const PinnedModel& model, const std::filesystem::path& path) {
  auto backend = train::make_cpu_backend(1);
  auto built = train::Model::create(*backend, model.config, 1);
  if (!built) return built.error();
  const auto& views = built->parameter_views();
  bool fits = views.size() == model.checkpoint.names.size();
  for (std::size_t i = 0; fits && i < views.size(); ++i) {
    fits =
        views[i].name == model.checkpoint.names[i] && views[i].shape == model.checkpoint.shapes[i];
  }
  if (!fits) {
    return reject("checkpoint-model",
                  "checkpoint {} does not hold the tensors of the job's model ({}, {} tensors): "
                  "is --data the dataset the run trained on?",
                  path.string(), model.config.arch, views.size());
  }
  return {};
}

}  // namespace

Result<PinnedModel> pin_model(const std::filesystem::path& run_dir, const PinOptions& options) {
  auto dir = io::RunDir::open(run_dir);
  if (!dir) return dir.error();
  auto store = ledger::ChainStore::open(run_dir, ledger::OpenMode::kReadOnly);
  if (!store) return store.error();
  const ledger::Genesis& genesis = store->genesis();
  const std::uint64_t tip = store->height();
  PinnedModel model;
  model.chain_id = genesis.chain_id();
  model.height = options.height.value_or(tip);
  if (model.height > tip) {
    return config_error("--height {} is beyond the chain's tip: {} ends at height {}", model.height,
                        ledger::ChainStore::log_path(run_dir).string(), tip);
  }
  model.state_root = model.height == 0 ? genesis.fields().initial_state_root
                                       : store->at(model.height).block.header().state_root;
  auto job = parse_job(genesis.fields().job_toml, "the job recorded in genesis");
  if (!job) return job.error();
  model.job = std::move(*job);
  if (!options.data_path.empty()) model.job.data.path = options.data_path;
  if (auto st = read_pinned_checkpoint(*dir, model, tip, genesis.fields().merkle_chunk_bytes);
      !st) {
    return st.error();
  }
  if (auto st = size_from_dataset(model); !st) return st.error();
  if (auto st = check_fits_model(model, dir->checkpoint_path(model.height)); !st) {
    return st.error();
  }
  return model;
}

std::string architecture_json(const PinnedModel& model) {
  nlohmann::ordered_json arch = train::architecture_json(model.config, model.layers);
  // uint8 pixels are scaled to [0, 1] before anything else, float32 ones are not
  // (train::to_samples).
  arch["input"]["scale"] = model.input_scale;
  arch["normalization"] = nullptr;
  if (model.normalized) {
    // Per channel, (x - mean) / std after the input scale.
    const std::vector<double> mean(model.scaling.mean.begin(), model.scaling.mean.end());
    const std::vector<double> stddev(model.scaling.stddev.begin(), model.scaling.stddev.end());
    arch["normalization"] = {{"mean", mean}, {"std", stddev}};
  }
  return arch.dump();
}

}  // namespace fedchain::serve
