#include "fedchain/core/log.hpp"

#include <memory>
#include <vector>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace fedchain::log {

Status init(const LogOptions& options) {
  const auto level = spdlog::level::from_str(options.level);
  if (level == spdlog::level::off && options.level != "off") {
    return config_error("unknown log level '{}': use trace, debug, info, warn or error",
                        options.level);
  }
  std::vector<spdlog::sink_ptr> sinks;
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_level(options.rank == 0 ? level : spdlog::level::warn);
  sinks.push_back(console);
  if (options.run_dir) {
    const auto dir = *options.run_dir / "logs";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return runtime_error("cannot create log directory {}: {}", dir.string(), ec.message());
    }
    const auto file = dir / fmt::format("rank-{}.log", options.rank);
    try {
      auto file_sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file.string());
      file_sink->set_level(level);
      sinks.push_back(file_sink);
    } catch (const spdlog::spdlog_ex& e) {
      return runtime_error("cannot open log file {}: {}", file.string(), e.what());
    }
  }
  auto logger = std::make_shared<spdlog::logger>("fedchain", sinks.begin(), sinks.end());
  logger->set_pattern(fmt::format("[%H:%M:%S.%e] [rank {}] [%^%l%$] %v", options.rank));
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return {};
}

}  // namespace fedchain::log
