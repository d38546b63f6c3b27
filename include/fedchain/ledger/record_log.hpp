// Append-only files of framed records: the chain file (chain_store.hpp) and the receipts
// log (serve/receipt_log.hpp) share this framing and its crash rules, so both are repaired
// and refused the same way (docs/formats.md, "Chain file").
//
//   file header   8 ASCII magic bytes, u32 format version
//   record        [u32 length][u32 crc32c(payload)][payload: length bytes]
//
// A record whose declared end lies past the end of the file, or a tail of zero bytes, is
// torn (a crash mid-append) only when it is the last thing in the file: its length is one
// an append could write, no prefix of what follows its header has its CRC (else the length
// field is damaged), and no whole record that decodes starts after it (else bytes were
// overwritten mid-file). Everything else is damage, which is refused, never cut.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/error.hpp"

namespace fedchain::ledger {

inline constexpr std::size_t kRecordFileHeaderBytes = 12;
inline constexpr std::size_t kRecordFrameBytes = 8;

// What a record file is: its magic, format version and largest record.
struct RecordFormat {
  std::array<char, 8> magic{};
  std::uint32_t version = 1;
  std::size_t max_record_bytes = 0;
  std::string what;  // "chain", "receipts log": for messages
  // True when a payload decodes as this file's record: tells a torn tail from damage.
  std::function<bool(ByteView)> decodes;
};

// Why a record file is refused: a reason code, the byte offset (from the start of the
// bytes looked at) and an explanation.
struct RecordDamage {
  std::string code;
  std::uint64_t offset = 0;
  std::string why;
};

Bytes record_file_header(const RecordFormat& format);
std::optional<RecordDamage> record_file_header_damage(ByteView file, const RecordFormat& format);

// [u32 length][u32 crc32c][payload]
Bytes frame_record(ByteView payload);

// What starts at a record's offset: a whole record's payload, a torn record, or damage.
struct FramedRecord {
  ByteView payload;
  bool torn = false;
  std::optional<RecordDamage> damage;
};
FramedRecord read_framed_record(ByteView rest, const RecordFormat& format);

// Writes `bytes` at `offset` of the open file and fsyncs it; `name` is used in messages.
Status write_and_sync(int fd, ByteView bytes, std::uint64_t offset, const std::string& name);

}  // namespace fedchain::ledger
