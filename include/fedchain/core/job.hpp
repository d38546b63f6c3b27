// The job: everything a run is configured by, as plain values with defaults. A job file
// (TOML, see docs/job-file.md) and `--set key=value` overrides fill it in through the
// schema in job_schema.cpp, which is the one list of keys, types, ranges and docs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fedchain {

struct JobSection {
  std::string name = "fedchain";
  std::int64_t rounds = 10;  // federated rounds = block heights after genesis
  std::int64_t seed = 42;    // seeds initialisation, partitioning and batch order
  std::int64_t ranks = 0;    // expected MPI ranks; 0 takes whatever mpirun starts
};

struct DataSection {
  std::string path = "data/fashion-mnist.h5";
  std::string partition = "iid";      // iid | dirichlet | shards
  double alpha = 0.5;                 // dirichlet concentration
  std::int64_t classes_per_rank = 2;  // shards: classes each rank holds
  std::int64_t train_limit = 0;       // use only the first N training samples (0: all)
  std::int64_t test_limit = 0;        // use only the first N test samples (0: all)
  bool normalize = false;             // standardise pixels with the dataset mean/std
};

struct ModelSection {
  std::string arch = "mlp";                    // logreg | mlp | cnn | lenet
  std::vector<std::int64_t> hidden{200, 200};  // mlp hidden layer widths
};

struct TrainSection {
  std::int64_t local_epochs = 1;
  std::int64_t local_steps = 0;  // > 0: this many minibatch steps instead of epochs
  std::int64_t batch_size = 32;
  double lr = 0.05;
  std::string optimizer = "sgd";  // sgd | adam
  double momentum = 0.0;
  double weight_decay = 0.0;
  double prox_mu = 0.0;         // FedProx proximal term weight
  std::int64_t threads = 1;     // CPU threads per rank
  std::string device = "auto";  // auto | cpu | cuda
};

struct Job {
  JobSection job;
  DataSection data;
  ModelSection model;
  TrainSection train;
};

}  // namespace fedchain
