// The append-only chain file (layout and recovery rules in chain_store.hpp).
//
// Telling a torn record from damage: a crash mid-append can only leave the LAST record
// short, so the file ends inside it, and what is there is a prefix of what was written
// (or zeros: space the file system allocated before the crash). Damage can make any record
// look like that too, so a record that runs past the end of the file is torn only if
//   - its length is one an append could have written (at most kMaxRecordBytes),
//   - no prefix of what is left matches its CRC-32C (else the payload is all there and
//     the length field is what was damaged), and
//   - no whole, valid record follows it (else it is not the last record: overwritten
//     bytes in the middle of the chain must never be cut off with the blocks after them).
// Anything else is refused, and the file is left as it is.
#include "fedchain/ledger/chain_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include <spdlog/spdlog.h>

#include "fedchain/core/durable_file.hpp"
#include "fedchain/core/encoding.hpp"
#include "fedchain/ledger/crc32c.hpp"
#include "read_file.hpp"

namespace fedchain::ledger {

namespace {

constexpr char kMagic[8] = {'F', 'E', 'D', 'C', 'H', 'A', 'I', 'N'};

std::uint32_t load_u32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

Bytes file_header() {
  Writer w;
  w.raw({reinterpret_cast<const std::uint8_t*>(kMagic), sizeof(kMagic)}).u32(kChainFormatVersion);
  return w.take();
}

Bytes frame(ByteView payload) {
  Writer w;
  w.u32(static_cast<std::uint32_t>(payload.size())).u32(crc32c(payload)).raw(payload);
  return w.take();
}

Status write_all(int fd, ByteView bytes, std::uint64_t offset, const std::string& name) {
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

Status fsync_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return runtime_error("cannot open directory {}: {}", dir.string(), std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0)
    return runtime_error("cannot fsync directory {}: {}", dir.string(), std::strerror(errno));
  return {};
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

// True when a whole record that decodes as a block record starts somewhere in `rest`.
// Only read when a record runs past the end of the file; a candidate must have a length
// that fits before its checksum is computed, so random bytes cost little.
bool holds_a_later_record(ByteView rest) {
  for (std::size_t at = 1; at + kRecordHeaderBytes < rest.size(); ++at) {
    const std::uint32_t len = load_u32(rest.data() + at);
    const std::size_t room = rest.size() - at - kRecordHeaderBytes;
    if (len == 0 || len > room || len > kMaxRecordBytes) continue;
    const ByteView payload = rest.subspan(at + kRecordHeaderBytes, len);
    if (crc32c(payload) == load_u32(rest.data() + at + 4) && decode_block_record(payload)) {
      return true;
    }
  }
  return false;
}

// Why a chain file is refused: a reason code, where (from the start of the bytes looked
// at), and an explanation.
struct Damage {
  std::string code;
  std::uint64_t offset = 0;
  std::string why;
};

std::optional<Damage> file_header_damage(ByteView file) {
  const Bytes header = file_header();
  if (file.size() < header.size() ||
      !std::equal(header.begin(), header.begin() + 8, file.begin())) {
    return Damage{"bad-magic", 0, "not a fedchain chain file (no FEDCHAIN header)"};
  }
  if (const auto version = load_u32(file.data() + 8); version != kChainFormatVersion) {
    return Damage{
        "unknown-version", 8,
        fmt::format("chain format version {} (this build reads {})", version, kChainFormatVersion)};
  }
  return std::nullopt;
}

// What starts at a record's offset: a whole record's payload, a torn record (the file ends
// inside it after a crash mid-append), or damage.
struct Framed {
  ByteView payload;
  bool torn = false;
  std::optional<Damage> damage;
};

Framed read_record(ByteView rest) {
  auto damaged = [](std::string code, std::string why) {
    return Framed{{}, false, Damage{std::move(code), 0, std::move(why)}};
  };
  const bool zero_tail = std::all_of(rest.begin(), rest.end(), [](auto b) { return b == 0; });
  const bool short_header = rest.size() < kRecordHeaderBytes;
  const std::uint32_t len = short_header ? 0 : load_u32(rest.data());
  const std::uint32_t crc = short_header ? 0 : load_u32(rest.data() + 4);
  const bool past_end = short_header || len > rest.size() - kRecordHeaderBytes;
  if (!short_header && past_end && some_prefix_matches(rest.subspan(kRecordHeaderBytes), crc)) {
    return damaged("bad-record-length",
                   fmt::format("record length {} runs past the end of the file, yet the record's "
                               "checksum matches a shorter length: the length field is damaged",
                               len));
  }
  if (past_end && !zero_tail && (len > kMaxRecordBytes || holds_a_later_record(rest))) {
    return damaged("damaged-record",
                   fmt::format("the record's header (length {}) runs past the end of the file, "
                               "but {}: the chain is damaged here, not torn by a crash",
                               len,
                               len > kMaxRecordBytes ? "no append writes a record that long"
                                                     : "whole records follow it"));
  }
  if (past_end || zero_tail) return Framed{{}, true, {}};
  if (len == 0) return damaged("empty-record", "a record of length 0");
  if (len > kMaxRecordBytes) {
    return damaged("oversized-length",
                   fmt::format("record length {} exceeds the limit {}", len, kMaxRecordBytes));
  }
  const ByteView payload = rest.subspan(kRecordHeaderBytes, len);
  if (const auto actual = crc32c(payload); actual != crc) {
    return damaged("bad-crc",
                   fmt::format("checksum mismatch (stored {:08x}, computed {:08x})", crc, actual));
  }
  return Framed{payload, false, {}};
}

// A block record's fields (core/encoding.hpp): a version byte, then the block and its
// certificate, each its own encoding. Neither has a default value, so a Reader fills
// std::optionals.
void record_fields(auto& s, auto& block, auto& certificate) {
  s.version(kBlockRecordVersion)(nested(block, at_most(kMaxRecordBytes)),
                                 nested(certificate, at_most(kMaxRecordBytes)));
}

}  // namespace

Bytes encode_block_record(const Block& block, const CommitCertificate& certificate) {
  Writer w;
  record_fields(w, block, certificate);
  return w.take();
}

Result<StoredBlock> decode_block_record(ByteView payload) {
  Reader r(payload, "block record");
  std::optional<Block> block;
  std::optional<CommitCertificate> certificate;
  record_fields(r, block, certificate);
  if (auto st = r.finish(); !st) return st.error();
  return StoredBlock{std::move(*block), std::move(*certificate), 0};
}

std::filesystem::path ChainStore::log_path(const std::filesystem::path& run_dir) {
  return run_dir / "chain" / "blocks.log";
}

ChainStore::ChainStore(ChainStore&& other) noexcept
    : name_(std::move(other.name_)),
      genesis_(std::move(other.genesis_)),
      blocks_(std::move(other.blocks_)),
      torn_(other.torn_),
      end_offset_(other.end_offset_),
      fd_(std::exchange(other.fd_, -1)) {}

ChainStore& ChainStore::operator=(ChainStore&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    name_ = std::move(other.name_);
    genesis_ = std::move(other.genesis_);
    blocks_ = std::move(other.blocks_);
    torn_ = other.torn_;
    end_offset_ = other.end_offset_;
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

ChainStore::~ChainStore() {
  if (fd_ >= 0) ::close(fd_);
}

const Hash32& ChainStore::tip_hash() const {
  return blocks_.empty() ? genesis_.hash() : blocks_.back().block.hash();
}

std::filesystem::path ChainStore::replica_path(const std::filesystem::path& run_dir,
                                               std::uint32_t rank) {
  return run_dir / "chain" / "replicas" / fmt::format("rank-{:04d}", rank) / "blocks.log";
}

std::vector<std::filesystem::path> ChainStore::replica_paths(const std::filesystem::path& run_dir) {
  std::vector<std::filesystem::path> paths;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator(run_dir / "chain" / "replicas", ec)) {
    const auto path = entry.path() / "blocks.log";
    if (entry.is_directory() && std::filesystem::exists(path)) paths.push_back(path);
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

Result<ChainStore> ChainStore::create(const std::filesystem::path& run_dir,
                                      const Genesis& genesis) {
  return create_file(log_path(run_dir), genesis);
}

Result<ChainStore> ChainStore::create_file(const std::filesystem::path& path,
                                           const Genesis& genesis) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return runtime_error("cannot create {}: {}", path.parent_path().string(), ec.message());
  if (std::filesystem::exists(path, ec)) {
    return config_error("{} already exists: resume the run, or choose a new run directory",
                        path.string());
  }
  // Header and genesis go in whole or not at all (a temp file renamed into place): a disk
  // that fills up here must not leave a chain file that holds no genesis.
  Bytes bytes = file_header();
  const Bytes record = frame(genesis.encode());
  bytes.insert(bytes.end(), record.begin(), record.end());
  if (auto st = write_file_atomically(path, bytes); !st) return st.error();
  // That directory's own entry in its parent (chain/ in the run directory, or rank-R/ in
  // chain/replicas/).
  if (auto st = fsync_dir(path.parent_path().parent_path()); !st) return st.error();
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    return runtime_error("cannot open {} to append: {}", path.string(), std::strerror(errno));
  }
  ChainStore store(genesis);
  store.name_ = path.string();
  store.fd_ = fd;
  store.end_offset_ = bytes.size();
  return store;
}

Result<ChainStore> ChainStore::open(const std::filesystem::path& run_dir, OpenMode mode,
                                    ChainDamage* damage) {
  const auto path = log_path(run_dir);
  if (!std::filesystem::exists(path)) {
    return config_error("cannot read {}: is {} a run directory?", path.string(), run_dir.string());
  }
  return open_file(path, mode, damage);
}

Result<ChainStore> ChainStore::open_file(const std::filesystem::path& path, OpenMode mode,
                                         ChainDamage* damage) {
  const auto file = detail::read_file(path);
  if (!file) return config_error("cannot read {}", path.string());
  auto store = scan(*file, path.string(), damage);
  if (!store || mode == OpenMode::kReadOnly) return store;
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return runtime_error("cannot open {} to append: {}", path.string(), std::strerror(errno));
  store->fd_ = fd;
  if (const auto& torn = store->torn_) {
    if (::ftruncate(fd, static_cast<off_t>(torn->offset)) != 0 || ::fsync(fd) != 0) {
      return runtime_error("cannot cut the torn record off {}: {}", path.string(),
                           std::strerror(errno));
    }
    spdlog::warn(
        "{}: cut off {} bytes at byte {}: height {} was torn by a crash mid-append and "
        "never committed; the chain now ends at height {}",
        path.string(), torn->bytes, torn->offset, torn->height, torn->height - 1);
  }
  return store;
}

Result<ChainStore> ChainStore::parse(ByteView file, const std::string& name, ChainDamage* damage) {
  return scan(file, name, damage);
}

Result<ChainStore> ChainStore::scan(ByteView file, const std::string& name, ChainDamage* damage) {
  auto refuse = [&](std::string code, std::uint64_t height, std::uint64_t offset,
                    const std::string& why) -> Error {
    if (damage != nullptr) *damage = {height, offset};
    return reject(std::move(code), "{}: height {}, byte {}: {}; the file was left unchanged", name,
                  height, offset, why);
  };
  if (auto bad = file_header_damage(file)) return refuse(bad->code, 0, bad->offset, bad->why);
  std::optional<ChainStore> store;
  std::uint64_t pos = kChainHeaderBytes;
  std::uint64_t height = 0;
  while (pos < file.size()) {
    const Framed record = read_record(file.subspan(pos));
    if (record.damage) return refuse(record.damage->code, height, pos, record.damage->why);
    if (record.torn) {
      if (height == 0) {
        return refuse("no-genesis", 0, pos,
                      "the genesis record is incomplete: the chain was never fully created; "
                      "remove the run directory's chain/ and start the run again");
      }
      store->torn_ = TornTail{height, pos, file.size() - pos};
      spdlog::warn(
          "{}: the last record (height {}, byte {}, {} bytes) is torn: a crash "
          "mid-append; that block was never committed",
          name, height, pos, file.size() - pos);
      break;
    }
    if (height == 0) {
      auto genesis = Genesis::decode(record.payload);
      if (!genesis) return refuse(genesis.error().code, 0, pos, genesis.error().message);
      store.emplace(ChainStore(std::move(*genesis)));
      store->name_ = name;
    } else if (auto st = store->add_record(record.payload, pos); !st) {
      return refuse(st.error().code, height, pos, st.error().message);
    }
    pos += kRecordHeaderBytes + record.payload.size();
    ++height;
  }
  if (!store) return refuse("no-genesis", 0, pos, "the chain file holds no genesis record");
  store->end_offset_ = store->torn_ ? store->torn_->offset : pos;
  return std::move(*store);
}

Status ChainStore::add_record(ByteView payload, std::uint64_t offset) {
  auto record = decode_block_record(payload);
  if (!record) return record.error();
  if (auto st = link_check(record->block, record->certificate); !st) return st;
  record->offset = offset;
  blocks_.push_back(std::move(*record));
  return {};
}

Status ChainStore::link_check(const Block& block, const CommitCertificate& certificate) const {
  const auto& h = block.header();
  if (h.height != height() + 1) {
    return reject("bad-height", "block height {} where height {} belongs", h.height, height() + 1);
  }
  if (h.chain_id != genesis_.chain_id()) {
    return reject("wrong-chain", "block chain id {} is not genesis's {}", h.chain_id.short_hex(),
                  genesis_.chain_id().short_hex());
  }
  if (h.prev_hash != tip_hash()) {
    return reject("bad-prev-hash", "prev hash {} does not link to height {} ({})",
                  h.prev_hash.short_hex(), height(), tip_hash().short_hex());
  }
  if (certificate.height() != h.height || certificate.block_hash() != block.hash()) {
    return reject("wrong-certificate-block",
                  "the commit certificate is for height {} block {}, not this block {}",
                  certificate.height(), certificate.block_hash().short_hex(),
                  block.hash().short_hex());
  }
  return {};
}

Status ChainStore::append(const Block& block, const CommitCertificate& certificate) {
  if (fd_ < 0) return runtime_error("{} was opened read-only; it cannot be appended to", name_);
  if (auto st = link_check(block, certificate); !st) return st;
  const Bytes record = frame(encode_block_record(block, certificate));
  if (auto st = write_all(fd_, record, end_offset_, name_); !st) {
    // Leave no partial record behind for the next append to build on.
    if (::ftruncate(fd_, static_cast<off_t>(end_offset_)) != 0) {
      spdlog::error("{}: cannot cut a failed append back: {}", name_, std::strerror(errno));
    }
    return st;
  }
  blocks_.push_back({block, certificate, end_offset_});
  end_offset_ += record.size();
  return {};
}

}  // namespace fedchain::ledger
