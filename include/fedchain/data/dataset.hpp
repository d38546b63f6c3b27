// Image-classification datasets as fedchain stores them (docs/formats.md, "Dataset"):
// an HDF5 file with /train/images (uint8, N x rows x cols), /train/labels (uint8, N),
// /test/images and /test/labels, written by `fedchain data prepare`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fedchain/core/error.hpp"

namespace fedchain::data {

struct ImageSet {
  std::int64_t count = 0;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<std::uint8_t> pixels;  // (count, rows, cols), row-major
  std::vector<std::uint8_t> labels;  // (count)
};

struct Dataset {
  ImageSet train;
  ImageSet test;
  std::int64_t num_classes = 10;
};

// Reads a dataset file; a limit > 0 keeps only the first `limit` samples of that split.
// A missing file is a config error that suggests `fedchain data prepare`.
Result<Dataset> read_dataset(const std::filesystem::path& path, std::int64_t train_limit = 0,
                             std::int64_t test_limit = 0);

}  // namespace fedchain::data
