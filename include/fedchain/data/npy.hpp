// Reader for NumPy .npy files (format versions 1.0, 2.0 and 3.0): the magic "\x93NUMPY",
// a version, a little-endian header length, then an ASCII Python dict literal with
// 'descr', 'fortran_order' and 'shape', then the array's bytes in C order. Only plain
// numeric arrays are read (no object, structured or Fortran-ordered arrays). The header is
// parsed by hand, bounded, and never throws; damaged files give an error naming the file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/error.hpp"

namespace fedchain::data {

// numpy's own limit for a header (format 2.0 allows more; no real array needs it).
inline constexpr std::size_t kNpyMaxHeaderBytes = 65536;
inline constexpr std::size_t kNpyMaxDims = 8;

struct NpyHeader {
  char kind = 'u';            // 'u' unsigned integer, 'i' signed integer, 'f' float
  std::size_t item_size = 1;  // bytes per element: 1, 2, 4 or 8
  std::vector<std::int64_t> shape;
  std::size_t data_offset = 0;  // where the array's bytes start
  std::string descr;            // as written, e.g. "<f4", for messages
  std::int64_t elements() const;
};

// Parses the magic, version and header at the start of `file` (all of it or a prefix of at
// least the header). Error codes: "bad-magic", "bad-header" (unknown version, a header that
// is not the dict numpy writes, big-endian or Fortran order, an unknown dtype, a shape too
// large), "truncated".
Result<NpyHeader> parse_npy_header(ByteView file, const std::string& name);

struct NpyArray {
  NpyHeader header;
  Bytes data;              // header.elements() * header.item_size bytes, little-endian
  std::string sha256_hex;  // of the whole file
};

// Reads a whole .npy file of at most max_bytes. Beyond the header's codes: "missing-file",
// "unreadable", "truncated" (fewer data bytes than the shape needs), "trailing-bytes".
Result<NpyArray> read_npy(const std::filesystem::path& path, std::int64_t max_bytes);

}  // namespace fedchain::data
