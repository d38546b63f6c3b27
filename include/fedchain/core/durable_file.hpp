// Writing files so that a crash never leaves a half-written one under the final name
// (docs/architecture.md, invariant 3): write a temp file beside the target, fsync it, rename it
// over the target, fsync the directory so the rename itself survives a power cut.
#pragma once

#include <filesystem>
#include <string_view>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/error.hpp"

namespace fedchain {

// Replaces `path` with `contents` atomically; `mode` is the new file's permission bits.
Status write_file_atomically(const std::filesystem::path& path, ByteView contents,
                             unsigned mode = 0644);

// The temp name used for `path` while it is being written ("NAME.tmp.PID"): a caller that
// writes a file through another library (HDF5) writes here, then calls commit_temp_file.
std::filesystem::path temp_path_for(const std::filesystem::path& path);

// fsyncs `temp`, renames it to `path` and fsyncs the directory; removes `temp` on failure.
Status commit_temp_file(const std::filesystem::path& temp, const std::filesystem::path& path);

Status fsync_directory(const std::filesystem::path& dir);

}  // namespace fedchain
