#include "fedchain/io/run_dir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <utility>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "fedchain/core/durable_file.hpp"

namespace fedchain::io {

namespace fs = std::filesystem;

namespace {

Result<std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return runtime_error("cannot read {}", path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// "line 12: stored 'lr = 0.1', given 'lr = 0.2'" for the first differing line.
std::string first_difference(const std::string& stored, const std::string& given) {
  std::istringstream a(stored);
  std::istringstream b(given);
  std::string line_a;
  std::string line_b;
  for (int line = 1;; ++line) {
    const bool more_a = static_cast<bool>(std::getline(a, line_a));
    const bool more_b = static_cast<bool>(std::getline(b, line_b));
    if (!more_a && !more_b) return "no difference";
    if (!more_a) line_a = "<end of file>";
    if (!more_b) line_b = "<end of file>";
    if (line_a != line_b) {
      return fmt::format("line {}: stored '{}', given '{}'", line, line_a, line_b);
    }
  }
}

// "pid 4242 on node07, Slurm job 118, since 2026-12-02T20:14:05Z": who holds a run.lock.
std::string holder_text() {
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  const char* slurm_job = std::getenv("SLURM_JOB_ID");
  return fmt::format("pid {} on {}{}, since {:%Y-%m-%dT%H:%M:%SZ}", ::getpid(), host,
                     slurm_job ? fmt::format(", Slurm job {}", slurm_job) : std::string(),
                     fmt::gmtime(std::time(nullptr)));
}

std::string read_holder(int fd) {
  char text[512] = {};
  const ssize_t n = ::pread(fd, text, sizeof(text) - 1, 0);
  return n > 0 ? std::string(text, static_cast<std::size_t>(n)) : std::string("holder unknown");
}

}  // namespace

Result<RunLock> RunLock::acquire(const fs::path& root) {
  const fs::path path = root / "run.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return config_error(
        "run directory '{}' is not writable (cannot open {}: {}); choose a "
        "writable --run-dir, or copy the run to one",
        root.string(), path.string(), std::strerror(errno));
  }
  struct flock lock = {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  if (::fcntl(fd, F_OFD_SETLK, &lock) != 0) {
    const int err = errno;
    if (err == EAGAIN || err == EACCES) {
      const std::string holder = read_holder(fd);
      ::close(fd);
      return config_error(
          "run directory '{}' is in use by another fedchain job ({}): wait for it to end, stop "
          "it (SIGTERM writes a checkpoint and exits), or choose another --run-dir",
          root.string(), holder);
    }
    if (err == ENOSYS || err == ENOLCK || err == EOPNOTSUPP || err == EINVAL) {
      // Lustre mounted without flock, some FUSE file systems: refusing to run there would
      // leave those clusters without fedchain, so the job goes on unguarded and says so.
      spdlog::warn(
          "{}: this file system does not support file locks ({}): a second job on this run "
          "directory would not be detected; run one job at a time on it",
          path.string(), std::strerror(err));
      return RunLock(fd);
    }
    ::close(fd);
    return config_error("cannot lock {}: {}", path.string(), std::strerror(err));
  }
  return RunLock(fd);
}

std::optional<std::string> RunLock::holder(const fs::path& root) {
  const int fd = ::open((root / "run.lock").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct flock lock = {};
  lock.l_type = F_WRLCK;  // would a writer's lock be granted? Only if nobody holds one
  lock.l_whence = SEEK_SET;
  const bool held = ::fcntl(fd, F_OFD_GETLK, &lock) == 0 && lock.l_type != F_UNLCK;
  std::optional<std::string> text;
  if (held) {
    text = read_holder(fd);
    while (!text->empty() && text->back() == '\n') text->pop_back();
  }
  ::close(fd);
  return text;
}

Status RunLock::announce(const fs::path& root) const {
  // Only informs the next job that finds the lock taken, so no fsync.
  const std::string holder = holder_text() + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, holder.data(), holder.size(), 0) < 0) {
    return config_error("run directory '{}' is not writable ({}: {}); choose a writable --run-dir",
                        root.string(), (root / "run.lock").string(), std::strerror(errno));
  }
  return {};
}

RunLock::RunLock(RunLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

Status RunDir::announce_holder() const {
  return lock_ ? lock_->announce(root_) : Status{};
}

fs::path RunDir::checkpoint_path(std::uint64_t height) const {
  return checkpoints_dir() / fmt::format("height-{:08d}.h5", height);
}

Result<RunDir> RunDir::create(const fs::path& root, const std::string& job_toml) {
  RunDir dir(root);
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) {
    return config_error("cannot create '{}': {}; choose a writable --run-dir", root.string(),
                        ec.message());
  }
  auto lock = RunLock::acquire(root);
  if (!lock) return lock.error();
  dir.lock_ = std::make_shared<const RunLock>(std::move(*lock));
  if (fs::exists(dir.job_file(), ec)) {
    return config_error(
        "run directory '{}' already holds a run (job.toml): pass --resume to continue it, "
        "or choose another --run-dir",
        root.string());
  }
  for (const auto& sub :
       {dir.chain_dir(), dir.checkpoints_dir(), dir.updates_dir(), dir.logs_dir()}) {
    fs::create_directories(sub, ec);
    if (ec) {
      return config_error("cannot create '{}': {}; choose a writable --run-dir", sub.string(),
                          ec.message());
    }
  }
  if (::access(root.c_str(), W_OK) != 0) {
    return config_error("run directory '{}' is not writable; choose a writable --run-dir",
                        root.string());
  }
  if (auto st = write_file_atomically(dir.job_file(), as_bytes(job_toml)); !st) {
    return config_error("cannot write {}: {}", dir.job_file().string(), st.error().message);
  }
  return dir;
}

Result<RunDir> RunDir::resume(const fs::path& root, const std::string& job_toml) {
  auto dir = open(root);
  if (!dir) return dir.error();
  auto lock = RunLock::acquire(root);
  if (!lock) return lock.error();
  dir->lock_ = std::make_shared<const RunLock>(std::move(*lock));
  auto stored = read_text(dir->job_file());
  if (!stored) return stored.error();
  if (*stored != job_toml) {
    return config_error(
        "--resume: run directory '{}' was made by a different job ({}); resume with the "
        "job that made it, or start a new run in another --run-dir",
        root.string(), first_difference(*stored, job_toml));
  }
  return dir;
}

bool RunDir::holds_run(const fs::path& root) {
  const RunDir dir(root);
  std::error_code ec;
  return fs::exists(dir.job_file(), ec) || fs::exists(dir.chain_dir() / "blocks.log", ec);
}

Result<RunDir> RunDir::open(const fs::path& root) {
  RunDir dir(root);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return config_error("run directory '{}' does not exist", root.string());
  }
  if (!fs::exists(dir.job_file(), ec)) {
    return config_error("'{}' is not a fedchain run directory: it has no job.toml", root.string());
  }
  return dir;
}

}  // namespace fedchain::io
