// Running a pinned model on images (`fedchain predict`): the input read and checked
// against the model's input shape, batched inference on the job's backend, and the
// receipts of what was predicted, checked against the chain (`fedchain verify`).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "fedchain/core/error.hpp"
#include "fedchain/core/hash.hpp"
#include "fedchain/io/tensor_files.hpp"
#include "fedchain/serve/pinned_model.hpp"
#include "fedchain/train/samples.hpp"

namespace fedchain::serve {

struct PredictionInput {
  train::Samples samples;  // scaled as the job scaled its data; labels empty when unknown
  std::string split;       // "test" or "train" for a dataset file, "" for an image array
};

// A fedchain dataset file's split (read through data::read_dataset), or an image array
// (read_image_array), the first `limit` samples (0: all). An input whose images are not the
// model's height, width and channels is a config error naming the file and both shapes.
Result<PredictionInput> read_prediction_input(const std::filesystem::path& path,
                                              const std::string& split, std::int64_t limit,
                                              const PinnedModel& model);

// Raw images that are not a fedchain dataset: a .npy file or an HDF5 array (FILE:DATASET, or
// FILE for the dataset "images"), (N, H, W) or (N, C, H, W), uint8 or float32, read by
// `fedchain data import`'s array reader (data::read_image_array).
Result<data::ImageSet> read_image_array(const std::filesystem::path& path);

struct InferenceOptions {
  std::string device = "auto";  // train.device's values
  int threads = 1;
  std::int64_t batch = 256;
};

// Logits, softmax probabilities and the predicted class of every sample.
Result<io::PredictionTable> run_inference(const PinnedModel& model, const train::Samples& samples,
                                          const InferenceOptions& options);

// SHA-256 of a whole file, read in pieces.
Result<Hash32> file_sha256(const std::filesystem::path& path);

// Every receipt in RUN_DIR/receipts.log against the chain: a valid signature, this chain's
// id, a committed height and the state root committed there. The count, or the first
// failure (reject, naming the receipt).
Result<std::size_t> check_receipts(const std::filesystem::path& run_dir);

}  // namespace fedchain::serve
