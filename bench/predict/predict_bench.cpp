// Inference throughput of each model on a backend: what `fedchain predict` runs per batch
// (serve/predict.cpp): the forward pass and the softmax, on random data, for every thread
// count asked for (the CPU backend) or once (cuda). The shared flags and table:
// bench/common/bench_flags.hpp; size = the batch; throughput = samples/s; ratio = throughput
// / the same model and batch at the first of --threads. bench/predict/compare.sh runs it
// beside bench/predict/torch_predict.py (the same models in PyTorch, eval mode, no grad).
//
//   fedchain_predict_bench [--device cpu|cuda] [--models cnn,mlp,cifar-cnn] [shared flags]
//   fedchain_predict_bench --layers [--models ...]   the layer lists torch_predict.py builds
//
// cifar-cnn takes 32x32x3 images, the others 28x28x1 (bench/train/bench_models.hpp).
// --device cuda where no GPU answers prints "SKIPPED: why" and exits 77. The batch is
// uploaded once, before the timing (predict uploads each batch; a copy, small beside the
// forward pass).
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "../train/bench_models.hpp"
#include "bench_flags.hpp"
#include "fedchain/core/random.hpp"
#include "fedchain/train/backend.hpp"
#include "fedchain/train/model.hpp"

namespace {

using fedchain::train::Backend;
using fedchain::train::Model;
namespace bench = fedchain::bench;

struct Inference {
  Model model;
  fedchain::train::Buffer input, labels, probs, losses;
};

fedchain::Result<Inference> make_inference(Backend& backend, const std::string& arch,
                                           std::int64_t batch) {
  auto model = Model::create(backend, bench::model_config_for(arch), batch);
  if (!model) return model.error();
  model->initialize(1);
  Inference run{std::move(*model), {}, {}, {}, {}};
  const auto n = static_cast<std::size_t>(batch);
  fedchain::SeededRandom random(2);
  std::vector<float> input(n * static_cast<std::size_t>(run.model.input_size()));
  for (float& x : input) x = static_cast<float>(random.uniform01());
  const std::vector<std::int32_t> labels(n, 0);
  for (auto [buffer, bytes] :
       {std::pair{&run.input, input.size() * sizeof(float)},
        std::pair{&run.labels, n * sizeof(std::int32_t)},
        std::pair{&run.probs, n * 10 * sizeof(float)}, std::pair{&run.losses, n * sizeof(float)}}) {
    auto allocated = backend.allocate(bytes);
    if (!allocated) return allocated.error();
    *buffer = std::move(allocated.value());
  }
  backend.upload(run.input, input.data(), run.input.bytes());
  backend.upload(run.labels, labels.data(), run.labels.bytes());
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Spec spec{.program = "fedchain_predict_bench",
                         .size_means = "the batch",
                         .baseline_means = "the same model and batch at the first of --threads",
                         .warmup = 3,
                         .iterations = 20,
                         .sizes = {256},
                         .small_sizes = {8},
                         .threads = {1, 2}};
  CLI::App app;
  std::string device = "cpu";
  std::vector<std::string> models{"logreg", "mlp", "cnn", "lenet", "cifar-cnn"};
  app.add_option("--device", device, "Backend")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--models", models, "Models, a,b,c")->delimiter(',')->capture_default_str();
  bool print_layers = false;
  app.add_flag("--layers", print_layers, "Print the models' layer lists as JSON and exit");
  bench::Flags flags;
  if (const auto exit_code = bench::parse_flags(app, spec, flags, argc, argv)) return *exit_code;
  if (print_layers) {
    auto json = bench::layers_json(models);
    if (!json) {
      std::fprintf(stderr, "fedchain_predict_bench: %s\n", json.error().message.c_str());
      return fedchain::exit_code(json.error().kind);
    }
    std::fputs(json->c_str(), stdout);
    return 0;
  }
  if (device == "cuda") flags.threads.resize(1);
  std::optional<bench::Table> table;
  std::map<std::pair<std::string, std::uint64_t>, double> first;  // (model, batch): samples/s
  for (const int threads : flags.threads) {
    auto made = fedchain::train::make_backend(device, threads);
    if (!made) return bench::skip(made.error().message);
    Backend& backend = *made.value();
    if (!table) table.emplace(spec, flags);
    for (const std::uint64_t batch : flags.sizes) {
      for (const std::string& arch : models) {
        const auto b = static_cast<std::int64_t>(batch);
        auto run = make_inference(backend, arch, b);
        if (!run) {
          std::fprintf(stderr, "fedchain_predict_bench: %s\n", run.error().message.c_str());
          return fedchain::exit_code(run.error().kind);
        }
        const auto time = bench::measure(
            flags,
            [&] {
              const float* logits = run->model.forward(run->input.f32(), b);
              backend.softmax_xent_forward(b, 10, logits, run->labels.i32(), run->probs.f32(),
                                           run->losses.f32());
            },
            [&] { backend.synchronize(); });
        const double samples = static_cast<double>(batch) / time.seconds;
        const double baseline = first.try_emplace({arch, batch}, samples).first->second;
        table->add({arch, batch, backend.threads(), time, samples, "samples/s", baseline});
      }
    }
  }
  return table->finish();
}
