// Model checkpoints in HDF5 (docs/formats.md, "Checkpoint"): one float32 dataset per layer
// tensor under /params, in model order, and root attributes naming the block they belong
// to. Written to a temp name, fsynced and renamed, so a crash never leaves a torn file
// under the final name. h5py reads them: f["params"]["conv1.weight"][...].
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "fedchain/core/error.hpp"
#include "fedchain/core/hash.hpp"

namespace fedchain::io {

struct CheckpointMeta {
  std::uint64_t height = 0;
  Hash32 state_root;  // Merkle root of the parameters (checked by `fedchain verify`)
  Hash32 block_hash;  // the committed block at `height`
  Hash32 chain_id;
};

// One named tensor of the model; `values` has product(shape) elements.
struct TensorView {
  std::string name;
  std::vector<std::int64_t> shape;
  std::span<const float> values;
};

struct Checkpoint {
  CheckpointMeta meta;
  std::vector<std::string> names;                 // tensor names, model order
  std::vector<std::vector<std::int64_t>> shapes;  // one per name
  std::vector<float> params;                      // every tensor, concatenated in order
};

Status write_checkpoint(const std::filesystem::path& path, const CheckpointMeta& meta,
                        std::span<const TensorView> tensors);

// Refuses (runtime error naming the file and what is wrong) a file that is not a fedchain
// checkpoint, has an unknown format version, or whose datasets do not match their shapes.
Result<Checkpoint> read_checkpoint(const std::filesystem::path& path);

}  // namespace fedchain::io
