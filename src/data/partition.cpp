// Partitioners (partition.hpp). The order of random draws is part of the format: docs/data.md
// lists it, and partition_test.cpp pins golden outputs, so reordering draws is a breaking
// change to every job's partition.
#include "fedchain/data/partition.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

#include "fedchain/core/random.hpp"

namespace fedchain::data {

namespace {

Status check_common(std::span<const std::uint8_t> labels, std::int64_t num_classes,
                    std::int64_t num_ranks) {
  if (num_ranks < 1) return config_error("cannot partition over {} ranks", num_ranks);
  if (num_classes < 1 || num_classes > 256) {
    return config_error("num_classes = {} is outside 1 to 256", num_classes);
  }
  if (static_cast<std::int64_t>(labels.size()) < num_ranks) {
    return config_error(
        "{} training samples cannot give each of {} ranks at least one; raise "
        "data.train_limit or run fewer ranks",
        labels.size(), num_ranks);
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= num_classes) {
      return config_error("label {} at index {} is not below num_classes = {}", labels[i], i,
                          num_classes);
    }
  }
  return {};
}

std::vector<std::vector<std::int64_t>> indices_by_class(std::span<const std::uint8_t> labels,
                                                        std::int64_t num_classes) {
  std::vector<std::vector<std::int64_t>> by_class(static_cast<std::size_t>(num_classes));
  for (std::size_t i = 0; i < labels.size(); ++i) {
    by_class[labels[i]].push_back(static_cast<std::int64_t>(i));
  }
  return by_class;
}

void sort_each(Partition& partition) {
  for (auto& indices : partition) std::sort(indices.begin(), indices.end());
}

// One pass of NIID-Bench's label-skew split: every class is spread over the ranks by fresh
// Dirichlet(alpha) proportions. Draw order: for each class k ascending, shuffle that class's
// indices, then draw num_ranks log-gamma variates (rank 0 first).
Partition dirichlet_draw(const std::vector<std::vector<std::int64_t>>& by_class,
                         std::int64_t num_samples, std::int64_t num_ranks, double alpha,
                         SeededRandom& random) {
  const auto ranks = static_cast<std::size_t>(num_ranks);
  Partition partition(ranks);
  std::vector<double> log_gamma(ranks);
  std::vector<double> weight(ranks);
  for (const auto& class_indices : by_class) {
    std::vector<std::int64_t> shuffled = class_indices;
    random.shuffle(shuffled);
    for (auto& g : log_gamma) g = random.log_gamma_variate(alpha);
    // A rank that already holds N / ranks samples takes no more (balances sizes). At least
    // one rank is always open: otherwise all ranks together would hold N samples already.
    double max_log = -std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < ranks; ++j) {
      const bool open = static_cast<std::int64_t>(partition[j].size()) * num_ranks < num_samples;
      if (open) max_log = std::max(max_log, log_gamma[j]);
    }
    // Proportions from log-gammas relative to the largest open one, so tiny alpha cannot
    // underflow every weight to zero.
    double total = 0.0;
    for (std::size_t j = 0; j < ranks; ++j) {
      const bool open = static_cast<std::int64_t>(partition[j].size()) * num_ranks < num_samples;
      weight[j] = open ? portable_exp(log_gamma[j] - max_log) : 0.0;
      total += weight[j];
    }
    // Rank j gets [cut(j-1), cut(j)) with cut(j) = floor(n_k * sum_{i<=j} w_i / total); the
    // last rank's cut is n_k.
    const auto n = static_cast<std::int64_t>(shuffled.size());
    double cumulative = 0.0;
    std::int64_t begin = 0;
    for (std::size_t j = 0; j < ranks; ++j) {
      cumulative += weight[j] / total;
      std::int64_t end =
          j + 1 == ranks ? n : static_cast<std::int64_t>(cumulative * static_cast<double>(n));
      end = std::clamp(end, begin, n);
      partition[j].insert(partition[j].end(), shuffled.begin() + begin, shuffled.begin() + end);
      begin = end;
    }
  }
  return partition;
}

}  // namespace

