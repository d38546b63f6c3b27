// `fedchain data prepare`: turns a published dataset's distribution files into the HDF5
// file that training reads (docs/data.md). Every input is read and checked before anything
// is written, and the output appears only when complete.
#pragma once

#include <filesystem>
#include <string_view>

#include "fedchain/core/error.hpp"
#include "fedchain/data/dataset.hpp"

namespace fedchain::data {

// Where Debian's dataset-fashion-mnist package installs the IDX files.
inline constexpr std::string_view kFashionMnistIdxDir = "/usr/share/datasets/fashion-mnist";

struct FashionMnistFiles {
  static constexpr std::string_view kTrainImages = "train-images-idx3-ubyte.gz";
  static constexpr std::string_view kTrainLabels = "train-labels-idx1-ubyte.gz";
  static constexpr std::string_view kTestImages = "t10k-images-idx3-ubyte.gz";
  static constexpr std::string_view kTestLabels = "t10k-labels-idx1-ubyte.gz";
};

// Reads the four gzipped IDX files from idx_dir (28 x 28 images, labels 0 to 9), hashes
// them, and writes out_path. Missing or malformed inputs are config errors (exit 2) naming
// the file; out_path is then left untouched. Returns what was written.
Result<DatasetInfo> prepare_fashion_mnist(const std::filesystem::path& idx_dir,
                                          const std::filesystem::path& out_path);

}  // namespace fedchain::data
