#include "fedchain/core/durable_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fedchain {

namespace {

Error io_failure(std::string_view what, const std::filesystem::path& path) {
  return runtime_error("{} {}: {}", what, path.string(), std::strerror(errno));
}

Status fsync_path(const std::filesystem::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return io_failure("cannot open for fsync", path);
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) return io_failure("fsync failed for", path);
  return {};
}

}  // namespace

std::filesystem::path temp_path_for(const std::filesystem::path& path) {
  auto temp = path;
  temp += ".tmp." + std::to_string(::getpid());
  return temp;
}

Status fsync_directory(const std::filesystem::path& dir) {
  return fsync_path(dir.empty() ? std::filesystem::path(".") : dir, O_RDONLY | O_DIRECTORY);
}

Status commit_temp_file(const std::filesystem::path& temp, const std::filesystem::path& path) {
  if (auto st = fsync_path(temp, O_RDONLY); !st) {
    std::filesystem::remove(temp);
    return st;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    auto error = io_failure("cannot rename " + temp.string() + " to", path);
    std::filesystem::remove(temp);
    return error;
  }
  return fsync_directory(path.parent_path());
}

Status write_file_atomically(const std::filesystem::path& path, ByteView contents, unsigned mode) {
  const auto temp = temp_path_for(path);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return io_failure("cannot create", temp);
  std::size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      auto error = io_failure("cannot write", temp);
      ::close(fd);
      std::filesystem::remove(temp);
      return error;
    }
    written += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    auto error = io_failure("cannot close", temp);
    std::filesystem::remove(temp);
    return error;
  }
  return commit_temp_file(temp, path);
}

}  // namespace fedchain
