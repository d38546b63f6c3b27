// Models, initialisation, training and evaluation on small synthetic data: parameter counts,
// seeded bits, a whole-model gradient check, fitting a tiny batch, a falling loss, and
// bit-identical runs for the same seed and thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "backend_ops.hpp"
#include "fedchain/core/build_info.hpp"
#include "fedchain/core/job_file.hpp"
#include "fedchain/core/random.hpp"
#include "fedchain/train/backend.hpp"
#include "fedchain/train/job_setup.hpp"
#include "fedchain/train/model.hpp"
#include "fedchain/train/trainer.hpp"

namespace fedchain::train {
namespace {

LayerSpec spec(std::string type, std::int64_t out = 0, std::int64_t kernel = 0,
               std::int64_t stride = 0, std::int64_t padding = 0) {
  LayerSpec layer;
  layer.type = std::move(type);
  layer.out = out;
  layer.kernel = kernel;
  layer.stride = stride;
  layer.padding = padding;
  return layer;
}
LayerSpec groupnorm(std::int64_t groups) {
  LayerSpec layer = spec("groupnorm");
  layer.groups = groups;
  return layer;
}
LayerSpec dropout(double rate) {
  LayerSpec layer = spec("dropout");
  layer.rate = rate;
  return layer;
}

// Every layer type, strides, overlapping and average pools, dropout twice, for 28x28x1.
std::vector<LayerSpec> every_layer_type() {
  return {spec("conv2d", 8, 3, 1, 1),
          groupnorm(4),
          spec("relu"),
          spec("maxpool", 0, 2),
          spec("conv2d", 16, 3, 2),
          spec("relu"),
          spec("avgpool", 0, 3, 1),
          dropout(0.25),
          spec("flatten"),
          spec("dense", 32),
          spec("relu"),
          dropout(0.5),
          spec("dense", 10)};
}

// A preset arch, or "custom" for every_layer_type().
ModelConfig config_for(const std::string& arch) {
  ModelConfig config;
  config.arch = arch;
  if (arch == "custom") config.layers = every_layer_type();
  return config;
}

// Learnable images: each class is a fixed random 7x7 pattern blown up to 28x28 (coarse, so
// pooled conv features can see it), each sample that pattern plus noise, clamped to [0, 1]
// like real pixels.
Samples synthetic_samples(std::int64_t count, std::uint64_t seed, double noise = 0.3) {
  SeededRandom random(seed);
  Samples samples;
  samples.count = count;
  samples.height = 28;
  samples.width = 28;
  samples.classes = 10;
  std::vector<float> templates(10 * 784);
  SeededRandom template_random(7);  // the same classes for every seed
  for (std::int64_t c = 0; c < 10; ++c) {
    std::vector<float> coarse(49);
    for (float& t : coarse) t = static_cast<float>(template_random.uniform01());
    for (std::int64_t p = 0; p < 784; ++p) {
      templates[std::size_t(c * 784 + p)] = coarse[std::size_t((p / 28 / 4) * 7 + (p % 28) / 4)];
    }
  }
  samples.pixels.resize(static_cast<std::size_t>(count * 784));
  samples.labels.resize(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    const auto label = static_cast<std::int32_t>(random.below(10));
    samples.labels[std::size_t(i)] = label;
    for (std::int64_t p = 0; p < 784; ++p) {
      const double value =
          templates[std::size_t(label * 784 + p)] + noise * random.uniform(-1.0, 1.0);
      samples.pixels[std::size_t(i * 784 + p)] = static_cast<float>(std::clamp(value, 0.0, 1.0));
    }
  }
  return samples;
}

std::vector<std::int64_t> first(std::int64_t n) {
  std::vector<std::int64_t> indices(static_cast<std::size_t>(n));
  std::iota(indices.begin(), indices.end(), std::int64_t{0});
  return indices;
}

TEST(BackendOps, CpuMatchesDoubleReference) {
  for (const int threads : {1, 2}) {
    auto backend = make_cpu_backend(threads);
    testing::check_backend_ops(*backend);
  }
}

// Where CUDA is built and a GPU answers, "cuda" gives the CUDA backend (tested further in
// tests/kernels/train_backend_test.cpp); anywhere else it is a config error saying why.
TEST(Backend, CudaIsTheGpuOrAConfigError) {
  auto backend = make_backend("cuda", 1);
  if (backend) {
    EXPECT_EQ((*backend)->name().rfind("cuda:", 0), 0u) << (*backend)->name();
  } else {
    EXPECT_EQ(backend.error().kind, ErrorKind::kConfig);
    EXPECT_NE(backend.error().message.find("train.device = \"cuda\""), std::string::npos)
        << backend.error().message;
  }
  EXPECT_TRUE(make_backend("auto", 1));
}

// "auto" for a job: the GPU only where one answers and trains the job's model as the CPU
// does (tests/kernels: check_training_agrees); where none answers, the CPU and a note saying
// why. "cpu" is the CPU without a note.
TEST(Backend, AutoForAJobSaysWhyItStaysOnTheCpu) {
  Job job;
  job.model.hidden = {8};
  Samples data;
  data.count = 4;
  data.height = data.width = 28;
  data.classes = 10;
  data.pixels.assign(4 * 784, 0.5f);
  data.labels = {0, 1, 2, 3};
  job.train.device = "cpu";
  auto cpu = make_job_backend(job, data);
  ASSERT_TRUE(cpu) << cpu.error().message;
  EXPECT_EQ(cpu->backend->name().rfind("cpu", 0), 0u);
  EXPECT_EQ(cpu->note, "");
  job.train.device = "auto";
  auto chosen = make_job_backend(job, data);
  ASSERT_TRUE(chosen) << chosen.error().message;
  if (chosen->backend->name().rfind("cuda:", 0) == 0) {
    EXPECT_NE(chosen->note.find("trains the job's model as the CPU does"), std::string::npos);
  } else if (!build::cuda_compiled()) {
    EXPECT_EQ(chosen->note, "");
  } else {
    EXPECT_NE(chosen->note.find("training on the CPU"), std::string::npos) << chosen->note;
  }
}

TEST(Model, ParameterCountsMatchThePublishedOnes) {
  auto backend = make_cpu_backend(1);
  const std::pair<const char*, std::int64_t> expected[] = {
      {"logreg", 7'850}, {"mlp", 199'210}, {"cnn", 1'663'370}, {"lenet", 44'426}};
  for (const auto& [arch, count] : expected) {
    auto model = Model::create(*backend, config_for(arch), 1);
    ASSERT_TRUE(model) << model.error().message;
    EXPECT_EQ(model->parameter_count(), count) << arch << "\n" << model->summary();
    std::int64_t covered = 0;
    for (const ParamView& view : model->parameter_views()) {
      EXPECT_EQ(view.offset, covered) << view.name;  // views tile the buffer in order
      covered += view.count;
    }
    EXPECT_EQ(covered, count);
  }
}

// The two image presets: PyTorch's MNIST example net and Keras' CIFAR-10 CNN, whose
// published parameter counts these are; and the summary lists every layer with its shape.
TEST(Model, ImagePresetsHaveThePublishedParameterCounts) {
  auto backend = make_cpu_backend(1);
  ModelConfig mnist = config_for("mnist-cnn");
  ModelConfig cifar = config_for("cifar-cnn");
  cifar.height = 32;
  cifar.width = 32;
  cifar.channels = 3;
  for (const auto& [config, count] : {std::pair{mnist, 1'199'882}, std::pair{cifar, 1'250'858}}) {
    auto model = Model::create(*backend, config, 2);
    ASSERT_TRUE(model) << model.error().message;
    EXPECT_EQ(model->parameter_count(), count) << config.arch << "\n" << model->summary();
    EXPECT_EQ(Model::size_of(config)->parameters, count);
    EXPECT_EQ(*Model::summary_of(config), model->summary());
  }
  const std::string summary = *Model::summary_of(cifar);
  EXPECT_NE(summary.find("cifar-cnn (1250858 parameters)"), std::string::npos) << summary;
  // The line of a parameter layer: its name, output shape and parameter count.
  auto line_of = [&](const std::string& name) {
    const auto at = summary.find(" " + name + " ");
    const auto begin = summary.rfind('\n', at) + 1;
    return summary.substr(begin, summary.find('\n', at) - begin);
  };
  EXPECT_NE(line_of("conv4").find("(13, 13, 64)"), std::string::npos) << summary;
  EXPECT_NE(line_of("conv4").find(" 36928"), std::string::npos) << summary;
  EXPECT_NE(line_of("fc1").find("(1, 1, 512)"), std::string::npos) << summary;
  EXPECT_NE(line_of("fc1").find(" 1180160"), std::string::npos) << summary;
}

// A custom stack's parameters: named by type and count, weights channels-last, group norm
// starting as the identity (weight 1, bias 0).
TEST(Model, CustomLayersNameAndLayTheirParameters) {
  auto backend = make_cpu_backend(1);
  auto model = Model::create(*backend, config_for("custom"), 2);
  ASSERT_TRUE(model) << model.error().message;
  std::vector<std::string> names;
  for (const ParamView& view : model->parameter_views()) names.push_back(view.name);
  EXPECT_EQ(names, (std::vector<std::string>{"conv1.weight", "conv1.bias", "norm1.weight",
                                             "norm1.bias", "conv2.weight", "conv2.bias",
                                             "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}));
  const auto& views = model->parameter_views();
  EXPECT_EQ(views[0].shape, (std::vector<std::int64_t>{8, 3, 3, 1}));
  EXPECT_EQ(views[2].shape, (std::vector<std::int64_t>{8}));
  EXPECT_EQ(views[4].shape, (std::vector<std::int64_t>{16, 3, 3, 8}));
  EXPECT_EQ(views[6].shape, (std::vector<std::int64_t>{32, 4 * 4 * 16}));
  model->initialize(1);
  const float* p = model->parameters().f32();
  for (std::int64_t i = 0; i < 8; ++i) {
    EXPECT_EQ(p[views[2].offset + i], 1.0f);
    EXPECT_EQ(p[views[3].offset + i], 0.0f);
  }
  EXPECT_EQ(model->parameter_count(), Model::size_of(config_for("custom"))->parameters);
}

// A layer that does not fit is a config error naming the entry (index, type) and the key.
TEST(Model, BadLayersNameTheLayerAndKey) {
  auto backend = make_cpu_backend(1);
  const std::vector<std::pair<std::vector<LayerSpec>, std::string>> cases = {
      {{spec("conv2d", 4, 29), spec("flatten"), spec("dense", 10)},
       "model.layers[0] (conv2d): key 'kernel' = 29 is larger than its 28x28 input"},
      {{spec("conv2d", 6, 3), groupnorm(4), spec("flatten"), spec("dense", 10)},
       "model.layers[1] (groupnorm): key 'groups' = 4 does not divide its 6 channels"},
      {{spec("maxpool", 0, 2), spec("maxpool", 0, 20), spec("flatten"), spec("dense", 10)},
       "model.layers[1] (maxpool): key 'kernel' = 20 is larger than its 14x14 input"},
      {{spec("flatten"), dropout(1.0), spec("dense", 10)},
       "model.layers[1] (dropout): key 'rate' = 1 is outside [0, 1)"},
      {{spec("dense", 10)}, "model.layers[0] (dense): its input is 28x28x1: put a flatten"},
      {{spec("flatten"), spec("conv2d", 4, 3)}, "model.layers[1] (conv2d): follows a flatten"},
      {{spec("flatten"), spec("dense", 0)}, "model.layers[1] (dense): key 'out' must be >= 1"},
      {{spec("flatten"), spec("softmax")}, "model.layers[1] (softmax): unknown type"},
      {{spec("flatten"), spec("dense", 12)},
       "the last layer (dense) gives 1x1x12 values, but the data has 10 classes"},
      {{spec("conv2d", 10, 28)}, "the last layer (conv2d) gives 1x1x10 values"},
  };
  for (const auto& [layers, expected] : cases) {
    ModelConfig config = config_for("custom");
    config.layers = layers;
    auto model = Model::create(*backend, config, 1);
    ASSERT_FALSE(model) << expected;
    EXPECT_EQ(model.error().kind, ErrorKind::kConfig);
    EXPECT_NE(model.error().message.find(expected), std::string::npos) << model.error().message;
    EXPECT_FALSE(Model::size_of(config)) << expected;
  }
  ModelConfig empty = config_for("custom");
  empty.layers.clear();
  EXPECT_FALSE(Model::create(*backend, empty, 1));
}

// Memory sizing counts what the new layers allocate: a dropout layer that drops owns an
// output buffer (rate 0 passes through and owns none); group norm its output, statistics and
// (on the GPU) a backward scratch; and the sizes are what a built model reports.
TEST(Model, SizeOfCountsDropoutAndGroupNorm) {
  auto size_with = [](std::vector<LayerSpec> layers) {
    ModelConfig config = config_for("custom");
    config.layers = std::move(layers);
    return Model::size_of(config).value();
  };
  const ModelSize plain = size_with({spec("flatten"), spec("dense", 10)});
  const ModelSize dropping = size_with({spec("flatten"), dropout(0.5), spec("dense", 10)});
  const ModelSize passing = size_with({spec("flatten"), dropout(0.0), spec("dense", 10)});
  EXPECT_EQ(dropping.activation_floats_per_sample - plain.activation_floats_per_sample, 784);
  EXPECT_EQ(passing.activation_floats_per_sample, plain.activation_floats_per_sample);
  EXPECT_EQ(dropping.parameters, plain.parameters);
  const ModelSize conv =
      size_with({spec("conv2d", 4, 3, 1, 1), spec("flatten"), spec("dense", 10)});
  const ModelSize normed =
      size_with({spec("conv2d", 4, 3, 1, 1), groupnorm(2), spec("flatten"), spec("dense", 10)});
  EXPECT_EQ(normed.parameters - conv.parameters, 8);  // weight and bias of 4 channels
  // Its output (28 * 28 * 4) and statistics (2 groups x 2); the scratch stays the conv's.
  EXPECT_EQ(normed.activation_floats_per_sample - conv.activation_floats_per_sample,
            28 * 28 * 4 + 4);
}

// Dropout draws its mask from the pass's seed in training and passes everything through in
// evaluation.
TEST(Model, DropoutIsSeededInTrainingAndOffInEvaluation) {
  auto backend = make_cpu_backend(1);
  const Samples data = synthetic_samples(4, 3);
  ModelConfig config = config_for("custom");
  config.layers = {spec("flatten"), dropout(0.5), spec("dense", 10)};
  auto model = Model::create(*backend, config, 4);
  ASSERT_TRUE(model);
  model->initialize(2);
  auto logits = [&](const ForwardPass& pass) {
    const float* out = model->forward(data.pixels.data(), 4, pass);
    return std::vector<float>(out, out + 40);
  };
  const auto eval = logits({});
  EXPECT_EQ(logits({}), eval);
  const auto train_a = logits({true, 5});
  EXPECT_EQ(logits({true, 5}), train_a);
  EXPECT_NE(logits({true, 6}), train_a);
  EXPECT_NE(train_a, eval);
  // Without dropout the same weights give the evaluation logits.
  ModelConfig plain = config;
  plain.layers = {spec("flatten"), spec("dense", 10)};
  auto reference = Model::create(*backend, plain, 4);
  reference->initialize(2);
  const float* out = reference->forward(data.pixels.data(), 4, {true, 5});
  EXPECT_EQ(std::vector<float>(out, out + 40), eval);
}

// jobs/mnist-cnn.toml spells arch = "mnist-cnn" layer by layer: the same parameter names,
// shapes and initial bits, the same summary below its first line.
TEST(Model, TheMnistJobsLayersAreThePreset) {
  auto job = load_job(std::string(FEDCHAIN_SOURCE_DIR) + "/jobs/mnist-cnn.toml");
  ASSERT_TRUE(job) << job.error().message;
  const ModelConfig spelled = model_config(job->model);
  ASSERT_EQ(spelled.arch, "custom");
  auto backend = make_cpu_backend(1);
  auto custom = Model::create(*backend, spelled, 1);
  auto preset = Model::create(*backend, config_for("mnist-cnn"), 1);
  ASSERT_TRUE(custom && preset);
  ASSERT_EQ(custom->parameter_views().size(), preset->parameter_views().size());
  for (std::size_t i = 0; i < custom->parameter_views().size(); ++i) {
    const ParamView& a = custom->parameter_views()[i];
    const ParamView& b = preset->parameter_views()[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.offset, b.offset) << a.name;
    EXPECT_EQ(a.shape, b.shape) << a.name;
  }
  custom->initialize(4);
  preset->initialize(4);
  EXPECT_EQ(std::memcmp(custom->parameters().data(), preset->parameters().data(),
                        preset->parameters().bytes()),
            0);
  const std::string a = custom->summary(), b = preset->summary();
  EXPECT_EQ(a.substr(a.find('\n')), b.substr(b.find('\n')));
}

TEST(Model, UnknownArchIsAConfigError) {
  auto backend = make_cpu_backend(1);
  auto model = Model::create(*backend, config_for("resnet"), 1);
  ASSERT_FALSE(model);
  EXPECT_EQ(model.error().kind, ErrorKind::kConfig);
}

TEST(Model, InitialisationIsSeeded) {
  auto backend = make_cpu_backend(1);
  auto a = Model::create(*backend, config_for("lenet"), 1);
  auto b = Model::create(*backend, config_for("lenet"), 1);
  a->initialize(5);
  b->initialize(5);
  const auto bytes = a->parameters().bytes();
  EXPECT_EQ(std::memcmp(a->parameters().data(), b->parameters().data(), bytes), 0);
  b->initialize(6);
  EXPECT_NE(std::memcmp(a->parameters().data(), b->parameters().data(), bytes), 0);
  // Known bits: a change to initialisation or the random stream shows up here.
  const float* p = a->parameters().f32();
  std::uint64_t digest = 0;
  for (std::int64_t i = 0; i < a->parameter_count(); ++i) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, p + i, 4);
    digest = digest * 1099511628211ULL ^ bits;
  }
  EXPECT_EQ(digest, 182716458662431931ULL);
  const ParamView& bias = a->parameter_views()[1];
  for (std::int64_t i = 0; i < bias.count; ++i) EXPECT_EQ(p[bias.offset + i], 0.0f);
}

// A client's update: the CPU backend's one-pass difference and the download-then-subtract
// every other backend runs (Backend's default) give what get_parameters minus the base
// gives, bit for bit; a wrong size is refused.
TEST(Model, ParameterDifferenceIsParametersMinusBase) {
  auto backend = make_cpu_backend(1);
  auto model = Model::create(*backend, config_for("mlp"), 1);
  ASSERT_TRUE(model);
  model->initialize(5);
  const auto n = static_cast<std::size_t>(model->parameter_count());
  std::vector<float> base(n);
  for (std::size_t i = 0; i < n; ++i) base[i] = 0.001f * static_cast<float>(i % 97) - 0.05f;
  std::vector<float> params(n);
  ASSERT_TRUE(model->get_parameters(params));
  std::vector<float> want(n);
  for (std::size_t i = 0; i < n; ++i) want[i] = params[i] - base[i];
  std::vector<float> got(n, std::nanf(""));
  ASSERT_TRUE(model->get_parameter_difference(base, got));
  EXPECT_EQ(got, want);
  std::vector<float> by_default(n, std::nanf(""));
  backend->Backend::download_difference(by_default.data(), model->parameters(), base.data(),
                                        model->parameter_count());
  EXPECT_EQ(by_default, want);
  std::vector<float> short_out(n - 1);
  EXPECT_FALSE(model->get_parameter_difference(base, short_out));
  // A run of it, as the round takes a member's update chunk by chunk; and by the default.
  const std::size_t first = 10;
  const std::span<const float> base_run(base.data() + first, 20);
  std::vector<float> run(20, std::nanf(""));
  ASSERT_TRUE(model->get_parameter_difference(base_run, run, first));
  EXPECT_EQ(run, std::vector<float>(want.begin() + first, want.begin() + first + 20));
  std::fill(run.begin(), run.end(), std::nanf(""));
  backend->Backend::download_difference(run.data(), model->parameters(), base_run.data(), 20,
                                        static_cast<std::int64_t>(first));
  EXPECT_EQ(run, std::vector<float>(want.begin() + first, want.begin() + first + 20));
  EXPECT_FALSE(model->get_parameter_difference(base_run, run, static_cast<std::int64_t>(n) - 19));
  EXPECT_FALSE(model->get_parameter_difference(base_run, run, -1));
}

// Taking the difference out also puts the base back (the Backend's default, which every
// backend uses): the difference bit for bit, base in exactly the run taken, and a run outside
// the parameters refused.
TEST(Model, TakenParameterDifferenceLeavesBaseInItsRun) {
  auto backend = make_cpu_backend(1);
  auto model = Model::create(*backend, config_for("mlp"), 1);
  ASSERT_TRUE(model);
  const auto n = static_cast<std::size_t>(model->parameter_count());
  std::vector<float> base(n);
  for (std::size_t i = 0; i < n; ++i) base[i] = 0.001f * static_cast<float>(i % 97) - 0.05f;
  model->initialize(5);
  std::vector<float> trained(n);
  ASSERT_TRUE(model->get_parameters(trained));
  const std::size_t first = 10;
  const std::span<const float> base_run(base.data() + first, 20);
  std::vector<float> run(20, std::nanf(""));
  ASSERT_TRUE(model->take_parameter_difference(base_run, run, first));
  std::vector<float> after(n);
  ASSERT_TRUE(model->get_parameters(after));
  for (std::size_t i = 0; i < n; ++i) {
    const bool taken = i >= first && i < first + 20;
    if (taken) {
      ASSERT_EQ(run[i - first], trained[i] - base[i]) << "value " << i;
    }
    ASSERT_EQ(after[i], taken ? base[i] : trained[i]) << "value " << i;
  }
  const std::span<const float> base_start(base.data(), 20);
  EXPECT_FALSE(
      model->take_parameter_difference(base_start, run, static_cast<std::int64_t>(n) - 19));
  EXPECT_FALSE(model->take_parameter_difference(base_start, run, -1));
  EXPECT_FALSE(model->take_parameter_difference(base, run));
}

// On the CPU the round reads and writes a client's parameters in place
// (aggregate::take_quantized_difference): host_parameters() is the model's own memory.
TEST(Model, HostParametersAreTheCpuModelsOwnParameters) {
  auto backend = make_cpu_backend(1);
  ASSERT_TRUE(backend->memory_is_host());
  auto model = Model::create(*backend, config_for("mlp"), 1);
  ASSERT_TRUE(model);
  model->initialize(5);
  const std::span<float> host = model->host_parameters();
  ASSERT_EQ(host.size(), static_cast<std::size_t>(model->parameter_count()));
  std::vector<float> values(host.size());
  ASSERT_TRUE(model->get_parameters(values));
  EXPECT_TRUE(std::equal(values.begin(), values.end(), host.begin()));
  host[3] = 42.0f;
  ASSERT_TRUE(model->get_parameters(values));
  EXPECT_EQ(values[3], 42.0f);
}

// The whole model's backward against finite differences in float, on the largest gradient
// entry of every parameter tensor: catches wiring errors (offsets, layouts, in-place
// activations) that the per-op tests cannot.
TEST(Model, BackwardMatchesFiniteDifferences) {
  auto backend = make_cpu_backend(1);
  const Samples data = synthetic_samples(4, 3);
  // custom: every layer type, dropout on (the same masks in every forward of the check).
  for (const char* arch : {"logreg", "mlp", "cnn", "lenet", "custom"}) {
    auto model = Model::create(*backend, config_for(arch), 4);
    model->initialize(11);
    const ForwardPass pass{std::string(arch) == "custom", 21};
    auto mean_loss = [&](bool with_backward) {
      std::vector<float> probs(40), losses(4), dlogits(40);
      const float* logits = model->forward(data.pixels.data(), 4, pass);
      backend->softmax_xent_forward(4, 10, logits, data.labels.data(), probs.data(), losses.data());
      if (with_backward) {
        backend->softmax_xent_backward(4, 10, probs.data(), data.labels.data(), dlogits.data());
        model->backward(dlogits.data());
      }
      return (double(losses[0]) + losses[1] + losses[2] + losses[3]) / 4.0;
    };
    mean_loss(true);
    const float* grads = model->gradients().f32();
    float* params = model->parameters().f32();
    for (const ParamView& view : model->parameter_views()) {
      std::int64_t index = view.offset;
      for (std::int64_t i = view.offset; i < view.offset + view.count; ++i) {
        if (std::abs(grads[i]) > std::abs(grads[index])) index = i;
      }
      const float analytic = grads[index];
      const float saved = params[index];
      constexpr float kStep = 1e-3f;
      params[index] = saved + kStep;
      const double up = mean_loss(false);
      params[index] = saved - kStep;
      const double down = mean_loss(false);
      params[index] = saved;
      const double numeric = (up - down) / (2.0 * double(kStep));
      EXPECT_NEAR(analytic, numeric, 0.03 * std::abs(numeric) + 2e-4)
          << arch << " " << view.name << "[" << index - view.offset << "]";
    }
  }
}

TEST(Trainer, FitsATinyBatchCompletely) {
  auto backend = make_cpu_backend(1);
  Samples data = synthetic_samples(16, 4, 1.0);
  for (std::int32_t& label : data.labels) label = std::int32_t(&label - data.labels.data()) % 10;
  for (const char* arch : {"mlp", "lenet"}) {
    auto model = Model::create(*backend, config_for(arch), 16);
    model->initialize(1);
    TrainOptions options;
    options.batch_size = 16;
    options.steps = 300;
    options.optimizer = "adam";
    options.lr = 3e-3;
    auto trainer = LocalTrainer::create(*model, options);
    ASSERT_TRUE(trainer);
    auto result = trainer->train(data, first(16), 9);
    ASSERT_TRUE(result) << result.error().message;
    auto evaluation = evaluate(*model, data);
    ASSERT_TRUE(evaluation);
    EXPECT_EQ(evaluation->accuracy, 1.0) << arch << " loss " << evaluation->loss;
  }
}

TEST(Trainer, LossFallsAndAccuracyRises) {
  auto backend = make_cpu_backend(2);
  const Samples train_data = synthetic_samples(512, 5, 0.8);
  const Samples test_data = synthetic_samples(256, 6, 0.8);
  for (const char* arch : {"logreg", "lenet", "custom"}) {
    auto model = Model::create(*backend, config_for(arch), 32);
    model->initialize(2);
    auto before = evaluate(*model, test_data);
    TrainOptions options;
    options.batch_size = 32;
    // The custom stack (dropout 0.5 before its output layer) learns slower: 4 passes, not 2.
    const bool custom = std::string(arch) == "custom";
    options.lr = custom ? 0.05 : 0.01;
    options.momentum = 0.9;
    auto trainer = LocalTrainer::create(*model, options);
    auto first_pass = trainer->train(train_data, first(512), 1);
    auto second_pass = trainer->train(train_data, first(512), 2);
    ASSERT_TRUE(first_pass && second_pass);
    EXPECT_EQ(first_pass->samples, 512);
    EXPECT_EQ(first_pass->steps, 16);
    EXPECT_LT(second_pass->mean_loss, first_pass->mean_loss) << arch;
    for (std::uint64_t pass = 3; custom && pass <= 4; ++pass) {
      ASSERT_TRUE(trainer->train(train_data, first(512), pass));
    }
    auto after = evaluate(*model, test_data);
    EXPECT_LT(after->loss, before->loss) << arch;
    EXPECT_GT(after->accuracy, 0.5) << arch;  // chance is 0.1
  }
}

std::vector<float> train_a_few_steps(const std::string& arch, const std::string& optimizer,
                                     int threads, double prox_mu) {
  auto backend = make_cpu_backend(threads);
  const Samples data = synthetic_samples(200, 8);
  auto model = Model::create(*backend, config_for(arch), 32);
  model->initialize(3);
  TrainOptions options;
  options.steps = 4;
  options.batch_size = 16;
  options.optimizer = optimizer;
  options.lr = optimizer == "adam" ? 1e-3 : 0.05;
  options.momentum = 0.9;
  options.weight_decay = 1e-4;
  options.prox_mu = prox_mu;
  auto trainer = LocalTrainer::create(*model, options);
  const auto shard = first(200);
  EXPECT_TRUE(trainer->train(data, std::span(shard).subspan(10, 150), derive_seed(42, 1, 3)));
  std::vector<float> params(static_cast<std::size_t>(model->parameter_count()));
  EXPECT_TRUE(model->get_parameters(params));
  return params;
}

TEST(Trainer, SameSeedAndThreadsGiveIdenticalBits) {
  for (const int threads : {1, 2}) {
    const auto a = train_a_few_steps("cnn", "sgd", threads, 0.01);
    const auto b = train_a_few_steps("cnn", "sgd", threads, 0.01);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << threads;
    const auto c = train_a_few_steps("mlp", "adam", threads, 0.0);
    const auto d = train_a_few_steps("mlp", "adam", threads, 0.0);
    EXPECT_EQ(std::memcmp(c.data(), d.data(), c.size() * sizeof(float)), 0) << threads;
    const auto e = train_a_few_steps("custom", "sgd", threads, 0.0);
    const auto f = train_a_few_steps("custom", "sgd", threads, 0.0);
    EXPECT_EQ(std::memcmp(e.data(), f.data(), e.size() * sizeof(float)), 0) << threads;
  }
}

TEST(Trainer, ProximalTermPullsTowardTheStart) {
  const auto free_params = train_a_few_steps("logreg", "sgd", 1, 0.0);
  const auto held_params = train_a_few_steps("logreg", "sgd", 1, 50.0);
  auto backend = make_cpu_backend(1);
  auto model = Model::create(*backend, config_for("logreg"), 1);
  model->initialize(3);
  const float* start = model->parameters().f32();
  double free_distance = 0, held_distance = 0;
  for (std::size_t i = 0; i < free_params.size(); ++i) {
    free_distance += std::pow(free_params[i] - start[i], 2);
    held_distance += std::pow(held_params[i] - start[i], 2);
  }
  EXPECT_LT(held_distance, free_distance);
}

TEST(Trainer, RejectsBadShardsAndShapes) {
  auto backend = make_cpu_backend(1);
  auto model = Model::create(*backend, config_for("logreg"), 8);
  TrainOptions options;
  options.batch_size = 8;
  auto trainer = LocalTrainer::create(*model, options);
  const Samples data = synthetic_samples(4, 1);
  const std::vector<std::int64_t> outside{0, 4};
  auto result = trainer->train(data, outside, 1);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kConfig);
  options.batch_size = 0;
  EXPECT_FALSE(LocalTrainer::create(*model, options));
}

// The real batch is min(batch_size, shard): a batch_size far above the shard needs no more
// room than the shard, and one above the room on a larger shard is refused, not overrun.
TEST(Trainer, TakesTheRealBatch) {
  auto backend = make_cpu_backend(1);
  auto model = Model::create(*backend, config_for("logreg"), 4);
  TrainOptions options;
  options.batch_size = 1 << 20;
  auto trainer = LocalTrainer::create(*model, options);
  ASSERT_TRUE(trainer);
  const Samples data = synthetic_samples(8, 1);
  const std::vector<std::int64_t> shard{0, 1, 2, 3};
  auto trained = trainer->train(data, shard, 1);
  ASSERT_TRUE(trained) << trained.error().message;
  EXPECT_EQ(trained->samples_seen, 4);
  const std::vector<std::int64_t> larger{0, 1, 2, 3, 4, 5};
  auto refused = trainer->train(data, larger, 1);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("train.batch_size"), std::string::npos);
}

}  // namespace
}  // namespace fedchain::train
