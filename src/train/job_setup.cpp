#include "fedchain/train/job_setup.hpp"

#include <algorithm>

#include "fedchain/data/dataset.hpp"

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

}  // namespace fedchain::train
