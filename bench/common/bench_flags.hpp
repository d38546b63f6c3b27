// What every fedchain benchmark shares, as the nccl-tests binaries do: one set of flags, one
// way to time, one table (docs/PERFORMANCE.md, "Running the benchmarks").
//
//   -w, --warmup N        untimed runs before each measurement
//   -n, --iterations N    timed runs; a row shows their mean (or the bench's Spec::statistic)
//   --sizes a,b,c         what to measure at (a bench says what a size is), with an optional
//                         K, M or G suffix (x 1024), or `small`: the bench's smoke-test sizes
//   --threads a,b,c       CPU thread counts (a bench on one thread takes only 1)
//   --json FILE           also write the rows to FILE as JSON (docs/PERFORMANCE.md has the
//                         fields)
//
// The table, one row per measurement: benchmark, size, threads, wall and CPU time per
// iteration, throughput and its unit, and ratio = throughput / the throughput of the
// bench's baseline, measured in the same run. Header lines start with '#'.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace fedchain::bench {

// A bench's defaults, and what its sizes and its baseline are (for --help and the header).
struct Spec {
  std::string program;
  std::string size_means;
  std::string baseline_means;
  int warmup = 1;
  int iterations = 10;
  std::vector<std::uint64_t> sizes;
  std::vector<std::uint64_t> small_sizes;  // --sizes small: seconds on two shared cores
  std::vector<int> threads{1};
  bool threaded = true;  // false: the bench runs on one thread
  // What a row's times are of its iterations (the header says): measure() gives the mean; a
  // bench that times each iteration itself may report another statistic.
  std::string statistic = "the mean";
};

struct Flags {
  int warmup = 0;
  int iterations = 0;
  std::vector<std::uint64_t> sizes;
  std::vector<int> threads;
  std::string json;  // empty: no JSON
};

// Adds the shared flags to `app`, which may already hold the bench's own, then parses argv.
// Returns the exit code to leave with (0 after --help, 2 for a bad flag), or nothing to run.
std::optional<int> parse_flags(CLI::App& app, const Spec& spec, Flags& flags, int argc,
                               char** argv);

// One iteration's cost. The CPU time is the whole process's (every thread): on a shared
// machine it is far less disturbed than wall time by other jobs taking the cores.
struct Timing {
  double seconds = 0;
  double cpu_seconds = 0;
};

// Runs `body` flags.warmup times, then flags.iterations times on the clock: the mean.
// `wait` (a device synchronize) runs before the clock starts and before it stops.
Timing measure(const Flags& flags, const std::function<void()>& body,
               const std::function<void()>& wait = {});

// bytes / seconds, in GB/s (10^9 bytes).
double gb_per_second(double bytes, double seconds);

struct Row {
  std::string benchmark;  // no spaces: scripts split rows on them
  std::uint64_t size = 0;
  int threads = 1;
  Timing time;
  double throughput = 0;  // `unit`, e.g. "GB/s"
  std::string unit;
  std::optional<double> baseline;  // the baseline's throughput, same unit; none: ratio "-"
};

// Prints the header when made and each row as it is added, so a long run shows progress.
class Table {
 public:
  Table(const Spec& spec, const Flags& flags);
  void add(const Row& row);
  // Writes --json's file, where asked: the exit code, 1 when it cannot be written.
  int finish() const;

 private:
  const Spec& spec_;
  const Flags& flags_;
  std::vector<Row> rows_;
};

// No device to run on here: prints "SKIPPED: why" and returns 77, the skip code of ctest
// and of the scripts that run benches.
int skip(const std::string& why);

}  // namespace fedchain::bench
