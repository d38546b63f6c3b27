// Helpers for the data tests: IDX files written by
// hand (gzipped or not) so each test states exactly which bytes the reader sees.
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace fedchain::data::testing {

using fedchain::testing::TempDir;

inline void append_u32_be(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(v >> shift));
}

// IDX bytes: magic, dims, then payload as given (which may disagree with the dims on purpose).
inline std::vector<std::uint8_t> idx_bytes(std::uint32_t magic,
                                           const std::vector<std::uint32_t>& dims,
                                           const std::vector<std::uint8_t>& payload) {
  std::vector<std::uint8_t> out;
  append_u32_be(out, magic);
  for (const auto d : dims) append_u32_be(out, d);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

inline void write_gz(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
              static_cast<int>(bytes.size()));
  }
  ASSERT_EQ(gzclose(file), Z_OK);
}

inline void write_raw(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

inline std::vector<std::uint8_t> read_raw(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// n images of rows x cols whose pixel (i, r, c) is (i + r * cols + c) mod 256, labels i mod 10.
inline std::vector<std::uint8_t> pattern_pixels(std::uint32_t n, std::uint32_t rows,
                                                std::uint32_t cols) {
  std::vector<std::uint8_t> pixels;
  for (std::uint32_t i = 0; i < n; ++i) {
    for (std::uint32_t p = 0; p < rows * cols; ++p) {
      pixels.push_back(static_cast<std::uint8_t>((i + p) % 256));
    }
  }
  return pixels;
}
inline std::vector<std::uint8_t> pattern_labels(std::uint32_t n) {
  std::vector<std::uint8_t> labels;
  for (std::uint32_t i = 0; i < n; ++i) labels.push_back(static_cast<std::uint8_t>(i % 10));
  return labels;
}

}  // namespace fedchain::data::testing
