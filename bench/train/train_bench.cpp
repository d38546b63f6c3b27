// Training throughput of each model on a backend: forward + loss + backward + SGD step on
// random data, for every thread count asked for (the CPU backend) or once (cuda). The shared
// flags and table: bench/common/bench_flags.hpp; size = the batch; throughput = samples/s
// = batch * iterations / seconds; ratio = throughput / the same model and batch at the first
// of --threads (the thread scaling). bench/train/compare.sh runs it beside
// bench/train/torch_baseline.py (the same models in PyTorch, the same flags and table).
//
//   fedchain_train_bench [--device cpu|cuda] [--models cnn,mlp,cifar-cnn] [shared flags]
//   fedchain_train_bench --layers [--models ...]   the models' layer lists as JSON, from which
//                                                   torch_baseline.py builds the same networks
//
// cifar-cnn takes 32x32x3 images, the others 28x28x1; dropout is on (training mode), as in
// PyTorch's model.train().
// --device cuda where no GPU answers (or without CUDA in the build) prints "SKIPPED: why" and
// exits 77. The batch is uploaded once, before the timing: steps read it from the backend.
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bench_flags.hpp"
#include "bench_models.hpp"
#include "fedchain/core/random.hpp"
#include "fedchain/train/backend.hpp"
#include "fedchain/train/model.hpp"
#include "fedchain/train/optimizer.hpp"

namespace {

using fedchain::train::Backend;
using fedchain::train::Model;
namespace bench = fedchain::bench;

// What one model's training step uses: the model, its optimizer, a batch and its outputs.
struct Step {
  Model model;
  fedchain::train::Optimizer optimizer;
  fedchain::train::Buffer input, labels, probs, losses, dlogits;
};

// Builds `arch` on `backend` with one batch of random data uploaded.
fedchain::Result<Step> make_step(Backend& backend, const std::string& arch, std::int64_t batch) {
  const auto config = bench::model_config_for(arch);
  auto model = Model::create(backend, config, batch);
  if (!model) return model.error();
  model->initialize(1);
  fedchain::train::TrainOptions train_options;
  train_options.momentum = 0.9;
  train_options.lr = 0.001;
  auto optimizer =
      fedchain::train::Optimizer::create(backend, train_options, model->parameter_count());
  if (!optimizer) return optimizer.error();
  Step step{std::move(*model), std::move(*optimizer), {}, {}, {}, {}, {}};
  const auto n = static_cast<std::size_t>(batch);
  fedchain::SeededRandom random(2);
  std::vector<float> input(n * static_cast<std::size_t>(step.model.input_size()));
  for (float& x : input) x = static_cast<float>(random.uniform01());
  std::vector<std::int32_t> labels(n);
  for (auto& label : labels) label = static_cast<std::int32_t>(random.below(10));
  for (auto [buffer, bytes] :
       {std::pair{&step.input, input.size() * sizeof(float)},
        std::pair{&step.labels, n * sizeof(std::int32_t)},
        std::pair{&step.probs, n * 10 * sizeof(float)}, std::pair{&step.losses, n * sizeof(float)},
        std::pair{&step.dlogits, n * 10 * sizeof(float)}}) {
    auto allocated = backend.allocate(bytes);
    if (!allocated) return allocated.error();
    *buffer = std::move(allocated.value());
  }
  backend.upload(step.input, input.data(), step.input.bytes());
  backend.upload(step.labels, labels.data(), step.labels.bytes());
  return step;
}

}  // namespace

int main(int argc, char** argv) {
  const bench::Spec spec{.program = "fedchain_train_bench",
                         .size_means = "the batch",
                         .baseline_means = "the same model and batch at the first of --threads",
                         .warmup = 3,
                         .iterations = 20,
                         .sizes = {64},
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
      std::fprintf(stderr, "fedchain_train_bench: %s\n", json.error().message.c_str());
      return fedchain::exit_code(json.error().kind);
    }
    std::fputs(json->c_str(), stdout);
    return 0;
  }
  // One backend does not depend on a thread count: the GPU's.
  if (device == "cuda") flags.threads.resize(1);
  std::optional<bench::Table> table;
  std::map<std::pair<std::string, std::uint64_t>, double> first;  // (model, batch): samples/s
  for (const int threads : flags.threads) {
    auto made = fedchain::train::make_backend(device, threads);
    if (!made) return bench::skip(made.error().message);
    Backend& backend = *made.value();
    if (!table) table.emplace(spec, flags);  // the header once a backend is there
    for (const std::uint64_t batch : flags.sizes) {
      for (const std::string& arch : models) {
        const auto b = static_cast<std::int64_t>(batch);
        auto step = make_step(backend, arch, b);
        if (!step) {
          std::fprintf(stderr, "fedchain_train_bench: %s\n", step.error().message.c_str());
          return fedchain::exit_code(step.error().kind);
        }
        std::uint64_t steps = 0;  // each step's dropout masks from its own seed
        const auto time = bench::measure(
            flags,
            [&] {
              const float* logits = step->model.forward(step->input.f32(), b, {true, ++steps});
              backend.softmax_xent_forward(b, 10, logits, step->labels.i32(), step->probs.f32(),
                                           step->losses.f32());
              backend.softmax_xent_backward(b, 10, step->probs.f32(), step->labels.i32(),
                                            step->dlogits.f32());
              step->model.backward(step->dlogits.f32());
              step->optimizer.step(step->model.parameters().f32(), step->model.gradients().f32(),
                                   nullptr);
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
