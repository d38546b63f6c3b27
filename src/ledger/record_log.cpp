// Framed-record files (layout and crash rules in record_log.hpp).
#include "fedchain/ledger/record_log.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "fedchain/core/encoding.hpp"
#include "fedchain/ledger/crc32c.hpp"

namespace fedchain::ledger {

namespace {

std::uint32_t load_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

// True when some prefix of `rest` has CRC-32C `crc`: the record is whole, its length is not.
bool some_prefix_matches(ByteView rest, std::uint32_t crc) {
  std::uint32_t running = 0;
  for (std::size_t i = 0; i < rest.size(); ++i) {
    running = crc32c_extend(running, rest.subspan(i, 1));
    if (running == crc) return true;
  }
  return false;
}

// True when a whole record that decodes starts somewhere in `rest`. Only read when a
// record runs past the end of the file; a candidate must have a length that fits before
// its checksum is computed, so random bytes cost little.
bool holds_a_later_record(ByteView rest, const RecordFormat& format) {
  for (std::size_t at = 1; at + kRecordFrameBytes < rest.size(); ++at) {
    const std::uint32_t len = load_u32(rest.data() + at);
    const std::size_t room = rest.size() - at - kRecordFrameBytes;
    if (len == 0 || len > room || len > format.max_record_bytes) continue;
    const ByteView payload = rest.subspan(at + kRecordFrameBytes, len);
    if (crc32c(payload) == load_u32(rest.data() + at + 4) && format.decodes(payload)) {
      return true;
    }
  }
  return false;
}

}  // namespace

Bytes record_file_header(const RecordFormat& format) {
  Writer w;
  w.raw({reinterpret_cast<const std::uint8_t*>(format.magic.data()), format.magic.size()})
      .u32(format.version);
  return w.take();
}

std::optional<RecordDamage> record_file_header_damage(ByteView file, const RecordFormat& format) {
  const Bytes header = record_file_header(format);
  if (file.size() < header.size() ||
      !std::equal(header.begin(), header.begin() + 8, file.begin())) {
    return RecordDamage{"bad-magic", 0,
                        fmt::format("not a fedchain {} file (no {} header)", format.what,
                                    std::string_view(format.magic.data(), format.magic.size()))};
  }
  if (const auto version = load_u32(file.data() + 8); version != format.version) {
    return RecordDamage{"unknown-version", 8,
                        fmt::format("{} format version {} (this build reads {})", format.what,
                                    version, format.version)};
  }
  return std::nullopt;
}

Bytes frame_record(ByteView payload) {
  Writer w;
  w.u32(static_cast<std::uint32_t>(payload.size())).u32(crc32c(payload)).raw(payload);
  return w.take();
}

FramedRecord read_framed_record(ByteView rest, const RecordFormat& format) {
  auto damaged = [](std::string code, std::string why) {
    return FramedRecord{{}, false, RecordDamage{std::move(code), 0, std::move(why)}};
  };
  const bool zero_tail = std::all_of(rest.begin(), rest.end(), [](auto b) { return b == 0; });
  const bool short_header = rest.size() < kRecordFrameBytes;
  const std::uint32_t len = short_header ? 0 : load_u32(rest.data());
  const std::uint32_t crc = short_header ? 0 : load_u32(rest.data() + 4);
  const bool past_end = short_header || len > rest.size() - kRecordFrameBytes;
  if (!short_header && past_end && some_prefix_matches(rest.subspan(kRecordFrameBytes), crc)) {
    return damaged("bad-record-length",
                   fmt::format("record length {} runs past the end of the file, yet the record's "
                               "checksum matches a shorter length: the length field is damaged",
                               len));
  }
  const bool too_long = len > format.max_record_bytes;
  if (past_end && !zero_tail && (too_long || holds_a_later_record(rest, format))) {
    return damaged(
        "damaged-record",
        fmt::format("the record's header (length {}) runs past the end of the file, "
                    "but {}: the {} is damaged here, not torn by a crash",
                    len,
                    too_long ? "no append writes a record that long" : "whole records follow it",
                    format.what));
  }
  if (past_end || zero_tail) return FramedRecord{{}, true, {}};
  if (len == 0) return damaged("empty-record", "a record of length 0");
  if (too_long) {
    return damaged("oversized-length", fmt::format("record length {} exceeds the limit {}", len,
                                                   format.max_record_bytes));
  }
  const ByteView payload = rest.subspan(kRecordFrameBytes, len);
  if (const auto actual = crc32c(payload); actual != crc) {
    return damaged("bad-crc",
                   fmt::format("checksum mismatch (stored {:08x}, computed {:08x})", crc, actual));
  }
  return FramedRecord{payload, false, {}};
}

Status write_and_sync(int fd, ByteView bytes, std::uint64_t offset, const std::string& name) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return runtime_error("cannot write {}: {}", name, std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return runtime_error("cannot fsync {}: {}", name, std::strerror(errno));
  return {};
}

}  // namespace fedchain::ledger
