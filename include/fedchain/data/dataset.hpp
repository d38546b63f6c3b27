// Image-classification datasets as fedchain stores them (docs/data.md, "HDF5 layout"):
// an HDF5 file with /train/images (uint8, N x rows x cols), /train/labels (uint8, N),
// /test/images and /test/labels, written by `fedchain data prepare`, with attributes that
// record where the arrays came from (source name, input file names and SHA-256).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
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

// Reads a dataset file; a limit > 0 keeps only the first `limit` samples of that split (a
// limit above the split's size keeps all of it). Shapes, dtypes and labels are checked.
// A missing file is a config error that suggests `fedchain data prepare`.
Result<Dataset> read_dataset(const std::filesystem::path& path, std::int64_t train_limit = 0,
                             std::int64_t test_limit = 0);

// One input file behind an array: stored as the attributes `source_file` and `sha256` of
// that array's HDF5 dataset.
struct SourceFile {
  std::string name;        // "train-images-idx3-ubyte.gz"
  std::string sha256_hex;  // 64 lower-case hex characters of the file as read from disk
};

// What a dataset file says about itself, without reading the arrays.
struct DatasetInfo {
  std::string source;  // root attribute `source`, e.g. "fashion-mnist"
  std::int64_t num_classes = 10;
  std::int64_t train_count = 0;
  std::int64_t test_count = 0;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  SourceFile train_images;
  SourceFile train_labels;
  SourceFile test_images;
  SourceFile test_labels;
};

// Writes `dataset` with the provenance in `info` (source and source files; counts, shape and
// num_classes are taken from the dataset). Writes a temp name beside PATH, fsyncs it and renames it
// over PATH (core/durable_file.hpp), so a failure never leaves a half-written PATH; the parent
// directory is created.
Status write_dataset(const std::filesystem::path& path, const Dataset& dataset,
                     const DatasetInfo& info);

// Reads the attributes and shapes only.
Result<DatasetInfo> read_dataset_info(const std::filesystem::path& path);

// The samples at `indices` (each < set.count), in that order: one rank's shard.
ImageSet subset(const ImageSet& set, std::span<const std::int64_t> indices);

// Mean and standard deviation of all pixels scaled to [0, 1], summed in index order in
// double precision so every rank gets the same bits (for data.normalize).
struct PixelStats {
  double mean = 0.0;
  double stddev = 0.0;
};
PixelStats pixel_stats(const ImageSet& set);

}  // namespace fedchain::data
