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
  return bench::run_model_bench(
      spec, argc, argv,
      [](Backend& backend, const std::string& arch, std::int64_t batch,
         const bench::Flags& flags) -> fedchain::Result<bench::Timing> {
        auto step = make_step(backend, arch, batch);
        if (!step) return step.error();
        std::uint64_t steps = 0;  // each step's dropout masks from its own seed
        return bench::measure(
            flags,
            [&] {
              const float* logits = step->model.forward(step->input.f32(), batch, {true, ++steps});
              backend.softmax_xent_forward(batch, 10, logits, step->labels.i32(), step->probs.f32(),
                                           step->losses.f32());
              backend.softmax_xent_backward(batch, 10, step->probs.f32(), step->labels.i32(),
                                            step->dlogits.f32());
              step->model.backward(step->dlogits.f32());
              step->optimizer.step(step->model.parameters().f32(), step->model.gradients().f32(),
                                   nullptr);
            },
            [&] { backend.synchronize(); });
      });
}
