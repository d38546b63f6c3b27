// From a job to what training needs: the dataset as Samples (scaled once), a backend and
// a model sized for the data. Shared by `fedchain centralized` and the federated round
// loop, so both read the job the same way.
#pragma once

#include <memory>
#include <string>

#include "fedchain/core/error.hpp"
#include "fedchain/core/job.hpp"
#include "fedchain/train/backend.hpp"
#include "fedchain/train/model.hpp"
#include "fedchain/train/samples.hpp"

namespace fedchain::train {

struct JobData {
  Samples train;
  Samples test;
  std::vector<std::uint8_t> train_labels;   // (train.count) as stored, for partitioning
  std::vector<std::int64_t> train_clients;  // (train.count) client ids as stored, or empty
  Hash32 content_hash;                      // data::content_hash of the arrays loaded
  PixelScaling scaling;                     // what was applied (empty: none)
};

// data.normalize's scaling: each channel's mean and standard deviation over `train`
// (data::pixel_stats); a constant channel is a config error naming `path`.
Result<PixelScaling> normalization_of(const data::ImageSet& train, const std::string& path);

// Reads data.path with the job's limits and scaling (data.normalize uses the training
// split's per-channel statistics for both splits).
Result<JobData> load_job_data(const Job& job);

// The largest batch training on `samples` samples takes: min(batch_size, samples), at
// least 1. A batch_size far above the data (1,048,576 on 1,000-sample shards) must not
// size the buffers.
std::int64_t batch_room(std::int64_t batch_size, std::int64_t samples);

// The job's model for samples shaped like `data`, on `backend`, with room for batches of
// batch_room(train.batch_size, data.count), initialised from job.seed.
Result<Model> make_job_model(Backend& backend, const Job& job, const Samples& data);

// Four steps of the job's model (its optimizer, batch size and first samples of `data`) on
// `candidate` and on `reference` from the same initial parameters: an error saying how far
// apart they end when that is more than 0.1% of the distance the reference moved. Summation
// orders differ between backends, so the last bits do; a wrong op is off by the whole step.
Status check_training_agrees(Backend& candidate, Backend& reference, const Job& job,
                             const Samples& data);

struct JobBackend {
  std::unique_ptr<Backend> backend;
  std::string note;  // with train.device = "auto": what was chosen and why, for the log
};

// train.device's backend for this job: "cpu" and "cuda" as make_backend builds them. "auto"
// takes this rank's GPU (gpu::device_for_this_rank) where one answers, passes its launch
// self-test, and trains the job's model as the CPU does (check_training_agrees); the CPU
// otherwise, the note saying why.
Result<JobBackend> make_job_backend(const Job& job, const Samples& data);

}  // namespace fedchain::train
