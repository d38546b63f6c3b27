#include "fedchain/io/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fedchain/core/cpu_level.hpp"
#include "fedchain/core/durable_file.hpp"

namespace fedchain::io {

namespace {

// NaN (no evaluation this round) is an empty CSV cell and a JSON null.
std::string csv_number(double v) {
  return std::isnan(v) ? "" : fmt::format("{:.6g}", v);
}
// Epsilon as the chain state votes it, in whole millionths (ledger::epsilon_micro); +inf (no
// noise) as "inf".
std::string epsilon_cell(double v) {
  return std::isnan(v) ? "" : fmt::format("{:.6f}", v);
}
// A CSV's first line and its last non-empty row after it (each empty when there is none);
// nothing when the file cannot be read.
struct CsvTail {
  std::string header;
  std::string last_row;
};
std::optional<CsvTail> read_tail(const std::filesystem::path& csv) {
  std::ifstream in(csv);
  if (!in) return std::nullopt;
  CsvTail tail;
  std::getline(in, tail.header);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) tail.last_row = std::move(line);
  }
  return tail;
}
nlohmann::json json_number(double v) {
  return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v);
}

// Keeps the lines of `path` whose height is <= keep and rewrites the file atomically.
Status truncate_rows(const std::filesystem::path& path, std::uint64_t keep,
                     const std::function<std::uint64_t(const std::string&)>& height_of) {
  std::ifstream in(path);
  if (!in) return {};
  std::string kept;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (height_of(line) <= keep) kept += line + "\n";
  }
  return write_file_atomically(path, as_bytes(kept));
}

std::vector<std::string> split_cells(const std::string& line) {
  std::vector<std::string> cells;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    cells.push_back(line.substr(start, comma - start));
    if (comma == std::string::npos) return cells;
    start = comma + 1;
  }
}

// At most 40 bytes of `text` for an error message, anything but printable ASCII as \xNN:
// a damaged file's bytes may be neither short nor text.
std::string excerpt(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 40)) {
    const auto byte = static_cast<unsigned char>(c);
    out += byte >= 0x20 && byte < 0x7f ? std::string(1, c) : fmt::format("\\x{:02x}", byte);
  }
  return text.size() > 40 ? out + "..." : out;
}

// Keeps the CSV rows up to `keep`, rewritten to today's columns when the file comes from an
// older fedchain (the header names the columns; cells of new columns stay empty).
Status resume_csv(const std::filesystem::path& path, std::uint64_t keep, bool epsilon) {
  std::ifstream in(path);
  if (!in) return {};
  std::string line;
  if (!std::getline(in, line) || line.empty()) {
    return write_file_atomically(path, as_bytes(MetricsLog::csv_header(epsilon) + "\n"));
  }
  const std::vector<std::string> columns = split_cells(MetricsLog::csv_header(epsilon));
  const std::vector<std::string> old_columns = split_cells(line);
  std::vector<std::size_t> source;  // for each column, its index in the old rows
  for (const auto& column : columns) {
    const auto at = std::find(old_columns.begin(), old_columns.end(), column);
    source.push_back(static_cast<std::size_t>(at - old_columns.begin()));
  }
  for (const auto& column : old_columns) {
    if (std::find(columns.begin(), columns.end(), column) == columns.end()) {
      return config_error(
          "{}: column '{}' is not one this fedchain writes; move the file aside to resume "
          "(a new one is started)",
          path.string(), excerpt(column));
    }
  }
  std::string kept = MetricsLog::csv_header(epsilon) + "\n";
  for (std::size_t number = 2; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const std::vector<std::string> cells = split_cells(line);
    std::uint64_t height = 0;
    const std::string& first = cells[0];
    const auto [end, error] = std::from_chars(first.data(), first.data() + first.size(), height);
    if (error != std::errc{} || end != first.data() + first.size()) {
      return config_error(
          "{}: line {} does not start with a height ('{}'); move the file aside to resume",
          path.string(), number, excerpt(line));
    }
    if (height > keep) continue;
    for (std::size_t c = 0; c < columns.size(); ++c) {
      if (c > 0) kept += ',';
      if (source[c] < cells.size()) kept += cells[source[c]];
    }
    kept += '\n';
  }
  return write_file_atomically(path, as_bytes(kept));
}

Result<std::ofstream> open_append(const std::filesystem::path& path) {
  std::ofstream out(path, std::ios::app);
  if (!out) return runtime_error("cannot open {} for writing", path.string());
  return out;
}

}  // namespace

std::string MetricsLog::csv_header(bool epsilon) {
  std::string header =
      "height,round_s,train_s,quantize_s,hash_s,exchange_s,aggregate_s,consensus_s,store_s,"
      "eval_s,bytes_sent,consensus_messages,consensus_bytes,train_loss,test_loss,test_acc,"
      "proposer,commit_round,state_root,clipped,block_hash,cohort,samples_trained,"
      "follower_messages,follower_verifications,validator_messages,validator_verifications,"
      "cpu_kernels";
  if (epsilon) header += ",epsilon";
  return header;
}

