#include "fedchain/serve/receipt_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "fedchain/core/durable_file.hpp"
#include "fedchain/ledger/record_log.hpp"

namespace fedchain::serve {

namespace {

constexpr std::size_t kMaxReceiptRecordBytes = kMaxArchitectureBytes + 4096;

const ledger::RecordFormat& receipt_format() {
  static const ledger::RecordFormat format{
      {'F', 'E', 'D', 'R', 'C', 'P', 'T', 'S'},
      1,
      kMaxReceiptRecordBytes,
      "receipts log",
      [](ByteView payload) { return Receipt::decode(payload).has_value(); }};
  return format;
}

// A file shorter than its header that holds a prefix of it: a crash while it was created.
bool torn_header(ByteView file) {
  const Bytes header = ledger::record_file_header(receipt_format());
  return file.size() < header.size() && std::equal(file.begin(), file.end(), header.begin());
}

Result<ReceiptLogContents> scan(ByteView file, const std::string& name, std::uint64_t* end_offset) {
  ReceiptLogContents contents;
  *end_offset = 0;
  if (file.empty() || torn_header(file)) return contents;
  if (auto bad = ledger::record_file_header_damage(file, receipt_format())) {
    return reject(bad->code, "{}: byte {}: {}; the file was left unchanged", name, bad->offset,
                  bad->why);
  }
  std::uint64_t pos = ledger::kRecordFileHeaderBytes;
  while (pos < file.size()) {
    const auto record = ledger::read_framed_record(file.subspan(pos), receipt_format());
    const std::size_t index = contents.receipts.size();
    if (record.damage) {
      return reject(record.damage->code, "{}: receipt {}, byte {}: {}; the file was left unchanged",
                    name, index, pos, record.damage->why);
    }
    if (record.torn) {
      contents.torn_offset = pos;
      break;
    }
    auto receipt = Receipt::decode(record.payload);
    if (!receipt) {
      return reject(receipt.error().code, "{}: receipt {}, byte {}: {}", name, index, pos,
                    receipt.error().message);
    }
    contents.receipts.push_back(std::move(*receipt));
    pos += ledger::kRecordFrameBytes + record.payload.size();
  }
  *end_offset = contents.torn_offset.value_or(pos);
  return contents;
}

Result<Bytes> read_all(int fd, const std::string& name) {
  struct stat info = {};
  if (::fstat(fd, &info) != 0)
    return runtime_error("cannot stat {}: {}", name, std::strerror(errno));
  Bytes bytes(static_cast<std::size_t>(info.st_size));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::pread(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return runtime_error("cannot read {}: {}", name, std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  return bytes;
}

// Closes the file (and so drops its lock) on scope exit.
struct FileCloser {
  int fd;
  ~FileCloser() { ::close(fd); }
};

}  // namespace

std::filesystem::path receipt_log_path(const std::filesystem::path& run_dir) {
  return run_dir / "receipts.log";
}

Result<ReceiptLogContents> read_receipt_log(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return ReceiptLogContents{};
    return config_error("cannot read {}: {}", path.string(), std::strerror(errno));
  }
  FileCloser closer{fd};
  auto bytes = read_all(fd, path.string());
  if (!bytes) return bytes.error();
  std::uint64_t end = 0;
  return scan(*bytes, path.string(), &end);
}

Status append_receipt(const std::filesystem::path& path, const Receipt& receipt) {
  const std::string name = path.string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return runtime_error("cannot open {} to append: {}", name, std::strerror(errno));
  FileCloser closer{fd};
  struct flock lock = {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  while (::fcntl(fd, F_OFD_SETLKW, &lock) != 0) {
    if (errno != EINTR) return runtime_error("cannot lock {}: {}", name, std::strerror(errno));
  }
  auto bytes = read_all(fd, name);
  if (!bytes) return bytes.error();
  std::uint64_t end = 0;
  auto contents = scan(*bytes, name, &end);
  if (!contents) return contents.error();
  Bytes record;
  if (end == 0) {  // a new file, or one a crash left without its whole header
    record = ledger::record_file_header(receipt_format());
  }
  if (contents->torn_offset) {
    spdlog::warn("{}: cut off {} bytes at byte {}: a receipt torn by a crash mid-append", name,
                 bytes->size() - end, end);
  }
  if (end < bytes->size() && ::ftruncate(fd, static_cast<off_t>(end)) != 0) {
    return runtime_error("cannot cut the torn tail off {}: {}", name, std::strerror(errno));
  }
  const Bytes framed = ledger::frame_record(receipt.encode());
  record.insert(record.end(), framed.begin(), framed.end());
  if (auto st = ledger::write_and_sync(fd, record, end, name); !st) {
    if (::ftruncate(fd, static_cast<off_t>(end)) != 0) {
      spdlog::error("{}: cannot cut a failed append back: {}", name, std::strerror(errno));
    }
    return st;
  }
  if (end == 0) return fsync_directory(path.parent_path());
  return {};
}

}  // namespace fedchain::serve
