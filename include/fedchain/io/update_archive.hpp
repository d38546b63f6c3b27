// The archive of committed updates (ledger.archive_updates; docs/formats.md, "Update
// archive"): each rank keeps the quantized update q_k of every client it hosts, every
// round, so that `fedchain verify` can recompute each aggregate and state root from what
// the transactions signed.
//
//   RUN_DIR/updates/client-0003/height-00000012.h5   /q: int32 (parameters), attributes
//
// One file per client and height, each written to a temp name, fsynced and renamed (the
// checkpoint's discipline), and never modified afterwards: a crash leaves at most a stray
// temp file, never a torn file under a real name or damage to a height written before.
// A client has one hosting rank, so ranks never race on a file; in allreduce mode a rank
// holds no other rank's clients' updates anyway.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "fedchain/core/error.hpp"
#include "fedchain/core/hash.hpp"

namespace fedchain::io {

struct ArchivedUpdate {
  std::uint64_t height = 0;
  std::uint32_t client = 0;
  Hash32 chain_id;                   // the chain the update was committed on
  Hash32 update_root;                // Merkle root of `values`, as the client's tx signs it
  std::vector<std::int32_t> values;  // (parameters) q_i
};

class UpdateArchive {
 public:
  // `updates_dir` is RUN_DIR/updates; nothing is created until the first write.
  explicit UpdateArchive(std::filesystem::path updates_dir) : dir_(std::move(updates_dir)) {}

  std::filesystem::path client_dir(std::uint32_t client) const;
  std::filesystem::path path(std::uint32_t client, std::uint64_t height) const;

  // Writes (or atomically replaces) the file for (update.client, update.height); durable when
  // it returns. A runtime error names the file.
  Status write(const ArchivedUpdate& update) const;

  // Reads the file for (client, height). Refused with a reason code: "archive-missing" (no
  // such file), "archive-unreadable" (not HDF5, torn, wrong format version, attributes or
  // dataset missing), "archive-mismatch" (its attributes name another client or height).
  Result<ArchivedUpdate> read(std::uint32_t client, std::uint64_t height) const;

  // The heights archived for `client`, ascending (by file name; files are not opened).
  std::vector<std::uint64_t> heights(std::uint32_t client) const;

  // Removes `client`'s files for heights above `tip` and its leftover temp files: what a
  // killed run wrote for rounds the chain never committed. Returns how many files went.
  Result<std::size_t> remove_uncommitted(std::uint32_t client, std::uint64_t tip) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace fedchain::io
