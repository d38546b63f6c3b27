// Logging setup: spdlog's default logger, with the rank in every line. Rank 0 logs to the
// terminal; other ranks only send warnings and errors there. With a run directory, every
// rank also writes RUN_DIR/logs/rank-N.log. Code elsewhere just calls spdlog::info(...).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "fedchain/core/error.hpp"

namespace fedchain::log {

struct LogOptions {
  int rank = 0;
  std::optional<std::filesystem::path> run_dir;  // adds RUN_DIR/logs/rank-N.log
  std::string level = "info";                    // trace, debug, info, warn, error
};

Status init(const LogOptions& options);

}  // namespace fedchain::log
