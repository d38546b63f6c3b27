// How much memory one rank of a job needs, and whether the machine has it: said before
// training, so a job too large fails with a message naming the numbers instead of being
// killed by the kernel's out-of-memory killer with none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "fedchain/core/error.hpp"
#include "fedchain/train/model.hpp"
#include "fedchain/train/optimizer.hpp"

namespace fedchain::train {

struct MemoryNeeds {
  ModelConfig model;
  TrainOptions train;
  std::int64_t batch = 0;          // the real batch: batch_room(train.batch_size, samples)
  std::int64_t train_samples = 0;  // every rank holds the whole dataset
  std::int64_t test_samples = 0;
  std::int64_t exchange_bytes_per_parameter = 0;  // 16 for allreduce's int64 sums, 4 x ranks
                                                  // for allgather
};

struct MemoryEstimate {
  std::int64_t model_bytes = 0;       // parameters, gradients, optimizer state, round vectors
  std::int64_t activation_bytes = 0;  // activations, their gradients and the batch staging
  std::int64_t data_bytes = 0;        // the dataset as pixels and as float samples
  std::int64_t total() const { return model_bytes + activation_bytes + data_bytes; }
};

Result<MemoryEstimate> estimate_rank_memory(const MemoryNeeds& needs);

// Bytes this machine can still give its processes (MemAvailable, capped by a cgroup v2
// memory.max) and bytes this process may still map (RLIMIT_AS less what it maps now);
// nullopt where unknown or unlimited.
struct AvailableMemory {
  std::optional<std::int64_t> machine;
  std::optional<std::int64_t> process;
};
AvailableMemory available_memory();

// A config error naming train.batch_size and the numbers when `ranks_here` ranks of
// `estimate` each do not fit in `available`.
Status check_memory(const MemoryEstimate& estimate, const MemoryNeeds& needs,
                    const AvailableMemory& available, int ranks_here);

}  // namespace fedchain::train
