// Reads a whole file into memory (chain files and job files are read once, in full).
// Internal to ledger/.
#pragma once

#include <filesystem>
#include <fstream>
#include <optional>

#include "fedchain/core/bytes.hpp"

namespace fedchain::ledger::detail {

// The file's bytes, or nullopt when it cannot be opened or read.
inline std::optional<Bytes> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return std::nullopt;
  const std::streamoff size = in.tellg();
  if (size < 0) return std::nullopt;
  Bytes bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  if (!in.read(reinterpret_cast<char*>(bytes.data()), size)) return std::nullopt;
  return bytes;
}

}  // namespace fedchain::ledger::detail
