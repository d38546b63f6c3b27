// Training throughput of each model on a backend: forward + loss + backward + SGD step on
// random data, for every thread count asked for (the CPU backend) or once (cuda). Prints one
// table; bench/train/compare.sh runs it beside bench/train/torch_baseline.py (the same models
// in PyTorch) for the ratio.
//
//   fedchain_train_bench [--device cpu|cuda] [--models cnn,mlp] [--threads 1,2] [--batch 64]
//                        [-w 3] [-n 20]
//
// --device cuda where no GPU answers (or without CUDA in the build) prints "SKIPPED: why" and
// exits 77. The batch is uploaded once, before the timing: steps read it from the backend.
//
// Columns: samples/s = batch * iterations / seconds; ms/step = seconds / iterations * 1e3;
// cpu ms/step = the process's CPU time (every thread) / iterations * 1e3, which on a shared
// machine is far less disturbed than wall time by other jobs taking the core (at 1 thread it
// equals ms/step on a quiet one); GFLOP/s = 6 * forward multiply-adds per sample * samples/s
// / 1e9 (forward is 2 flops per multiply-add, backward twice the forward).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "fedchain/core/random.hpp"
#include "fedchain/train/backend.hpp"
#include "fedchain/train/model.hpp"
#include "fedchain/train/optimizer.hpp"

namespace {

using fedchain::train::Backend;
using fedchain::train::Model;

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  for (std::string part; std::getline(stream, part, ',');) parts.push_back(part);
  return parts;
}

// Multiply-adds of one sample's forward pass (dense and conv layers; the rest is noise).
double forward_macs(const std::string& arch) {
  if (arch == "logreg") return 784.0 * 10;
  if (arch == "mlp") return 784.0 * 200 + 200.0 * 200 + 200.0 * 10;
  if (arch == "cnn") return 28.0 * 28 * 32 * 25 + 14.0 * 14 * 64 * 800 + 3136.0 * 512 + 5120;
  return 24.0 * 24 * 6 * 25 + 8.0 * 8 * 16 * 150 + 256.0 * 120 + 120.0 * 84 + 840;  // lenet
}

struct Options {
  std::vector<std::string> models{"logreg", "mlp", "cnn", "lenet"};
  std::string device = "cpu";
  std::vector<int> threads{1, 2};
  std::int64_t batch = 64;
  int warmup = 3;
  int iterations = 20;
};

double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return double(now.tv_sec) + double(now.tv_nsec) * 1e-9;
}

bool parse(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) return false;
    const std::string value = argv[++i];
    if (flag == "--device") {
      options.device = value;
    } else if (flag == "--models") {
      options.models = split(value);
    } else if (flag == "--threads") {
      options.threads.clear();
      for (const auto& t : split(value)) options.threads.push_back(std::atoi(t.c_str()));
    } else if (flag == "--batch") {
      options.batch = std::atoll(value.c_str());
    } else if (flag == "-w") {
      options.warmup = std::atoi(value.c_str());
    } else if (flag == "-n") {
      options.iterations = std::atoi(value.c_str());
    } else {
      return false;
    }
  }
  return options.batch > 0 && options.iterations > 0 &&
         (options.device == "cpu" || options.device == "cuda");
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: fedchain_train_bench [--device cpu|cuda] [--models a,b] "
                 "[--threads 1,2] [--batch B] [-w warmup] [-n iterations]\n");
    return 2;
  }
  // One backend does not depend on a thread count: the GPU's.
  if (options.device == "cuda") options.threads.resize(1);
  for (const int threads : options.threads) {
    auto made = fedchain::train::make_backend(options.device, threads);
    if (!made) {
      std::printf("SKIPPED: %s\n", made.error().message.c_str());
      return 77;
    }
    auto backend = std::move(made.value());
    if (threads == options.threads.front()) {  // the header once a backend is there
      std::printf("%-8s %6s %8s %10s %12s %9s %12s\n", "model", "batch", "threads", "ms/step",
                  "samples/s", "GFLOP/s", "cpu ms/step");
    }
    for (const std::string& arch : options.models) {
      fedchain::train::ModelConfig config;
      config.arch = arch;
      auto model = Model::create(*backend, config, options.batch);
      if (!model) {
        std::fprintf(stderr, "fedchain_train_bench: %s\n", model.error().message.c_str());
        return 2;
      }
      model->initialize(1);
      fedchain::train::TrainOptions train_options;
      train_options.momentum = 0.9;
      train_options.lr = 0.001;
      auto optimizer =
          fedchain::train::Optimizer::create(*backend, train_options, model->parameter_count());
      const auto batch = static_cast<std::size_t>(options.batch);
      fedchain::SeededRandom random(2);
      std::vector<float> input(batch * static_cast<std::size_t>(model->input_size()));
      for (float& x : input) x = static_cast<float>(random.uniform01());
      std::vector<std::int32_t> labels(batch);
      for (auto& label : labels) label = static_cast<std::int32_t>(random.below(10));
      fedchain::train::Buffer input_buffer, labels_buffer, probs, losses, dlogits;
      for (auto [buffer, bytes] : {std::pair{&input_buffer, input.size() * sizeof(float)},
                                   std::pair{&labels_buffer, batch * sizeof(std::int32_t)},
                                   std::pair{&probs, batch * 10 * sizeof(float)},
                                   std::pair{&losses, batch * sizeof(float)},
                                   std::pair{&dlogits, batch * 10 * sizeof(float)}}) {
        auto allocated = backend->allocate(bytes);
        if (!allocated) {
          std::fprintf(stderr, "fedchain_train_bench: %s\n", allocated.error().message.c_str());
          return 1;
        }
        *buffer = std::move(allocated.value());
      }
      backend->upload(input_buffer, input.data(), input_buffer.bytes());
      backend->upload(labels_buffer, labels.data(), labels_buffer.bytes());
      auto step = [&] {
        const float* logits = model->forward(input_buffer.f32(), options.batch);
        backend->softmax_xent_forward(options.batch, 10, logits, labels_buffer.i32(), probs.f32(),
                                      losses.f32());
        backend->softmax_xent_backward(options.batch, 10, probs.f32(), labels_buffer.i32(),
                                       dlogits.f32());
        model->backward(dlogits.f32());
        optimizer->step(model->parameters().f32(), model->gradients().f32(), nullptr);
      };
      for (int i = 0; i < options.warmup; ++i) step();
      backend->synchronize();
      const auto start = std::chrono::steady_clock::now();
      const double cpu_start = process_cpu_seconds();
      for (int i = 0; i < options.iterations; ++i) step();
      backend->synchronize();
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      const double cpu_seconds = process_cpu_seconds() - cpu_start;
      const double samples_per_second = double(options.batch) * options.iterations / seconds;
      std::printf("%-8s %6lld %8d %10.3f %12.1f %9.2f %12.3f\n", arch.c_str(),
                  static_cast<long long>(options.batch), backend->threads(),
                  seconds / options.iterations * 1e3, samples_per_second,
                  6.0 * forward_macs(arch) * samples_per_second / 1e9,
                  cpu_seconds / options.iterations * 1e3);
      std::fflush(stdout);
    }
  }
  return 0;
}
