#include "fedchain/train/job_setup.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "fedchain/core/random.hpp"
#include "fedchain/data/dataset.hpp"
#include "fedchain/train/trainer.hpp"

#if defined(FEDCHAIN_HAVE_CUDA)
#include "fedchain/kernels/device.hpp"
#include "fedchain/kernels/train_backend.hpp"
#endif

namespace fedchain::train {

Result<PixelScaling> normalization_of(const data::ImageSet& train, const std::string& path) {
  const data::PixelStats stats = data::pixel_stats(train);
  PixelScaling scaling;
  for (std::size_t c = 0; c < stats.mean.size(); ++c) {
    if (!(stats.stddev[c] > 0.0)) {
      return config_error(
          "data.normalize: channel {} of {}'s training split is constant (standard deviation "
          "0); set data.normalize = false",
          c, path);
    }
    scaling.mean.push_back(static_cast<float>(stats.mean[c]));
    scaling.stddev.push_back(static_cast<float>(stats.stddev[c]));
  }
  return scaling;
}

Result<JobData> load_job_data(const Job& job) {
  auto dataset = data::read_dataset(job.data.path, job.data.train_limit, job.data.test_limit);
  if (!dataset) return dataset.error();
  PixelScaling scaling;
  if (job.data.normalize) {
    auto normalization = normalization_of(dataset->train, job.data.path);
    if (!normalization) return normalization.error();
    scaling = std::move(*normalization);
  }
  auto train_set = to_samples(dataset->train, dataset->num_classes, scaling);
  if (!train_set) return train_set.error();
  auto test_set = to_samples(dataset->test, dataset->num_classes, scaling);
  if (!test_set) return test_set.error();
  const Hash32 hash = data::content_hash(*dataset);
  return JobData{std::move(*train_set),
                 std::move(*test_set),
                 std::move(dataset->train.labels),
                 std::move(dataset->train.clients),
                 hash,
                 std::move(scaling)};
}

std::int64_t batch_room(std::int64_t batch_size, std::int64_t samples) {
  return std::max<std::int64_t>(1, std::min(batch_size, samples));
}

Result<Model> make_job_model(Backend& backend, const Job& job, const Samples& data) {
  ModelConfig config = model_config(job.model);
  config.height = data.height;
  config.width = data.width;
  config.channels = data.channels;
  config.classes = data.classes;
  auto model = Model::create(backend, config, batch_room(job.train.batch_size, data.count));
  if (!model) return model.error();
  model->initialize(static_cast<std::uint64_t>(job.job.seed));
  return model;
}

namespace {

constexpr std::int64_t kCheckSteps = 4;  // check_training_agrees' steps

struct FewSteps {
  std::vector<float> initial;
  std::vector<float> final;
};

Result<FewSteps> train_few_steps(Backend& backend, const Job& job, const Samples& data,
                                 const std::vector<float>* start) {
  auto model = make_job_model(backend, job, data);
  if (!model) return model.error();
  const auto count = static_cast<std::size_t>(model->parameter_count());
  FewSteps steps{std::vector<float>(count), std::vector<float>(count)};
  if (start != nullptr) {
    if (auto st = model->set_parameters(*start); !st) return st.error();
  }
  if (auto st = model->get_parameters(steps.initial); !st) return st.error();
  TrainOptions options = train_options(job.train);
  options.steps = kCheckSteps;
  auto trainer = LocalTrainer::create(*model, options);
  if (!trainer) return trainer.error();
  std::vector<std::int64_t> shard(static_cast<std::size_t>(
      std::min(data.count, kCheckSteps * batch_room(options.batch_size, data.count))));
  std::iota(shard.begin(), shard.end(), std::int64_t{0});
  auto trained =
      trainer->train(data, shard, derive_seed(static_cast<std::uint64_t>(job.job.seed), 0, 0));
  if (!trained) return trained.error();
  if (auto st = model->get_parameters(steps.final); !st) return st.error();
  return steps;
}

double distance(const std::vector<float>& a, const std::vector<float>& b) {
  double sum = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    sum += d * d;
  }
  return std::sqrt(sum);
}

}  // namespace

Status check_training_agrees(Backend& candidate, Backend& reference, const Job& job,
                             const Samples& data) {
  constexpr double kTolerance = 1e-3;
  auto expected = train_few_steps(reference, job, data, nullptr);
  if (!expected) return expected.error();
  auto tested = train_few_steps(candidate, job, data, &expected->initial);
  if (!tested) return tested.error();
  const double moved = distance(expected->final, expected->initial);
  const double apart = distance(tested->final, expected->final);
  if (!(apart <= kTolerance * moved)) {  // NaN fails too
    return runtime_error(
        "{} steps of the job's {} on {} end {:.3g} from {}'s (L2), {:.3g}% of the {:.3g} "
        "training moved the parameters; at most {}% is rounding",
        kCheckSteps, job.model.arch, candidate.name(), apart, reference.name(),
        100.0 * apart / moved, moved, 100.0 * kTolerance);
  }
  return {};
}

Result<JobBackend> make_job_backend(const Job& job, const Samples& data) {
  const int threads = static_cast<int>(job.train.threads);
  if (job.train.device != "auto") {
    auto backend = make_backend(job.train.device, threads);
    if (!backend) return backend.error();
    return JobBackend{std::move(*backend), ""};
  }
  auto cpu = make_cpu_backend(threads);
#if defined(FEDCHAIN_HAVE_CUDA)
  const auto probe = gpu::probe_devices();
  if (probe.devices.empty()) {
    return JobBackend{std::move(cpu),
                      fmt::format("train.device = auto: no usable GPU ({}); training on the CPU",
                                  probe.why_none)};
  }
  const auto& device = gpu::device_for_this_rank(probe);
  const auto on_cpu = [&](const std::string& why) {
    return JobBackend{std::move(cpu),
                      fmt::format("train.device = auto: cuda:{} ({}) {}; training on the CPU",
                                  device.index, device.name, why)};
  };
  if (auto st = gpu::self_test(device.index); !st) {
    return on_cpu("failed its launch self-test: " + st.error().message);
  }
  auto cuda = gpu::make_cuda_backend(device.index);
  if (!cuda) return on_cpu("could not be set up: " + cuda.error().message);
  if (auto st = check_training_agrees(**cuda, *cpu, job, data); !st) {
    return on_cpu("trains differently from the CPU: " + st.error().message);
  }
  return JobBackend{std::move(*cuda),
                    fmt::format("train.device = auto: cuda:{} ({}), which passed its launch "
                                "self-test and trains the job's model as the CPU does",
                                device.index, device.name)};
#else
  return JobBackend{std::move(cpu), ""};
#endif
}

}  // namespace fedchain::train