Result<Partition> partition_iid(std::int64_t num_samples, std::int64_t num_ranks,
                                std::uint64_t seed) {
  if (num_ranks < 1) return config_error("cannot partition over {} ranks", num_ranks);
  if (num_samples < num_ranks) {
    return config_error(
        "{} training samples cannot give each of {} ranks at least one; raise "
        "data.train_limit or run fewer ranks",
        num_samples, num_ranks);
  }
  std::vector<std::int64_t> order(static_cast<std::size_t>(num_samples));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  SeededRandom random(seed);
  random.shuffle(order);
  Partition partition(static_cast<std::size_t>(num_ranks));
  const std::int64_t base = num_samples / num_ranks;
  const std::int64_t extra = num_samples % num_ranks;
  std::int64_t begin = 0;
  for (std::int64_t r = 0; r < num_ranks; ++r) {
    const std::int64_t size = base + (r < extra ? 1 : 0);
    partition[static_cast<std::size_t>(r)].assign(order.begin() + begin,
                                                  order.begin() + begin + size);
    begin += size;
  }
  sort_each(partition);
  return partition;
}

Result<Partition> partition_dirichlet(std::span<const std::uint8_t> labels,
                                      std::int64_t num_classes, std::int64_t num_ranks,
                                      double alpha, std::uint64_t seed) {
  if (!(alpha > 0.0) || !(alpha < std::numeric_limits<double>::infinity())) {
    return config_error("data.alpha = {} must be a finite number > 0", alpha);
  }
  if (auto st = check_common(labels, num_classes, num_ranks); !st) return st.error();
  const auto num_samples = static_cast<std::int64_t>(labels.size());
  const std::int64_t min_size = std::min(kDirichletMinSamples, num_samples / num_ranks);
  const auto by_class = indices_by_class(labels, num_classes);
  SeededRandom random(seed);
  // NIID-Bench's rule: re-draw the whole partition (the generator runs on) until the
  // smallest rank holds at least min_size samples.
  std::int64_t smallest = 0;
  for (int draw = 0; draw < kDirichletMaxDraws; ++draw) {
    Partition partition = dirichlet_draw(by_class, num_samples, num_ranks, alpha, random);
    smallest = std::numeric_limits<std::int64_t>::max();
    for (const auto& indices : partition) {
      smallest = std::min(smallest, static_cast<std::int64_t>(indices.size()));
    }
    if (smallest >= min_size) {
      sort_each(partition);
      return partition;
    }
  }
  return config_error(
      "dirichlet partition: after {} draws the smallest of {} ranks still holds {} samples "
      "(fewer than {}); raise data.alpha = {}, use more samples or run fewer ranks",
      kDirichletMaxDraws, num_ranks, smallest, min_size, alpha);
}

