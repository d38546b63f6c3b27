// The models the training and inference benches run, their architectures as JSON for the
// PyTorch twins (bench/train/torch_baseline.py builds each network from it with
// python/fedchain_torch.py, the export's loader, so both sides run the same stack), and
// the benches' shared main. cifar-cnn takes 32x32x3 images, the others 28x28x1.
#pragma once

#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bench_flags.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/train/backend.hpp"
#include "fedchain/train/model.hpp"

namespace fedchain::bench {

inline train::ModelConfig model_config_for(const std::string& arch) {
  train::ModelConfig config;
  config.arch = arch;
  if (arch == "cifar-cnn") {
    config.height = 32;
    config.width = 32;
    config.channels = 3;
  }
  return config;
}

// {"arch": the architecture as the export writes it (train::architecture_json), ...}
inline Result<std::string> layers_json(const std::vector<std::string>& models) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (const std::string& arch : models) {
    const auto config = model_config_for(arch);
    auto specs = train::layer_specs(config);
    if (!specs) return specs.error();
    json[arch] = train::architecture_json(config, *specs);
  }
  return json.dump(2) + "\n";
}

// Times the bench's work on one batch of `arch`: builds what it needs, then bench::measure.
using TimeModel = std::function<Result<Timing>(train::Backend& backend, const std::string& arch,
                                               std::int64_t batch, const Flags& flags)>;

// The main of fedchain_train_bench and fedchain_predict_bench: --device, --cpu-kernels
// (best: oneDNN where built; eigen: the fallback, to measure the two in one run), --models
// and --layers (print the models' layer lists as JSON and exit) beside the shared flags; one
// backend per thread count (one only for cuda, whose speed does not depend on it); one row
// per (threads, batch, model), throughput = samples/s, baseline = the same model and batch
// at the first thread count. A device that does not answer is exit 77 (skipped).
inline int run_model_bench(const Spec& spec, int argc, char** argv, const TimeModel& time_model) {
  CLI::App app;
  std::string device = "cpu";
  std::vector<std::string> models{"logreg", "mlp", "cnn", "lenet", "cifar-cnn"};
  app.add_option("--device", device, "Backend")->check(CLI::IsMember({"cpu", "cuda"}));
  std::string cpu_kernels = "best";
  app.add_option("--cpu-kernels", cpu_kernels, "The CPU backend's conv and dense kernels")
      ->check(CLI::IsMember({"best", "eigen"}))
      ->capture_default_str();
  app.add_option("--models", models, "Models, a,b,c")->delimiter(',')->capture_default_str();
  bool print_layers = false;
  app.add_flag("--layers", print_layers, "Print the models' layer lists as JSON and exit");
  Flags flags;
  if (const auto exit_code = parse_flags(app, spec, flags, argc, argv)) return *exit_code;
  const auto failed = [&](const Error& error) {
    std::fprintf(stderr, "%s: %s\n", spec.program.c_str(), error.message.c_str());
    return exit_code(error.kind);
  };
  if (print_layers) {
    auto json = layers_json(models);
    if (!json) return failed(json.error());
    std::fputs(json->c_str(), stdout);
    return 0;
  }
  if (device == "cuda") flags.threads.resize(1);
  std::optional<Table> table;
  std::map<std::pair<std::string, std::uint64_t>, double> first;  // (model, batch): samples/s
  for (const int threads : flags.threads) {
    auto made = device == "cpu" ? Result<std::unique_ptr<train::Backend>>(train::make_cpu_backend(
                                      threads, cpu_kernels == "eigen" ? train::CpuKernels::kEigen
                                                                      : train::CpuKernels::kBest))
                                : train::make_backend(device, threads);
    if (!made) return skip(made.error().message);
    train::Backend& backend = *made.value();
    std::fprintf(stderr, "%s: %d threads: backend %s\n", spec.program.c_str(), threads,
                 backend.name().c_str());
    if (!table) table.emplace(spec, flags);  // the header once a backend is there
    for (const std::uint64_t batch : flags.sizes) {
      for (const std::string& arch : models) {
        auto time = time_model(backend, arch, static_cast<std::int64_t>(batch), flags);
        if (!time) return failed(time.error());
        const double samples = static_cast<double>(batch) / time->seconds;
        const double baseline = first.try_emplace({arch, batch}, samples).first->second;
        table->add({arch, batch, backend.threads(), *time, samples, "samples/s", baseline});
      }
    }
  }
  return table->finish();
}

}  // namespace fedchain::bench
