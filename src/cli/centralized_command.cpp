// `fedchain centralized JOB`: one process trains the job's model on the whole training split
// and evaluates on the test split after every epoch. The baseline every federated run is
// compared against, and usable before federation is set up.
#include <chrono>
#include <cstdio>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "fedchain/core/job_file.hpp"
#include "fedchain/core/random.hpp"
#include "fedchain/train/backend.hpp"
#include "fedchain/train/job_setup.hpp"
#include "fedchain/train/model.hpp"
#include "fedchain/train/trainer.hpp"

namespace fedchain::cli {

namespace {

struct CentralizedArgs {
  std::string path;
  std::vector<std::string> overrides;
  std::int64_t epochs = 0;  // 0: train.local_epochs from the job
};

Status run_centralized(const CentralizedArgs& args) {
  auto job = load_job(args.path, args.overrides);
  if (!job) return job.error();
  const std::int64_t epochs = args.epochs > 0 ? args.epochs : job->train.local_epochs;
  if (epochs < 1) {
    return config_error("{}: set train.local_epochs >= 1 or pass --epochs N", args.path);
  }
  auto data = train::load_job_data(*job);
  if (!data) return data.error();
  const train::Samples& train_set = data->train;
  const train::Samples& test_set = data->test;
  auto chosen = train::make_job_backend(*job, train_set);
  if (!chosen) return chosen.error();
  if (!chosen->note.empty()) std::printf("%s\n", chosen->note.c_str());
  const std::unique_ptr<train::Backend> backend = std::move(chosen->backend);
  auto model = train::make_job_model(*backend, *job, train_set);
  if (!model) return model.error();
  const auto seed = static_cast<std::uint64_t>(job->job.seed);
  train::TrainOptions options = train::train_options(job->train);
  options.epochs = 1;  // one call per epoch, so each epoch is evaluated
  options.steps = 0;
  auto augment = train::augment_from_name(job->data.augment);
  if (!augment) return augment.error();
  auto trainer = train::LocalTrainer::create(*model, options, *augment);
  if (!trainer) return trainer.error();

  std::printf(
      "fedchain centralized: %s, %s, %lld train / %lld test samples, %s backend, %d "
      "thread(s), %s lr %g, batch %lld\n",
      args.path.c_str(), model->summary().substr(0, model->summary().find('\n')).c_str(),
      static_cast<long long>(train_set.count), static_cast<long long>(test_set.count),
      backend->name().c_str(), backend->threads(), options.optimizer.c_str(), options.lr,
      static_cast<long long>(options.batch_size));
  std::printf("%5s %10s %10s %9s %8s %10s\n", "epoch", "train_loss", "test_loss", "test_acc",
              "time_s", "samples/s");
  std::fflush(stdout);
  std::vector<std::int64_t> everything(static_cast<std::size_t>(train_set.count));
  std::iota(everything.begin(), everything.end(), std::int64_t{0});
  for (std::int64_t epoch = 1; epoch <= epochs; ++epoch) {
    trainer->set_learning_rate(options.lr_at(epoch - 1));
    const auto start = std::chrono::steady_clock::now();
    auto trained = trainer->train(train_set, everything,
                                  derive_seed(seed, 0, static_cast<std::uint64_t>(epoch)));
    if (!trained) return trained.error();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    auto evaluation = train::evaluate(*model, test_set);
    if (!evaluation) return evaluation.error();
    std::printf("%5lld %10.4f %10.4f %9.4f %8.1f %10.0f\n", static_cast<long long>(epoch),
                trained->mean_loss, evaluation->loss, evaluation->accuracy, seconds,
                double(trained->samples_seen) / seconds);
    std::fflush(stdout);
  }
  return {};
}

}  // namespace

void add_centralized_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<CentralizedArgs>();
  auto* sub =
      app.add_subcommand("centralized",
                         "Train the job's model on one process, no federation; print per-epoch "
                         "loss and test accuracy");
  sub->add_option("job", args->path, "Job file (TOML)")->required();
  sub->add_option("--set", args->overrides, "Override a key: --set train.lr=0.1 (repeatable)");
  sub->add_option("--epochs", args->epochs, "Epochs (default: train.local_epochs)")
      ->check(CLI::PositiveNumber);
  sub->callback([args, &exit_code] {
    if (auto status = run_centralized(*args); !status) exit_code = report(status.error());
  });
}

}  // namespace fedchain::cli
