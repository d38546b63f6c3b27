// Files for using a trained model outside fedchain: the exported parameters (safetensors or
// HDF5, docs/formats.md, "Exported model") and the predictions of `fedchain predict`
// (HDF5, "Predictions"). Each is written to a temp name, fsynced and renamed over the
// target, so a crash never leaves a torn file under the final name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "fedchain/core/error.hpp"
#include "fedchain/io/checkpoint.hpp"

namespace fedchain::io {

// safetensors: u64 little-endian header length, a JSON header (per tensor dtype "F32",
// shape and data_offsets; "__metadata__": the string map), padded with spaces to a multiple
// of 8 bytes, then every tensor's float32 little-endian bytes in the order given.
Status write_safetensors(const std::filesystem::path& path, std::span<const TensorView> tensors,
                         const std::map<std::string, std::string>& metadata);

// HDF5: one float32 dataset per tensor under /params, root attribute `tensor_order` (the
// names, one a line) and one string attribute per metadata entry. h5py reads
// f["params"][name] and f.attrs[key].
Status write_tensors_hdf5(const std::filesystem::path& path, std::span<const TensorView> tensors,
                          const std::map<std::string, std::string>& metadata);

// What `fedchain predict` writes, per sample of the input.
struct PredictionTable {
  std::int64_t count = 0;
  std::int64_t classes = 0;
  std::vector<float> logits;                      // (count, classes)
  std::vector<float> probabilities;               // (count, classes), softmax of the logits
  std::vector<std::int32_t> predicted;            // (count), argmax, the first on ties
  std::vector<std::int32_t> labels;               // (count) when the input had labels, else empty
  std::map<std::string, std::string> attributes;  // chain id, height, state root, input
};

// /classes int32 (count), /probabilities and /logits float32 (count, classes), /labels int32
// (count) where known, and the attributes as root string attributes.
Status write_predictions(const std::filesystem::path& path, const PredictionTable& table);

}  // namespace fedchain::io
