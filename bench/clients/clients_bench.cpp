// What a client costs beyond its samples (issue 15's target: within 5%). One process holds
// two nodes of one rank, built from the same job but for the client count: N samples as M
// clients of N/M samples each, and the same N samples as one client (the baseline). Each
// timed iteration runs node/'s train_members on both, one after the other (interleaved, so
// both see the same moments of a shared machine): every cohort member trained from the
// global model and quantized to q_k, the round's client work from loading theta to q_k.
// The shared flags and table: bench/common/bench_flags.hpp; size = M, the clients;
// throughput = samples/s = N / seconds of client work per round; ratio = throughput / the
// one client's. Times are the median over iterations (a round here takes 0.1 to 1 s, and the
// median leaves out the rounds that another process on the machine slowed).
//
//   fedchain_clients_bench --data DATASET_H5 [--samples N] [--arch mlp|cnn] [shared flags]
//
// mlp is MLP 784-200-10, batch 32, one epoch. bench/clients/run.sh runs this at three shapes,
// and measures memory per rank through whole `fedchain train` runs.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "bench_flags.hpp"
#include "fedchain/core/job_file.hpp"
#include "node.hpp"

namespace {

namespace bench = fedchain::bench;
using fedchain::node::Node;

double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

// A node of one rank for the job below, its run directory under `dir`.
fedchain::Result<std::unique_ptr<Node>> make_node(const std::filesystem::path& dir,
                                                  const std::string& dataset,
                                                  const std::string& arch, std::uint64_t samples,
                                                  std::uint64_t clients, int threads) {
  const std::string model = arch == "mlp" ? "arch = \"mlp\"\nhidden = [200]\n" : "arch = \"cnn\"\n";
  const std::string toml = fmt::format(
      "[job]\nrounds = 1000000\nseed = 42\n"
      "[clients]\ntotal = {0}\nper_round = {0}\n"
      "[data]\npath = \"{1}\"\ntrain_limit = {2}\ntest_limit = 100\n"
      "[model]\n{3}"
      "[train]\nlocal_epochs = 1\nbatch_size = 32\nthreads = {4}\n"
      "[consensus]\nprotocol = \"none\"\n",
      clients, dataset, samples, model, threads);
  auto job = fedchain::parse_job(toml, "clients_bench.toml");
  if (!job) return job.error();
  auto run_dir = fedchain::io::RunDir::create(dir, toml);
  if (!run_dir) return run_dir.error();
  auto node = std::make_unique<Node>(*job, 0, 1, std::move(*run_dir));
  node->comm = fedchain::node::make_mpi_collectives();
  if (auto st = fedchain::node::build_node(*node, *job); !st) return st.error();
  return node;
}

// One round's client work on `node`: every client it hosts trained and quantized. Their q_k
// go back to the node's spare buffers (keep_update_buffers), as in run_round.
fedchain::Status train_every_client(Node& node, bench::Timing& time) {
  std::vector<std::uint32_t> members;
  for (const auto& [client, samples] : node.local.shards) members.push_back(client);
  fedchain::io::MetricsRow row;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = process_cpu_seconds();
  auto updates = fedchain::node::train_members(node, 1, members, members.size(), row);
  time.cpu_seconds = process_cpu_seconds() - cpu_start;
  time.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!updates) return updates.error();
  fedchain::node::keep_update_buffers(node, *updates);
  return {};
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

bench::Timing median_timing(const std::vector<bench::Timing>& runs) {
  std::vector<double> wall, cpu;
  for (const auto& run : runs) {
    wall.push_back(run.seconds);
    cpu.push_back(run.cpu_seconds);
  }
  return {median(wall), median(cpu)};
}

int run(int argc, char** argv) {
  bench::Spec spec;
  spec.program = "fedchain_clients_bench";
  spec.size_means = "clients M sharing the samples of a round";
  spec.baseline_means = "the same samples trained as one client";
  spec.statistic = "the median";
  spec.warmup = 2;
  spec.iterations = 15;
  spec.sizes = {10, 100};
  spec.small_sizes = {4};
  CLI::App app{"Client work per round: M clients against the same samples as one"};
  std::string dataset;
  std::uint64_t samples = 32000;
  std::string arch = "mlp";
  app.add_option("--data", dataset, "Dataset (HDF5, fedchain data prepare)")->required();
  app.add_option("--samples", samples, "Samples a round, N (shared by the M clients)");
  app.add_option("--arch", arch, "Model")->check(CLI::IsMember({"mlp", "cnn"}));
  bench::Flags flags;
  if (auto code = bench::parse_flags(app, spec, flags, argc, argv)) return *code;

  spdlog::set_level(spdlog::level::warn);
  const auto scratch = std::filesystem::temp_directory_path() /
                       fmt::format("fedchain-clients-bench-{}", static_cast<long>(getpid()));
  bench::Table table(spec, flags);
  int failed = 0;
  for (const int threads : flags.threads) {
    for (const std::uint64_t clients : flags.sizes) {
      std::filesystem::remove_all(scratch);
      auto many = make_node(scratch / "many", dataset, arch, samples, clients, threads);
      if (!many) {
        std::fprintf(stderr, "fedchain_clients_bench: %s\n", many.error().message.c_str());
        failed = 2;
        break;
      }
      auto one = make_node(scratch / "one", dataset, arch, samples, 1, threads);
      if (!one) {
        std::fprintf(stderr, "fedchain_clients_bench: %s\n", one.error().message.c_str());
        failed = 2;
        break;
      }
      std::vector<bench::Timing> as_many, as_one;
      for (int i = 0; i < flags.warmup + flags.iterations; ++i) {
        bench::Timing many_time, one_time;
        auto st = train_every_client(**many, many_time);
        if (st) st = train_every_client(**one, one_time);
        if (!st) {
          std::fprintf(stderr, "fedchain_clients_bench: %s\n", st.error().message.c_str());
          failed = 1;
          break;
        }
        if (i < flags.warmup) continue;
        as_many.push_back(many_time);
        as_one.push_back(one_time);
      }
      if (failed) break;
      const bench::Timing one_time = median_timing(as_one);
      const bench::Timing many_time = median_timing(as_many);
      const double n = static_cast<double>(samples);
      const double one_rate = n / one_time.seconds;
      table.add(
          {arch + "_as_one_client", clients, threads, one_time, one_rate, "samples/s", one_rate});
      table.add({arch + "_as_" + std::to_string(clients) + "_clients", clients, threads, many_time,
                 n / many_time.seconds, "samples/s", one_rate});
    }
    if (failed) break;
  }
  std::filesystem::remove_all(scratch);
  return failed != 0 ? failed : table.finish();
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const int code = run(argc, argv);
  MPI_Finalize();
  return code;
}
