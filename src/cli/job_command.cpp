// `fedchain job check|show|keys`: look at a job file before spending cluster time on it.
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "fedchain/core/job_file.hpp"
#include "fedchain/data/dataset.hpp"
#include "fedchain/train/model.hpp"

namespace fedchain::cli {

namespace {

struct JobArgs {
  std::string path;
  std::vector<std::string> overrides;
};

void add_job_file_args(CLI::App& sub, JobArgs& args) {
  sub.add_option("job", args.path, "Job file (TOML)")->required();
  sub.add_option("--set", args.overrides, "Override a key: --set train.lr=0.1 (repeatable)");
}

// The model's layers checked against the shape of data.path (read from its header), with the
// per-layer summary; a layer that does not fit is exit 2 naming it. Where the file cannot be
// read (not prepared yet) the layer keys alone were checked, and this says so.
int check_model(const std::string& path, const Job& job) {
  const auto info = data::read_dataset_info(job.data.path);
  if (!info) {
    std::printf("model: layer shapes not checked, data.path cannot be read: %s\n",
                info.error().message.c_str());
    return 0;
  }
  train::ModelConfig config = train::model_config(job.model);
  config.height = info->rows;
  config.width = info->cols;
  config.channels = info->channels;
  config.classes = info->num_classes;
  auto summary = train::Model::summary_of(config);
  if (!summary) {
    return report(Error{
        summary.error().kind,
        fmt::format("{}: {} (data {}x{}x{}, {} classes from {})", path, summary.error().message,
                    config.height, config.width, config.channels, config.classes, job.data.path),
        {}});
  }
  std::printf("model for %s (%lldx%lldx%lld, %lld classes): %s", job.data.path.c_str(),
              static_cast<long long>(config.height), static_cast<long long>(config.width),
              static_cast<long long>(config.channels), static_cast<long long>(config.classes),
              summary->c_str());
  return 0;
}

}  // namespace

void add_job_commands(CLI::App& app, int& exit_code) {
  auto* job = app.add_subcommand("job", "Check and show job files");
  job->require_subcommand(1);

  auto check_args = std::make_shared<JobArgs>();
  auto* check = job->add_subcommand("check", "Check a job file; exit 2 naming the bad key");
  add_job_file_args(*check, *check_args);
  check->callback([check_args, &exit_code] {
    auto loaded = load_job(check_args->path, check_args->overrides);
    if (!loaded) {
      exit_code = report(loaded.error());
      return;
    }
    if (const int code = check_model(check_args->path, *loaded); code != 0) {
      exit_code = code;
      return;
    }
    std::printf("%s: ok\n", check_args->path.c_str());
  });

  auto show_args = std::make_shared<JobArgs>();
  auto* show = job->add_subcommand("show", "Print the resolved job, every key, as TOML");
  add_job_file_args(*show, *show_args);
  show->callback([show_args, &exit_code] {
    auto loaded = load_job(show_args->path, show_args->overrides);
    if (!loaded) {
      exit_code = report(loaded.error());
      return;
    }
    std::fputs(job_to_toml(*loaded).c_str(), stdout);
  });

  auto* keys = job->add_subcommand("keys", "List every job-file key with type, default and range");
  keys->callback([] {
    for (const auto& key : job_keys()) {
      std::printf("%s\n", fmt::format("{:<24} {:<13} default {:<24} {}\n{:<24} {}", key.key,
                                      key.type, key.default_text, key.allowed, "", key.doc)
                              .c_str());
    }
  });
}

}  // namespace fedchain::cli
