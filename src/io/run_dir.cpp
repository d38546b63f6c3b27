#include "fedchain/io/run_dir.hpp"

#include <unistd.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>

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

}  // namespace

fs::path RunDir::checkpoint_path(std::uint64_t height) const {
  return checkpoints_dir() / fmt::format("height-{:08d}.h5", height);
}

Result<RunDir> RunDir::create(const fs::path& root, const std::string& job_toml) {
  RunDir dir(root);
  std::error_code ec;
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