Result<MetricsLog> MetricsLog::create(const std::filesystem::path& csv,
                                      const std::filesystem::path& jsonl, bool epsilon) {
  const std::string header = csv_header(epsilon) + "\n";
  if (auto st = write_file_atomically(csv, as_bytes(header)); !st) return st.error();
  if (auto st = write_file_atomically(jsonl, {}); !st) return st.error();
  auto c = open_append(csv);
  if (!c) return c.error();
  auto j = open_append(jsonl);
  if (!j) return j.error();
  return MetricsLog(std::move(*c), std::move(*j), epsilon);
}

Result<MetricsLog> MetricsLog::resume(const std::filesystem::path& csv,
                                      const std::filesystem::path& jsonl,
                                      std::uint64_t keep_through_height, bool epsilon) {
  if (!std::filesystem::exists(csv)) return create(csv, jsonl, epsilon);
  auto json_height = [](const std::string& line) {
    return nlohmann::json::parse(line, nullptr, false).value("height", std::uint64_t{0});
  };
  if (auto st = resume_csv(csv, keep_through_height, epsilon); !st) return st.error();
  if (auto st = truncate_rows(jsonl, keep_through_height, json_height); !st) {
    return st.error();
  }
  auto c = open_append(csv);
  if (!c) return c.error();
  auto j = open_append(jsonl);
  if (!j) return j.error();
  return MetricsLog(std::move(*c), std::move(*j), epsilon);
}

std::optional<std::uint64_t> MetricsLog::last_height(const std::filesystem::path& csv) {
  const auto tail = read_tail(csv);
  if (!tail) return std::nullopt;
  const std::string& last = tail->last_row;
  if (last.empty()) return std::uint64_t{0};
  std::uint64_t height = 0;
  const char* end = last.data() + last.size();
  const auto [at, error] = std::from_chars(last.data(), end, height);
  if (error != std::errc() || at == last.data() || (at != end && *at != ',')) return std::nullopt;
  return height;
}

std::optional<std::string> MetricsLog::last_cell(const std::filesystem::path& csv,
                                                 std::string_view column) {
  const auto tail = read_tail(csv);
  if (!tail || tail->last_row.empty()) return std::nullopt;
  // No cell fedchain writes holds a comma.
  const auto cells = [](const std::string& row) {
    std::vector<std::string> out;
    std::stringstream stream(row);
    for (std::string cell; std::getline(stream, cell, ',');) out.push_back(cell);
    return out;
  };
  const auto names = cells(tail->header);
  const auto values = cells(tail->last_row);
  const auto at = std::find(names.begin(), names.end(), column);
  const auto index = static_cast<std::size_t>(at - names.begin());
  if (at == names.end() || index >= values.size()) return std::nullopt;
  return values[index];
}

Status MetricsLog::append(const MetricsRow& r) {
  // The instruction set of this process's CPU kernels (core/cpu_level.hpp): timings from
  // machines of different kinds are told apart by it.
  const char* cpu_kernels = cpu_level_name(cpu_level());
  std::string epsilon_tail;
  if (epsilon_) epsilon_tail.append(",").append(epsilon_cell(r.epsilon));
  csv_ << fmt::format(
      "{},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{:.6f},{},{},{},{},{},{},{},{},"
      "{},{},{},{},{},{},{},{},{},{}{}\n",
      r.height, r.round_s, r.train_s, r.quantize_s, r.hash_s, r.exchange_s, r.aggregate_s,
      r.consensus_s, r.store_s, r.eval_s, r.bytes_sent, r.consensus_messages, r.consensus_bytes,
      csv_number(r.train_loss), csv_number(r.test_loss), csv_number(r.test_acc), r.proposer,
      r.commit_round, r.state_root, r.clipped, r.block_hash, r.cohort, r.samples_trained,
      r.follower_messages, r.follower_verifications, r.validator_messages,
      r.validator_verifications, cpu_kernels, epsilon_tail);
  nlohmann::json row = {{"height", r.height},
                        {"round_s", r.round_s},
                        {"train_s", r.train_s},
                        {"quantize_s", r.quantize_s},
                        {"hash_s", r.hash_s},
                        {"exchange_s", r.exchange_s},
                        {"aggregate_s", r.aggregate_s},
                        {"consensus_s", r.consensus_s},
                        {"store_s", r.store_s},
                        {"eval_s", r.eval_s},
                        {"bytes_sent", r.bytes_sent},
                        {"consensus_messages", r.consensus_messages},
                        {"consensus_bytes", r.consensus_bytes},
                        {"train_loss", json_number(r.train_loss)},
                        {"test_loss", json_number(r.test_loss)},
                        {"test_acc", json_number(r.test_acc)},
                        {"proposer", r.proposer},
                        {"commit_round", r.commit_round},
                        {"state_root", r.state_root},
                        {"clipped", r.clipped},
                        {"block_hash", r.block_hash},
                        {"cohort", r.cohort},
                        {"samples_trained", r.samples_trained},
                        {"follower_messages", r.follower_messages},
                        {"follower_verifications", r.follower_verifications},
                        {"validator_messages", r.validator_messages},
                        {"validator_verifications", r.validator_verifications},
                        {"cpu_kernels", cpu_kernels}};
  if (epsilon_) row["epsilon"] = json_number(r.epsilon);
  jsonl_ << row.dump() << "\n";
  csv_.flush();
  jsonl_.flush();
  if (!csv_ || !jsonl_) return runtime_error("cannot write metrics (disk full?)");
  return {};
}

}  // namespace fedchain::io
