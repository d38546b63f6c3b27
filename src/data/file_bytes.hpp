// Whole small input files (CIFAR batches, .npy arrays) read into memory, bounded, so the
// bytes are hashed and parsed from one read. Private to data/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "fedchain/core/error.hpp"

namespace fedchain::data {

// Config errors (exit 2: a file the user named) with code "missing-file", "unreadable", or
// "too-large" for a file over max_bytes (refused before allocating).
Result<std::vector<std::uint8_t>> read_whole_file(const std::filesystem::path& path,
                                                  std::int64_t max_bytes);

}  // namespace fedchain::data
