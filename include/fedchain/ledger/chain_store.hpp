// The chain on disk: RUN_DIR/chain/blocks.log, append-only (docs/formats.md, "Chain file").
//
//   file header   "FEDCHAIN" (8 bytes), u32 format version (1)
//   record 0      genesis
//   record h >= 1 block h and its commit certificate
//   record        [u32 length][u32 crc32c(payload)][payload: length bytes]
//
// Each append is one write followed by fsync (the directory too, when the file is
// created), so a committed block survives a crash. Opening scans every record: checksum,
// decoding, height sequence and hash links. A torn last record (the file ends inside it:
// a crash mid-append) is cut off with a warning naming its height; any other damage is
// refused with the height, byte offset and reason, and the file is left as it is.
// Signatures and quorums are checked by verify_chain (verify.hpp), not here.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/ledger/block.hpp"
#include "fedchain/ledger/certificate.hpp"
#include "fedchain/ledger/genesis.hpp"

namespace fedchain::ledger {

inline constexpr std::uint32_t kChainFormatVersion = 1;
inline constexpr std::uint8_t kBlockRecordVersion = 1;
inline constexpr std::size_t kChainHeaderBytes = 12;
inline constexpr std::size_t kRecordHeaderBytes = 8;
inline constexpr std::size_t kMaxRecordBytes = std::size_t{64} << 20;

struct StoredBlock {
  Block block;
  CommitCertificate certificate;
  std::uint64_t offset = 0;  // byte offset of the record in blocks.log
};

// Payload of record h >= 1: u8 version, u32-prefixed block, u32-prefixed certificate.
Bytes encode_block_record(const Block& block, const CommitCertificate& certificate);
Result<StoredBlock> decode_block_record(ByteView payload);

// A torn last record found on open.
struct TornTail {
  std::uint64_t height = 0;  // the height the torn record would have held
  std::uint64_t offset = 0;  // where it starts (the file is cut back to here)
  std::uint64_t bytes = 0;   // bytes after that offset
};

// Where the first damage is, when opening refuses a chain.
struct ChainDamage {
  std::uint64_t height = 0;
  std::uint64_t offset = 0;
};

enum class OpenMode {
  kReadOnly,  // never writes: a torn tail is reported, not cut (verify, inspect)
  kRepair,    // cuts a torn tail off and allows append (a resuming run)
};

class ChainStore {
 public:
  // RUN_DIR/chain/blocks.log: the primary chain file, written by rank 0.
  static std::filesystem::path log_path(const std::filesystem::path& run_dir);
  // RUN_DIR/chain/replicas/rank-RRRR/blocks.log: a replica written by rank R
  // (ledger.replicas): the primary's blocks, each with the certificate rank R assembled
  // from the precommits it collected, so the bytes may differ from the primary's.
  static std::filesystem::path replica_path(const std::filesystem::path& run_dir,
                                            std::uint32_t rank);
  // The replica files present in a run directory, in rank order.
  static std::vector<std::filesystem::path> replica_paths(const std::filesystem::path& run_dir);

  // Creates RUN_DIR/chain/blocks.log holding `genesis`; refuses if it exists.
  static Result<ChainStore> create(const std::filesystem::path& run_dir, const Genesis& genesis);
  // Opens and scans RUN_DIR/chain/blocks.log; on damage, fills `damage` when given.
  static Result<ChainStore> open(const std::filesystem::path& run_dir, OpenMode mode,
                                 ChainDamage* damage = nullptr);
  // The same for a chain file named by its own path (a replica).
  static Result<ChainStore> create_file(const std::filesystem::path& path, const Genesis& genesis);
  static Result<ChainStore> open_file(const std::filesystem::path& path, OpenMode mode,
                                      ChainDamage* damage = nullptr);
  // Scans a whole chain file held in memory (read-only); `name` is used in messages.
  static Result<ChainStore> parse(ByteView file, const std::string& name,
                                  ChainDamage* damage = nullptr);

  ChainStore(ChainStore&& other) noexcept;
  ChainStore& operator=(ChainStore&& other) noexcept;
  ChainStore(const ChainStore&) = delete;
  ChainStore& operator=(const ChainStore&) = delete;
  ~ChainStore();

  // Appends block height()+1 with its certificate, fsynced before returning. Refuses a
  // block that does not link (height, prev hash, chain id) or a certificate for another
  // block; signatures are the caller's business (validate_commit).
  Status append(const Block& block, const CommitCertificate& certificate);

  const Genesis& genesis() const { return genesis_; }
  std::uint64_t height() const { return blocks_.size(); }  // 0: genesis only
  // Block at `height`, 1 <= height <= height(), O(1).
  const StoredBlock& at(std::uint64_t height) const { return blocks_[height - 1]; }
  const std::vector<StoredBlock>& blocks() const { return blocks_; }
  // Hash of the last block, or of genesis.
  const Hash32& tip_hash() const;
  const std::optional<TornTail>& torn_tail() const { return torn_; }
  const std::string& name() const { return name_; }

 private:
  explicit ChainStore(Genesis genesis) : genesis_(std::move(genesis)) {}
  static Result<ChainStore> scan(ByteView file, const std::string& name, ChainDamage* damage);
  // Decodes a block record found at `offset` and appends it if it links to the tip.
  Status add_record(ByteView payload, std::uint64_t offset);
  Status link_check(const Block& block, const CommitCertificate& certificate) const;

  std::string name_;  // the file path, for messages
  Genesis genesis_;
  std::vector<StoredBlock> blocks_;  // (height), blocks_[h-1] is height h
  std::optional<TornTail> torn_;
  std::uint64_t end_offset_ = 0;  // where the next record goes
  int fd_ = -1;                   // open for append in kRepair mode and after create
};

}  // namespace fedchain::ledger
