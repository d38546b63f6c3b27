// Image-classification datasets as fedchain stores them (docs/data.md, "HDF5 layout"):
// an HDF5 file with /train/images (N x C x H x W, uint8 or float32), /train/labels (uint8,
// N), optionally /train/clients (int64, N: a natural partition), /test/images and
// /test/labels, written by `fedchain data prepare` or `fedchain data import`, with
// attributes for the class and channel counts and the input files' SHA-256. Files of the
// first layout (3-D uint8 images, one channel) are still read.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "fedchain/core/error.hpp"
#include "fedchain/core/hash.hpp"

namespace fedchain::data {

enum class PixelType : std::uint8_t { kUint8 = 0, kFloat32 = 1 };

struct ImageSet {
  std::int64_t count = 0;
  std::int64_t channels = 1;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  PixelType type = PixelType::kUint8;
  std::vector<std::uint8_t> pixels;   // kUint8: (count, channels, rows, cols), row-major
  std::vector<float> float_pixels;    // kFloat32: (count, channels, rows, cols)
  std::vector<std::uint8_t> labels;   // (count)
  std::vector<std::int64_t> clients;  // (count) client id of each sample, or empty
  std::int64_t image_size() const { return channels * rows * cols; }
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

// One input file: its name and the SHA-256 of its bytes as read from disk.
struct SourceFile {
  std::string name;        // "train-images-idx3-ubyte.gz"
  std::string sha256_hex;  // 64 lower-case hex characters
};

// What a dataset file says about itself, without reading the arrays.
struct DatasetInfo {
  std::string source;  // root attribute `source`, e.g. "fashion-mnist"
  std::int64_t num_classes = 10;
  std::int64_t channels = 1;
  std::int64_t train_count = 0;
  std::int64_t test_count = 0;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  PixelType type = PixelType::kUint8;
  bool has_clients = false;         // /train/clients present
  std::vector<SourceFile> sources;  // every input file, in the order they were read
};

// Writes `dataset` with the provenance in `info` (source and source files; counts, shape,
// type and num_classes are taken from the dataset). Writes a temp name beside PATH, fsyncs
// it and renames it over PATH (core/durable_file.hpp), so a failure never leaves a
// half-written PATH; the parent directory is created.
Status write_dataset(const std::filesystem::path& path, const Dataset& dataset,
                     const DatasetInfo& info);

// Reads the attributes and shapes only.
Result<DatasetInfo> read_dataset_info(const std::filesystem::path& path);

// The samples at `indices` (each < set.count), in that order: one rank's shard.
ImageSet subset(const ImageSet& set, std::span<const std::int64_t> indices);

// SHA-256 of the arrays (docs/data.md, "Content hash"): the same for the same classes,
// shapes, types, pixels, labels and client ids whatever the file's HDF5 layout or history,
// so a file written again from the same inputs hashes alike, and an old 3-D file like its
// (N, 1, H, W) rewrite. Genesis records it for the arrays a job loads.
Hash32 content_hash(const Dataset& dataset);

// Per channel, the mean and standard deviation of the pixels as the model sees them before
// normalisation (uint8 scaled to [0, 1], float32 as stored), summed in index order in
// double precision so every rank gets the same bits (for data.normalize).
struct PixelStats {
  std::vector<double> mean;    // (channels)
  std::vector<double> stddev;  // (channels)
};
PixelStats pixel_stats(const ImageSet& set);

}  // namespace fedchain::data
