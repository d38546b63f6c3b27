// The memory estimate behind train/memory.hpp and where the available memory is read.
#include "fedchain/train/memory.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

namespace fedchain::train {

namespace {

constexpr std::int64_t kFloat = 4;

// "MemAvailable:   12345 kB" from /proc/meminfo, in bytes.
std::optional<std::int64_t> mem_available() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  std::int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return std::nullopt;
}

// memory.max less memory.current of this process's cgroup (v2), where one is set.
std::optional<std::int64_t> cgroup_headroom() {
  std::ifstream self("/proc/self/cgroup");
  std::string line;
  while (std::getline(self, line)) {
    if (line.rfind("0::", 0) != 0) continue;
    const std::string dir = "/sys/fs/cgroup" + line.substr(3);
    std::ifstream max_file(dir + "/memory.max");
    std::ifstream current_file(dir + "/memory.current");
    std::int64_t max = 0;
    std::int64_t current = 0;
    if (!(max_file >> max) || !(current_file >> current)) return std::nullopt;  // "max"
    return std::max<std::int64_t>(0, max - current);
  }
  return std::nullopt;
}

// RLIMIT_AS less this process's mapped size (VmSize in /proc/self/status).
std::optional<std::int64_t> address_space_headroom() {
  rlimit limit{};
  if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return std::nullopt;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmSize:", 0) != 0) continue;
    std::istringstream fields(line.substr(7));
    std::int64_t kib = 0;
    fields >> kib;
    return std::max<std::int64_t>(0, static_cast<std::int64_t>(limit.rlim_cur) - kib * 1024);
  }
  return std::nullopt;
}

std::string gib(std::int64_t bytes) {
  return fmt::format("{:.2f} GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
}

}  // namespace

Result<MemoryEstimate> estimate_rank_memory(const MemoryNeeds& needs) {
  auto size = Model::size_of(needs.model);
  if (!size) return size.error();
  const std::int64_t input = needs.model.height * needs.model.width * needs.model.channels;
  const std::int64_t classes = needs.model.classes;
  MemoryEstimate estimate;
  // Parameters and gradients; the optimizer's velocity (and Adam's second moment); FedProx's
  // anchor; the round's theta, delta and quantized update; the exchange's buffers.
  const std::int64_t model_floats =
      2 + 1 + (needs.train.optimizer == "adam" ? 1 : 0) + (needs.train.prox_mu > 0.0 ? 1 : 0) + 3;
  estimate.model_bytes =
      size->parameters * (model_floats * kFloat + needs.exchange_bytes_per_parameter);
  // The model's activations, then the batch staging: input on the backend and the host,
  // labels, losses, probabilities and their gradient.
  const std::int64_t staging_floats = 2 * input + 2 + 3 * classes;
  estimate.activation_bytes =
      needs.batch * (size->activation_floats_per_sample + staging_floats) * kFloat;
  // Pixels as read (one byte each), then as float samples; one label each.
  const std::int64_t samples = needs.train_samples + needs.test_samples;
  estimate.data_bytes = samples * (input * (1 + kFloat) + 1 + 4);
  return estimate;
}

AvailableMemory available_memory() {
  AvailableMemory available;
  available.machine = mem_available();
  if (auto cgroup = cgroup_headroom()) {
    available.machine = available.machine ? std::min(*available.machine, *cgroup) : *cgroup;
  }
  available.process = address_space_headroom();
  return available;
}

Status check_memory(const MemoryEstimate& estimate, const MemoryNeeds& needs,
                    const AvailableMemory& available, int ranks_here) {
  const std::int64_t need = estimate.total();
  std::optional<std::int64_t> per_rank;
  std::string where;
  if (available.machine) {
    per_rank = *available.machine / std::max(1, ranks_here);
    where = fmt::format("this machine has {} available for its {} rank(s)", gib(*available.machine),
                        ranks_here);
  }
  if (available.process && (!per_rank || *available.process < *per_rank)) {
    per_rank = *available.process;
    where = fmt::format("this process may map {} more (ulimit -v)", gib(*available.process));
  }
  if (!per_rank || need <= *per_rank) return {};
  return config_error(
      "a rank needs about {} but {}: {} for the model ({} parameters, optimizer, round "
      "buffers), {} for batches of {} samples (train.batch_size = {}), {} for the dataset; "
      "lower train.batch_size, use a smaller model or data.train_limit, or start fewer ranks "
      "per machine",
      gib(need), where, gib(estimate.model_bytes), Model::size_of(needs.model)->parameters,
      gib(estimate.activation_bytes), needs.batch, needs.train.batch_size,
      gib(estimate.data_bytes));
}

}  // namespace fedchain::train
