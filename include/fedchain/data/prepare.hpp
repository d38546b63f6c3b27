// `fedchain data prepare`: turns a published dataset's distribution files into the HDF5
// file that training reads (docs/data.md). Nothing is downloaded: the files are read from
// a directory the user names. Every input is read and checked before anything is written,
// and the output appears only when complete.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "fedchain/core/error.hpp"
#include "fedchain/data/dataset.hpp"

namespace fedchain::data {

// Where Debian's dataset-fashion-mnist package installs the IDX files.
inline constexpr std::string_view kFashionMnistIdxDir = "/usr/share/datasets/fashion-mnist";

// MNIST and Fashion-MNIST share the file names; each may be gzipped (the name as here) or
// not (the name without ".gz").
struct FashionMnistFiles {
  static constexpr std::string_view kTrainImages = "train-images-idx3-ubyte.gz";
  static constexpr std::string_view kTrainLabels = "train-labels-idx1-ubyte.gz";
  static constexpr std::string_view kTestImages = "t10k-images-idx3-ubyte.gz";
  static constexpr std::string_view kTestLabels = "t10k-labels-idx1-ubyte.gz";
};

// The datasets `prepare` knows.
enum class Published { kMnist, kFashionMnist, kCifar10, kCifar100 };

// "mnist", "fashion-mnist", "cifar10", "cifar100".
std::string_view published_name(Published dataset);

// Reads the four IDX files from idx_dir (28 x 28 images, labels 0 to 9), hashes them, and
// writes out_path with source "mnist" or "fashion-mnist". Missing or malformed inputs are
// config errors (exit 2) naming the file; out_path is then left untouched. Returns what was
// written.
Result<DatasetInfo> prepare_idx_dataset(Published dataset, const std::filesystem::path& idx_dir,
                                        const std::filesystem::path& out_path);

// CIFAR binary records: CIFAR-10's are one label byte then 3,072 pixel bytes (1,024 red,
// 1,024 green, 1,024 blue, each 32 x 32 row-major); CIFAR-100's are a coarse label byte
// (below 20), a fine label byte (below 100; the one kept) and the same pixels.
struct CifarFormat {
  std::int64_t label_bytes = 1;  // bytes before the pixels
  std::int64_t label_index = 0;  // which of them is the label kept
  std::int64_t num_classes = 10;
  std::int64_t coarse_classes = 0;  // CIFAR-100: the bound of byte 0; 0: none
};
inline constexpr std::int64_t kCifarSide = 32;
inline constexpr std::int64_t kCifarPixelBytes = 3 * kCifarSide * kCifarSide;
// The largest CIFAR file read (the real ones are 30 MB and 150 MB).
inline constexpr std::int64_t kCifarMaxFileBytes = std::int64_t{1} << 31;

CifarFormat cifar_format(Published dataset);

// One CIFAR binary file as a (count, 3, 32, 32) uint8 split, and its SHA-256. Errors
// (exit 2) name the file and the record: "missing-file", "unreadable", "truncated" (the
// size is not a whole number of records, or 0), "label-out-of-range".
Result<ImageSet> read_cifar_file(const std::filesystem::path& path, const CifarFormat& format,
                                 SourceFile& source);

// CIFAR-10 from data_batch_1.bin ... data_batch_5.bin and test_batch.bin; CIFAR-100 from
// train.bin and test.bin. `dir` holds them, or holds the folder the archive unpacks to
// (cifar-10-batches-bin, cifar-100-binary).
Result<DatasetInfo> prepare_cifar(Published dataset, const std::filesystem::path& dir,
                                  const std::filesystem::path& out_path);

}  // namespace fedchain::data
