// file_bytes.hpp: size checked first, then one fread.
#include "file_bytes.hpp"

#include <cstdio>
#include <memory>
#include <string>
#include <system_error>

namespace fedchain::data {

Result<std::vector<std::uint8_t>> read_whole_file(const std::filesystem::path& path,
                                                  std::int64_t max_bytes) {
  const auto refuse = [&](const char* code, std::string what) {
    return Error{ErrorKind::kConfig, fmt::format("{}: {}", path.string(), what), code};
  };
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return refuse("missing-file", "no such file");
  if (!std::filesystem::is_regular_file(path, ec))
    return refuse("unreadable", "not a regular file");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return refuse("unreadable", fmt::format("cannot read its size: {}", ec.message()));
  if (size > static_cast<std::uintmax_t>(max_bytes)) {
    return refuse("too-large",
                  fmt::format("{} bytes, more than the {} bytes fedchain reads", size, max_bytes));
  }
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                             &std::fclose);
  if (!file) return refuse("unreadable", "cannot open for reading");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  if (std::fread(bytes.data(), 1, bytes.size(), file.get()) != bytes.size()) {
    return refuse("unreadable", "read error");
  }
  return bytes;
}

}  // namespace fedchain::data
