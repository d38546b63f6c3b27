// Reader for IDX files (the MNIST / Fashion-MNIST distribution format), gzipped or not:
// a big-endian header (magic 0x0000080D: unsigned bytes, D dimensions; then D u32 sizes)
// followed by the bytes. Hostile or damaged files give an error naming the file and what is
// wrong, with a short reason code; nothing here throws.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "fedchain/core/error.hpp"
#include "fedchain/data/dataset.hpp"

namespace fedchain::data {

inline constexpr std::uint32_t kIdxImagesMagic = 0x00000803;  // ubyte, 3 dimensions
inline constexpr std::uint32_t kIdxLabelsMagic = 0x00000801;  // ubyte, 1 dimension

// The largest payload accepted (2 GiB), so a damaged header cannot ask for an absurd
// allocation.
inline constexpr std::int64_t kIdxMaxPayloadBytes = std::int64_t{1} << 31;

struct IdxImages {
  std::int64_t count = 0;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::vector<std::uint8_t> pixels;  // (count, rows, cols), row-major
};

// Errors are config errors (exit 2: a bad input file named by the user) with Error::code one
// of "missing-file", "unreadable", "bad-magic", "bad-shape", "truncated", "trailing-bytes",
// "count-mismatch", "label-out-of-range".
Result<IdxImages> read_idx_images(const std::filesystem::path& path);
Result<std::vector<std::uint8_t>> read_idx_labels(const std::filesystem::path& path);

// Both files of one split: image and label counts must match and every label must be
// below num_classes.
Result<ImageSet> read_idx_split(const std::filesystem::path& images_path,
                                const std::filesystem::path& labels_path,
                                std::int64_t num_classes = 10);

}  // namespace fedchain::data
