// A trained model pinned to the chain: the parameters of a run at one height, taken from
// its checkpoint only after their Merkle root equals the state root the chain committed at
// that height. What `fedchain export` writes out and `fedchain predict` runs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "fedchain/core/error.hpp"
#include "fedchain/core/hash.hpp"
#include "fedchain/core/job.hpp"
#include "fedchain/io/checkpoint.hpp"
#include "fedchain/train/model.hpp"
#include "fedchain/train/samples.hpp"

namespace fedchain::serve {

struct PinOptions {
  std::optional<std::uint64_t> height;  // unset: the chain's tip
  std::string data_path;  // overrides the job's data.path (its shape and normalisation)
};

struct PinnedModel {
  Hash32 chain_id;
  std::uint64_t height = 0;
  Hash32 state_root;          // what the chain committed at `height` (genesis's at 0)
  Job job;                    // as genesis records it
  train::ModelConfig config;  // sized for the job's dataset
  std::vector<train::LayerSpec> layers;
  bool normalized = false;           // data.normalize: scaling below applies to every input
  train::PixelScaling scaling;       // the training split's statistics, as the job computed them
  double input_scale = 1.0 / 255.0;  // before normalisation: 1/255 for uint8 data, 1 for float32
  io::Checkpoint checkpoint;         // names and shapes in fedchain's layout, model order
};

// Reads RUN_DIR read-only (no run.lock: a running job may be appending). Errors: a height
// beyond the tip, or one without a checkpoint (naming the nearest heights that have one),
// or an unreadable dataset: config errors (exit 2); a damaged chain, a checkpoint that
// cannot be read, belongs to another chain or height, does not fit the job's model or does
// not hash to the committed root: verification errors (exit 3).
Result<PinnedModel> pin_model(const std::filesystem::path& run_dir, const PinOptions& options);

// The architecture as JSON text (docs/formats.md, "Exported model"): arch, input shape,
// classes, the layer list and the input normalisation; exports and receipts carry it.
std::string architecture_json(const PinnedModel& model);

}  // namespace fedchain::serve
