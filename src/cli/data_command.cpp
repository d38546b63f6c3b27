// `fedchain data prepare|show|partition`: make the dataset file training reads, look inside
// it, and see how a job's partition would spread samples and classes over the clients
// before spending cluster time on it.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "fedchain/core/job_file.hpp"
#include "fedchain/data/dataset.hpp"
#include "fedchain/data/partition.hpp"
#include "fedchain/data/prepare.hpp"

namespace fedchain::cli {

namespace {

struct PrepareArgs {
  std::string dataset;
  std::string out = "data/fashion-mnist.h5";
  std::string idx_dir = std::string(data::kFashionMnistIdxDir);
};

struct PartitionArgs {
  std::string job;
  std::vector<std::string> overrides;
  std::int64_t clients = 0;  // 0: not given
};

// Up to this many clients every client's row is printed; past it, the summary and the
// first kHeadRows rows, since 10,000 rows say less than the summary.
constexpr std::size_t kAllRowsUpTo = 100;
constexpr std::size_t kHeadRows = 20;

void print_source(const char* array, const data::SourceFile& source) {
  std::printf("  %-14s %-28s sha256 %s\n", array, source.name.c_str(), source.sha256_hex.c_str());
}

// "min median max" of the values (the lower median for an even count).
std::string spread(std::vector<std::int64_t> values) {
  std::sort(values.begin(), values.end());
  return fmt::format("{:>8} {:>8} {:>8}", values.front(), values[(values.size() - 1) / 2],
                     values.back());
}

int run_partition(const PartitionArgs& args) {
  auto job = load_job(args.job, args.overrides);
  if (!job) return report(job.error());
  // As a run counts them: clients.total, else one client per rank of job.ranks.
  const std::int64_t clients = args.clients > 0
                                   ? args.clients
                                   : (job->clients.total > 0 ? job->clients.total : job->job.ranks);
  if (clients < 1) {
    return report(config_error(
        "{}: clients.total and job.ranks are 0 (one client per rank, any rank count), so the "
        "job gives no client count; pass --clients K",
        args.job));
  }
  auto dataset = data::read_dataset(job->data.path, job->data.train_limit, 1);
  if (!dataset) return report(dataset.error());
  const auto& labels = dataset->train.labels;
  auto parts = data::partition(labels, dataset->num_classes, clients, job->data,
                               static_cast<std::uint64_t>(job->job.seed));
  if (!parts) return report(parts.error());
  const auto histogram = data::class_histogram(labels, *parts, dataset->num_classes);

  std::vector<std::int64_t> samples;
  std::vector<std::int64_t> classes;
  for (std::size_t c = 0; c < parts->size(); ++c) {
    samples.push_back(static_cast<std::int64_t>((*parts)[c].size()));
    classes.push_back(std::count_if(histogram[c].begin(), histogram[c].end(),
                                    [](std::int64_t count) { return count > 0; }));
  }
  std::printf("%s over %lld clients, seed %lld: %zu samples of %lld classes\n",
              job->data.partition.c_str(), static_cast<long long>(clients),
              static_cast<long long>(job->job.seed), labels.size(),
              static_cast<long long>(dataset->num_classes));
  std::printf("%-19s %8s %8s %8s\n", "per client", "min", "median", "max");
  std::printf("%-19s %s\n", "samples", spread(samples).c_str());
  std::printf("%-19s %s\n", "classes (non-zero)", spread(classes).c_str());

  const std::size_t rows = parts->size() <= kAllRowsUpTo ? parts->size() : kHeadRows;
  const std::string shown =
      rows < parts->size() ? fmt::format(", the first {} of {} clients", rows, parts->size()) : "";
  std::printf("\nsamples per class%s\n", shown.c_str());
  std::string header = fmt::format("{:>6} {:>8}", "client", "samples");
  for (std::int64_t k = 0; k < dataset->num_classes; ++k) header += fmt::format(" {:>6}", k);
  std::printf("%s\n", header.c_str());
  for (std::size_t c = 0; c < rows; ++c) {
    std::string row = fmt::format("{:>6} {:>8}", c, samples[c]);
    for (const std::int64_t count : histogram[c]) row += fmt::format(" {:>6}", count);
    std::printf("%s\n", row.c_str());
  }
  return 0;
}

}  // namespace

void add_data_commands(CLI::App& app, int& exit_code) {
  auto* data_cmd = app.add_subcommand("data", "Prepare and inspect datasets");
  data_cmd->require_subcommand(1);

  auto prepare_args = std::make_shared<PrepareArgs>();
  auto* prepare =
      data_cmd->add_subcommand("prepare", "Convert a published dataset into fedchain's HDF5 file");
  prepare->add_option("dataset", prepare_args->dataset, "Dataset to prepare")
      ->required()
      ->check(CLI::IsMember({"fashion-mnist"}));
  prepare->add_option("--out", prepare_args->out, "HDF5 file to write")->capture_default_str();
  prepare->add_option("--idx-dir", prepare_args->idx_dir, "Directory of the gzipped IDX files")
      ->capture_default_str();
  prepare->callback([prepare_args, &exit_code] {
    auto info = data::prepare_fashion_mnist(prepare_args->idx_dir, prepare_args->out);
    if (!info) {
      exit_code = report(info.error());
      return;
    }
    std::printf("wrote %s: %lld train and %lld test images of %lld x %lld, %lld classes\n",
                prepare_args->out.c_str(), static_cast<long long>(info->train_count),
                static_cast<long long>(info->test_count), static_cast<long long>(info->rows),
                static_cast<long long>(info->cols), static_cast<long long>(info->num_classes));
  });

  auto show_path = std::make_shared<std::string>();
  auto* show = data_cmd->add_subcommand("show", "Print a dataset file's sizes and provenance");
  show->add_option("file", *show_path, "Dataset file (HDF5)")->required();
  show->callback([show_path, &exit_code] {
    auto info = data::read_dataset_info(*show_path);
    if (!info) {
      exit_code = report(info.error());
      return;
    }
    std::printf("%s: source %s, %lld classes, images %lld x %lld\n", show_path->c_str(),
                info->source.c_str(), static_cast<long long>(info->num_classes),
                static_cast<long long>(info->rows), static_cast<long long>(info->cols));
    std::printf("  train %lld samples, test %lld samples\n",
                static_cast<long long>(info->train_count),
                static_cast<long long>(info->test_count));
    print_source("/train/images", info->train_images);
    print_source("/train/labels", info->train_labels);
    print_source("/test/images", info->test_images);
    print_source("/test/labels", info->test_labels);
  });

  auto partition_args = std::make_shared<PartitionArgs>();
  auto* partition = data_cmd->add_subcommand(
      "partition", "Print the per-client class histogram a job's [data] section gives");
  partition->add_option("job", partition_args->job, "Job file (TOML)")->required();
  partition
      ->add_option("--clients,--ranks", partition_args->clients,
                   "Clients to partition over (default: clients.total, else job.ranks: one "
                   "client per rank); --ranks is its old name")
      ->check(CLI::Range(1, 100000));  // clients.total's range
  partition->add_option("--set", partition_args->overrides,
                        "Override a key: --set data.alpha=0.1 (repeatable)");
  partition->callback([partition_args, &exit_code] { exit_code = run_partition(*partition_args); });
}

}  // namespace fedchain::cli
