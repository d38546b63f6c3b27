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
  return bench::run_model_bench(
      spec, argc, argv,
      [](Backend& backend, const std::string& arch, std::int64_t batch,
         const bench::Flags& flags) -> fedchain::Result<bench::Timing> {
        auto run = make_inference(backend, arch, batch);
        if (!run) return run.error();
        return bench::measure(
            flags,
            [&] {
              const float* logits = run->model.forward(run->input.f32(), batch);
              backend.softmax_xent_forward(batch, 10, logits, run->labels.i32(), run->probs.f32(),
                                           run->losses.f32());
            },
            [&] { backend.synchronize(); });
      });
}
