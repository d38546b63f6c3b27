// The append-only chain file (layout and recovery rules in chain_store.hpp).
// How a torn last record is told from damage lives in record_log.cpp, shared with the
// receipts log; this file holds what is the chain's own: genesis first, block records that
// link, and cutting a torn tail off when a run resumes.
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
#include "fedchain/ledger/record_log.hpp"
#include "read_file.hpp"

namespace fedchain::ledger {

namespace {

// The chain file's framing (record_log.hpp); a torn tail is told from damage by whether a
// later block record follows it.
const RecordFormat& chain_format() {
  static const RecordFormat format{
      {'F', 'E', 'D', 'C', 'H', 'A', 'I', 'N'},
      kChainFormatVersion,
      kMaxRecordBytes,
      "chain",
      [](ByteView payload) { return decode_block_record(payload).has_value(); }};
  return format;
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
  Bytes bytes = record_file_header(chain_format());
  const Bytes record = frame_record(genesis.encode());
  bytes.insert(bytes.end(), record.begin(), record.end());
  if (auto st = write_file_atomically(path, bytes); !st) return st.error();
  // That directory's own entry in its parent (chain/ in the run directory, or rank-R/ in
  // chain/replicas/).
  if (auto st = fsync_directory(path.parent_path().parent_path()); !st) return st.error();
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
  if (auto bad = record_file_header_damage(file, chain_format())) {
    return refuse(bad->code, 0, bad->offset, bad->why);
  }
  std::optional<ChainStore> store;
  std::uint64_t pos = kChainHeaderBytes;
  std::uint64_t height = 0;
  while (pos < file.size()) {
    const FramedRecord record = read_framed_record(file.subspan(pos), chain_format());
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
  const Bytes record = frame_record(encode_block_record(block, certificate));
  if (auto st = write_and_sync(fd_, record, end_offset_, name_); !st) {
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