Result<Partition> partition_shards(std::span<const std::uint8_t> labels, std::int64_t num_classes,
                                   std::int64_t num_ranks, std::int64_t classes_per_rank,
                                   std::uint64_t seed) {
  if (auto st = check_common(labels, num_classes, num_ranks); !st) return st.error();
  if (classes_per_rank < 1 || classes_per_rank > num_classes) {
    return config_error("data.classes_per_rank = {} must be between 1 and the {} classes",
                        classes_per_rank, num_classes);
  }
  const auto num_samples = static_cast<std::int64_t>(labels.size());
  const std::int64_t num_shards = num_ranks * classes_per_rank;
  if (num_samples < num_shards) {
    return config_error(
        "{} training samples cannot fill {} shards ({} ranks x data.classes_per_rank = {}); "
        "use more samples, fewer ranks or fewer classes per rank",
        num_samples, num_shards, num_ranks, classes_per_rank);
  }
  SeededRandom random(seed);
  // Draw order: the class order, then each class's samples (in that order), then the swaps.
  std::vector<std::int64_t> class_order(static_cast<std::size_t>(num_classes));
  std::iota(class_order.begin(), class_order.end(), std::int64_t{0});
  random.shuffle(class_order);
  auto by_class = indices_by_class(labels, num_classes);
  std::vector<std::int64_t> sorted;
  sorted.reserve(labels.size());
  for (const std::int64_t k : class_order) {
    auto& class_indices = by_class[static_cast<std::size_t>(k)];
    random.shuffle(class_indices);
    sorted.insert(sorted.end(), class_indices.begin(), class_indices.end());
  }
  // Shard s = sorted[floor(s N / S), floor((s + 1) N / S)); its class is its first sample's.
  const auto shard_begin = [&](std::int64_t s) { return s * num_samples / num_shards; };
  std::vector<std::uint8_t> shard_class(static_cast<std::size_t>(num_shards));
  for (std::int64_t s = 0; s < num_shards; ++s) {
    shard_class[static_cast<std::size_t>(s)] =
        labels[static_cast<std::size_t>(sorted[static_cast<std::size_t>(shard_begin(s))])];
  }
  // Deal: rank r starts with shards r, r + R, r + 2R, ... (striped, so with equal classes no
  // rank holds two shards of one class), then 16 S random swap proposals between two ranks
  // mix the deal; a swap is taken only if neither rank ends up with a repeated class.
  const auto ranks = static_cast<std::size_t>(num_ranks);
  const auto per_rank = static_cast<std::size_t>(classes_per_rank);
  std::vector<std::vector<std::int64_t>> deal(ranks, std::vector<std::int64_t>(per_rank));
  for (std::size_t r = 0; r < ranks; ++r) {
    for (std::size_t j = 0; j < per_rank; ++j)
      deal[r][j] = static_cast<std::int64_t>(j * ranks + r);
  }
  const auto holds_class_elsewhere = [&](const std::vector<std::int64_t>& shards, std::size_t skip,
                                         std::uint8_t cls) {
    for (std::size_t j = 0; j < shards.size(); ++j) {
      if (j != skip && shard_class[static_cast<std::size_t>(shards[j])] == cls) return true;
    }
    return false;
  };
  const std::int64_t proposals = 16 * num_shards;
  for (std::int64_t t = 0; t < proposals; ++t) {
    const auto a = static_cast<std::size_t>(random.below(ranks));
    const auto b = static_cast<std::size_t>(random.below(ranks));
    const auto i = static_cast<std::size_t>(random.below(per_rank));
    const auto j = static_cast<std::size_t>(random.below(per_rank));
    if (a == b) continue;
    const std::uint8_t class_a = shard_class[static_cast<std::size_t>(deal[a][i])];
    const std::uint8_t class_b = shard_class[static_cast<std::size_t>(deal[b][j])];
    if (holds_class_elsewhere(deal[a], i, class_b) || holds_class_elsewhere(deal[b], j, class_a)) {
      continue;
    }
    std::swap(deal[a][i], deal[b][j]);
  }
  Partition partition(ranks);
  for (std::size_t r = 0; r < ranks; ++r) {
    for (const std::int64_t s : deal[r]) {
      partition[r].insert(partition[r].end(), sorted.begin() + shard_begin(s),
                          sorted.begin() + shard_begin(s + 1));
    }
  }
  sort_each(partition);
  return partition;
}

Result<Partition> partition(std::span<const std::uint8_t> labels, std::int64_t num_classes,
                            std::int64_t num_ranks, const DataSection& data, std::uint64_t seed) {
  if (data.partition == "iid") {
    if (auto st = check_common(labels, num_classes, num_ranks); !st) return st.error();
    return partition_iid(static_cast<std::int64_t>(labels.size()), num_ranks, seed);
  }
  if (data.partition == "dirichlet") {
    return partition_dirichlet(labels, num_classes, num_ranks, data.alpha, seed);
  }
  if (data.partition == "shards") {
    return partition_shards(labels, num_classes, num_ranks, data.classes_per_rank, seed);
  }
  return config_error("data.partition = '{}' is not one of iid | dirichlet | shards",
                      data.partition);
}

std::vector<std::vector<std::int64_t>> class_histogram(std::span<const std::uint8_t> labels,
                                                       const Partition& partition,
                                                       std::int64_t num_classes) {
  std::vector<std::vector<std::int64_t>> histogram(
      partition.size(), std::vector<std::int64_t>(static_cast<std::size_t>(num_classes), 0));
  for (std::size_t r = 0; r < partition.size(); ++r) {
    for (const std::int64_t i : partition[r]) {
      const std::uint8_t label = labels[static_cast<std::size_t>(i)];
      if (label < num_classes) ++histogram[r][label];
    }
  }
  return histogram;
}

}  // namespace fedchain::data
