// The shared flags, timing and table of the benchmarks (bench_flags.hpp).
#include "bench_flags.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "fedchain/core/durable_file.hpp"

namespace fedchain::bench {

namespace {

constexpr std::uint64_t kMaxThreads = 1024;

// The table's columns. The header has the rows' widths; its first column, "# benchmark",
// starts with '#' like every header line, so scripts skip them all alike.
constexpr std::string_view kHeader = "{:<28} {:>12} {:>7} {:>14} {:>14} {:>12} {:<10} {:>7}\n";
constexpr std::string_view kRow =
    "{:<28} {:>12} {:>7} {:>14.1f} {:>14.1f} {:>12.2f} {:<10} {:>7}\n";

// A positive count: "4096", or with `suffixes` "64K", "16M", "1G" (powers of 1024).
std::optional<std::uint64_t> parse_count(std::string_view text, bool suffixes) {
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [rest, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || value == 0) return std::nullopt;
  const std::string_view suffix(rest, static_cast<std::size_t>(end - rest));
  if (suffix.empty()) return value;
  const std::size_t unit =
      suffix.size() == 1 ? std::string_view("KMG").find(suffix[0]) : std::string_view::npos;
  if (!suffixes || unit == std::string_view::npos) return std::nullopt;
  return value << (10 * (unit + 1));
}

std::vector<std::uint64_t> parse_list(const std::vector<std::string>& parts, bool suffixes,
                                      const char* flag) {
  std::vector<std::uint64_t> values;
  for (const std::string& part : parts) {
    const auto value = parse_count(part, suffixes);
    if (!value) throw CLI::ValidationError(flag, fmt::format("'{}' is not a count", part));
    values.push_back(*value);
  }
  return values;
}

double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

}  // namespace

std::optional<int> parse_flags(CLI::App& app, const Spec& spec, Flags& flags, int argc,
                               char** argv) {
  flags = {spec.warmup, spec.iterations, spec.sizes, spec.threads, {}};
  app.description(fmt::format("{}: size = {}; ratio = throughput / {}", spec.program,
                              spec.size_means, spec.baseline_means));
  app.add_option("-w,--warmup", flags.warmup, "Untimed runs before each measurement")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("-n,--iterations", flags.iterations, "Timed runs; a row shows " + spec.statistic)
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  // Both lists arrive split at the commas; a callback runs only for a flag that was given.
  app.add_option_function<std::vector<std::string>>(
         "--sizes",
         [&](const std::vector<std::string>& parts) {
           const bool small = parts == std::vector<std::string>{"small"};
           flags.sizes = small ? spec.small_sizes : parse_list(parts, true, "--sizes");
         },
         fmt::format("a,b,c, each with an optional K, M or G (x 1024), or small ({}); default {}",
                     fmt::join(spec.small_sizes, ","), fmt::join(spec.sizes, ",")))
      ->delimiter(',');
  app.add_option_function<std::vector<std::string>>(
         "--threads",
         [&](const std::vector<std::string>& parts) {
           const std::uint64_t most = spec.threaded ? kMaxThreads : 1;
           flags.threads.clear();
           for (const auto count : parse_list(parts, false, "--threads")) {
             if (count > most) {
               throw CLI::ValidationError("--threads", spec.threaded
                                                           ? fmt::format("at most {}", most)
                                                           : spec.program + " runs on one thread");
             }
             flags.threads.push_back(static_cast<int>(count));
           }
         },
         fmt::format("CPU thread counts, a,b,c; default {}", fmt::join(spec.threads, ",")))
      ->delimiter(',');
  app.add_option("--json", flags.json, "Also write the rows to this file as JSON");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return std::nullopt;
}

Timing measure(const Flags& flags, const std::function<void()>& body,
               const std::function<void()>& wait) {
  for (int i = 0; i < flags.warmup; ++i) body();
  if (wait) wait();
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = process_cpu_seconds();
  for (int i = 0; i < flags.iterations; ++i) body();
  if (wait) wait();
  const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - start;
  const double cpu = process_cpu_seconds() - cpu_start;
  return {wall.count() / flags.iterations, cpu / flags.iterations};
}

double gb_per_second(double bytes, double seconds) {
  return bytes / seconds / 1e9;
}

Table::Table(const Spec& spec, const Flags& flags) : spec_(spec), flags_(flags) {
  fmt::print("# {}: size = {}; ratio = throughput / {}, in the same run\n", spec.program,
             spec.size_means, spec.baseline_means);
  fmt::print("# {} warm-up and {} timed iterations per row; times are {} per iteration\n",
             flags.warmup, flags.iterations, spec.statistic);
  fmt::print(fmt::runtime(kHeader), "# benchmark", "size", "threads", "time/iter us", "cpu/iter us",
             "throughput", "unit", "ratio");
  std::fflush(stdout);
}

void Table::add(const Row& row) {
  fmt::print(fmt::runtime(kRow), row.benchmark, row.size, row.threads, row.time.seconds * 1e6,
             row.time.cpu_seconds * 1e6, row.throughput, row.unit,
             row.baseline ? fmt::format("{:.2f}", row.throughput / *row.baseline) : "-");
  std::fflush(stdout);
  rows_.push_back(row);
}

int Table::finish() const {
  if (flags_.json.empty()) return 0;
  nlohmann::json rows = nlohmann::json::array();
  for (const Row& row : rows_) {
    // null where the row has no baseline
    const auto or_null = [&](double value) {
      return row.baseline ? nlohmann::json(value) : nlohmann::json(nullptr);
    };
    rows.push_back({{"benchmark", row.benchmark},
                    {"size", row.size},
                    {"threads", row.threads},
                    {"seconds", row.time.seconds},
                    {"cpu_seconds", row.time.cpu_seconds},
                    {"throughput", row.throughput},
                    {"unit", row.unit},
                    {"baseline", or_null(row.baseline.value_or(0))},
                    {"ratio", or_null(row.throughput / row.baseline.value_or(1))}});
  }
  const nlohmann::json document = {{"program", spec_.program},
                                   {"size", spec_.size_means},
                                   {"baseline", spec_.baseline_means},
                                   {"warmup", flags_.warmup},
                                   {"iterations", flags_.iterations},
                                   {"statistic", spec_.statistic},
                                   {"rows", rows}};
  const Status written = write_file_atomically(flags_.json, as_bytes(document.dump(2) + "\n"));
  if (!written) {
    std::fprintf(stderr, "%s: %s\n", spec_.program.c_str(), written.error().message.c_str());
    return 1;
  }
  return 0;
}

int skip(const std::string& why) {
  fmt::print("SKIPPED: {}\n", why);
  return 77;
}

}  // namespace fedchain::bench
