// `fedchain data import`: a dataset file from arrays a user made, as NumPy .npy files or
// HDF5 datasets, so that any image-classification set can be trained on (docs/data.md,
// "Importing arrays"). Every input is read and checked before anything is written.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "fedchain/core/error.hpp"
#include "fedchain/data/dataset.hpp"

namespace fedchain::data {

// The largest array file read (64 GiB, the largest split fedchain loads).
inline constexpr std::int64_t kImportMaxFileBytes = std::int64_t{1} << 36;

// An array's spelling: FILE.npy, FILE.h5:DATASET, or FILE.h5 alone (the dataset named after
// the option: images, labels or clients). Anything not ending in .npy is read as HDF5.
struct ImportOptions {
  std::string images;   // (N, H, W) or (N, C, H, W), uint8 or float32
  std::string labels;   // (N), integers in [0, 256)
  std::string clients;  // optional (N) integer client ids: a natural partition
  std::string test_images;
  std::string test_labels;
  std::int64_t test_percent = 0;  // without test arrays: hold out this percentage (1 to 99)
  std::int64_t classes = 0;       // 0: the largest label + 1
  bool channels_last = false;     // images are (N, H, W, C)
  std::string name = "imported";  // the `source` attribute
  std::filesystem::path out;
};

// Writes options.out and returns what it holds. Errors are config errors (exit 2) naming the
// file (and the sample or element at fault) with codes "missing-file", "unreadable",
// "bad-magic", "bad-header", "truncated", "trailing-bytes", "bad-dtype", "bad-shape",
// "count-mismatch", "label-out-of-range", "bad-option"; options.out is then untouched.
Result<DatasetInfo> import_dataset(const ImportOptions& options);

// One images array (the --images spelling above) as an unlabelled split: what `fedchain
// predict` reads for images that are not in a dataset file. Errors as import_dataset's.
Result<ImageSet> read_image_array(const std::string& spec, bool channels_last = false);

// The held-out rule of --test-percent P: sample i (0-based, file order) goes to the test
// split when floor((i + 1) P / 100) > floor(i P / 100), which spreads floor(N P / 100) test
// samples evenly over the file.
constexpr bool held_out(std::int64_t index, std::int64_t percent) {
  return (index + 1) * percent / 100 > index * percent / 100;
}

}  // namespace fedchain::data
