// `fedchain data prepare|import|show|partition`: make the dataset file training reads (from
// a published dataset's files or from the user's arrays), look inside it, and see how a job's
// partition would spread samples and classes over the clients before spending cluster time on it.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.hpp"
#include "fedchain/core/job_file.hpp"
#include "fedchain/data/dataset.hpp"
#include "fedchain/data/import.hpp"
#include "fedchain/data/partition.hpp"
#include "fedchain/data/prepare.hpp"

namespace fedchain::cli {

namespace {

struct PrepareArgs {
  std::string dataset;
  std::string out;   // default: data/DATASET.h5
  std::string from;  // default for fashion-mnist: Debian's package directory
};

struct ShowArgs {
  std::string file;
  std::int64_t train_limit = 0;
  std::int64_t test_limit = 0;
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

void print_written(const std::string& out, const data::DatasetInfo& info) {
  std::printf(
      "wrote %s: %lld train and %lld test images of %lld x %lld x %lld (C x H x W), %lld "
      "classes%s\n",
      out.c_str(), static_cast<long long>(info.train_count),
      static_cast<long long>(info.test_count), static_cast<long long>(info.channels),
      static_cast<long long>(info.rows), static_cast<long long>(info.cols),
      static_cast<long long>(info.num_classes), info.has_clients ? ", client ids" : "");
}

int run_prepare(const PrepareArgs& args) {
  static const std::map<std::string, data::Published> kByName{
      {"mnist", data::Published::kMnist},
      {"fashion-mnist", data::Published::kFashionMnist},
      {"cifar10", data::Published::kCifar10},
      {"cifar100", data::Published::kCifar100}};
  const data::Published dataset = kByName.at(args.dataset);
  std::string from = args.from;
  if (from.empty()) {
    if (dataset != data::Published::kFashionMnist) {
      return report(
          config_error("data prepare {}: pass --from DIR, the folder holding its files (nothing is "
                       "downloaded; docs/data.md says where to get them)",
                       args.dataset));
    }
    from = std::string(data::kFashionMnistIdxDir);
  }
  const std::string out = args.out.empty() ? "data/" + args.dataset + ".h5" : args.out;
  const bool idx = dataset == data::Published::kMnist || dataset == data::Published::kFashionMnist;
  auto info =
      idx ? data::prepare_idx_dataset(dataset, from, out) : data::prepare_cifar(dataset, from, out);
  if (!info) return report(info.error());
  print_written(out, *info);
  return 0;
}

int run_show(const ShowArgs& args) {
  auto info = data::read_dataset_info(args.file);
  if (!info) return report(info.error());
  auto dataset = data::read_dataset(args.file, args.train_limit, args.test_limit);
  if (!dataset) return report(dataset.error());
  std::printf("%s: source %s, %lld classes, images %lld x %lld x %lld (C x H x W) %s%s\n",
              args.file.c_str(), info->source.c_str(), static_cast<long long>(info->num_classes),
              static_cast<long long>(info->channels), static_cast<long long>(info->rows),
              static_cast<long long>(info->cols),
              info->type == data::PixelType::kFloat32 ? "float32" : "uint8",
              info->has_clients ? ", client ids" : "");
  std::printf("  train %lld samples, test %lld samples\n",
              static_cast<long long>(info->train_count), static_cast<long long>(info->test_count));
  const std::string limits =
      args.train_limit > 0 || args.test_limit > 0
          ? fmt::format(" (train_limit {}, test_limit {})", args.train_limit, args.test_limit)
          : "";
  std::printf("  content sha256%s %s\n", limits.c_str(),
              data::content_hash(*dataset).hex().c_str());
  const data::PixelStats stats = data::pixel_stats(dataset->train);
  std::printf("  train per-channel mean [%s], std [%s]\n",
              fmt::format("{:.6f}", fmt::join(stats.mean, ", ")).c_str(),
              fmt::format("{:.6f}", fmt::join(stats.stddev, ", ")).c_str());
  for (const auto& source : info->sources) {
    std::printf("  source %-28s sha256 %s\n", source.name.c_str(), source.sha256_hex.c_str());
  }
  return 0;
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
                               static_cast<std::uint64_t>(job->job.seed), dataset->train.clients);
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
  auto* prepare = data_cmd->add_subcommand(
      "prepare", "Convert a published dataset's files into fedchain's HDF5 file");
  prepare->add_option("dataset", prepare_args->dataset, "Dataset to prepare")
      ->required()
      ->check(CLI::IsMember({"mnist", "fashion-mnist", "cifar10", "cifar100"}));
  prepare->add_option("--out", prepare_args->out, "HDF5 file to write (default data/DATASET.h5)");
  prepare->add_option("--from,--idx-dir", prepare_args->from,
                      "Directory of the distribution files (fashion-mnist default: " +
                          std::string(data::kFashionMnistIdxDir) + "); --idx-dir is its old name");
  prepare->callback([prepare_args, &exit_code] { exit_code = run_prepare(*prepare_args); });

  auto import_args = std::make_shared<data::ImportOptions>();
  auto out_path = std::make_shared<std::string>();
  auto* import = data_cmd->add_subcommand(
      "import", "Make a dataset file from .npy or HDF5 arrays (any image-classification set)");
  import
      ->add_option("--images", import_args->images,
                   "Training images: FILE.npy, FILE.h5:DATASET or FILE.h5 (dataset 'images'); "
                   "(N, H, W) or (N, C, H, W), uint8 or float32")
      ->required();
  import->add_option("--labels", import_args->labels, "Training labels (N), integers 0 to 255")
      ->required();
  import->add_option("--clients", import_args->clients,
                     "Client id of each training sample (N), for data.partition = \"natural\"");
  import->add_option("--test-images", import_args->test_images, "Test images");
  import->add_option("--test-labels", import_args->test_labels, "Test labels");
  import
      ->add_option("--test-percent", import_args->test_percent,
                   "Without test arrays: hold out every (100/P)-th training sample as test")
      ->check(CLI::Range(1, 99));
  import
      ->add_option("--classes", import_args->classes,
                   "Number of classes (default: the largest label + 1)")
      ->check(CLI::Range(1, 256));
  import->add_flag("--channels-last", import_args->channels_last, "Images are (N, H, W, C)");
  import->add_option("--name", import_args->name, "Source name recorded in the file")
      ->capture_default_str();
  import->add_option("--out", *out_path, "HDF5 file to write")->required();
  import->callback([import_args, out_path, &exit_code] {
    import_args->out = *out_path;
  auto info = data::import_dataset(*import_args);
  if (!info) {
    exit_code = report(info.error());
    return;
  }
  print_written(*out_path, *info);
});

auto show_args = std::make_shared<ShowArgs>();
auto* show = data_cmd->add_subcommand(
    "show", "Print a dataset file's sizes, content hash, channel statistics and provenance");
show->add_option("file", show_args->file, "Dataset file (HDF5)")->required();
show->add_option("--train-limit", show_args->train_limit,
                 "Hash only the first N training samples, as a job with data.train_limit = N")
    ->check(CLI::NonNegativeNumber);
show->add_option("--test-limit", show_args->test_limit,
                 "Hash only the first N test samples, as a job with data.test_limit = N")
    ->check(CLI::NonNegativeNumber);
show->callback([show_args, &exit_code] { exit_code = run_show(*show_args); });

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
}  // namespace fedchain::cli

}  // namespace fedchain::cli
