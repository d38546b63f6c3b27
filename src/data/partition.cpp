// Partitioners (partition.hpp). The order of random draws is part of the format: docs/data.md
// lists it, and partition_test.cpp pins golden outputs, so reordering draws is a breaking
// change to every job's partition.
#include "fedchain/data/partition.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

#include "fedchain/core/portable_math.hpp"
#include "fedchain/core/random.hpp"

namespace fedchain::data {

namespace {

// Every scheme needs at least one sample per client.
Status check_sizes(std::int64_t num_samples, std::int64_t num_clients) {
  if (num_clients < 1) return config_error("cannot partition over {} clients", num_clients);
  if (num_samples < num_clients) {
    return config_error(
        "{} training samples cannot give each of {} clients at least one: use fewer clients "
        "(clients.total) or more samples (data.train_limit; 0 uses the whole split)",
        num_samples, num_clients);
  }
  return {};
}

Status check_common(std::span<const std::uint8_t> labels, std::int64_t num_classes,
                    std::int64_t num_clients) {
  if (num_classes < 1 || num_classes > 256) {
    return config_error("num_classes = {} is outside 1 to 256", num_classes);
  }
  if (auto st = check_sizes(static_cast<std::int64_t>(labels.size()), num_clients); !st) {
    return st;
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= num_classes) {
      return config_error("label {} at index {} is not below num_classes = {}", labels[i], i,
                          num_classes);
    }
  }
  return {};
}

Status check_alpha(double alpha) {
  if (!(alpha > 0.0) || !(alpha < std::numeric_limits<double>::infinity())) {
    return config_error("data.alpha = {} must be a finite number > 0", alpha);
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

std::int64_t smallest_size(const Partition& partition) {
  std::int64_t smallest = std::numeric_limits<std::int64_t>::max();
  for (const auto& indices : partition) {
    smallest = std::min(smallest, static_cast<std::int64_t>(indices.size()));
  }
  return smallest;
}

// Dirichlet proportions from log-gamma variates: weight[j] = exp(log_gamma[j] - m) for the
// open entries, m the largest open log-gamma (so tiny alpha cannot underflow every weight
// to zero), and 0 for the closed ones. Returns the total, summed in index order.
template <typename IsOpen>
double dirichlet_weights(std::span<const double> log_gamma, IsOpen is_open,
                         std::span<double> weight) {
  double max_log = -std::numeric_limits<double>::infinity();
  for (std::size_t j = 0; j < log_gamma.size(); ++j) {
    if (is_open(j)) max_log = std::max(max_log, log_gamma[j]);
  }
  double total = 0.0;
  for (std::size_t j = 0; j < log_gamma.size(); ++j) {
    weight[j] = is_open(j) ? portable_exp(log_gamma[j] - max_log) : 0.0;
    total += weight[j];
  }
  return total;
}

// Cuts n items by the proportions weight[j] / total: entry j gets [cut(j-1), cut(j)) with
// cut(j) = floor(n * sum_{i<=j} weight[i] / total), clamped to [cut(j-1), n], and the last
// entry's cut is n. Returns each entry's count.
std::vector<std::int64_t> cut_counts(std::span<const double> weight, double total, std::int64_t n) {
  std::vector<std::int64_t> counts(weight.size());
  double cumulative = 0.0;
  std::int64_t begin = 0;
  for (std::size_t j = 0; j < weight.size(); ++j) {
    cumulative += weight[j] / total;
    std::int64_t end =
        j + 1 == weight.size() ? n : static_cast<std::int64_t>(cumulative * static_cast<double>(n));
    end = std::clamp(end, begin, n);
    counts[j] = end - begin;
    begin = end;
  }
  return counts;
}

// One pass of NIID-Bench's label-skew split: every class is spread over the clients by fresh
// Dirichlet(alpha) proportions. Draw order: for each class k ascending, shuffle that class's
// indices, then draw num_clients log-gamma variates (client 0 first).
Partition dirichlet_draw(const std::vector<std::vector<std::int64_t>>& by_class,
                         std::int64_t num_samples, std::int64_t num_clients, double alpha,
                         SeededRandom& random) {
  const auto clients = static_cast<std::size_t>(num_clients);
  Partition partition(clients);
  std::vector<double> log_gamma(clients);
  std::vector<double> weight(clients);
  // A client that already holds N / clients samples takes no more (balances sizes). At least
  // one client is always open: otherwise all together would hold N samples already.
  const auto is_open = [&](std::size_t j) {
    return static_cast<std::int64_t>(partition[j].size()) * num_clients < num_samples;
  };
  for (const auto& class_indices : by_class) {
    std::vector<std::int64_t> shuffled = class_indices;
    random.shuffle(shuffled);
    for (auto& g : log_gamma) g = random.log_gamma_variate(alpha);
    const double total = dirichlet_weights(log_gamma, is_open, weight);
    const auto counts = cut_counts(weight, total, static_cast<std::int64_t>(shuffled.size()));
    auto next = shuffled.begin();
    for (std::size_t j = 0; j < clients; ++j) {
      partition[j].insert(partition[j].end(), next, next + counts[j]);
      next += counts[j];
    }
  }
  return partition;
}

}  // namespace

Result<Partition> partition_iid(std::int64_t num_samples, std::int64_t num_clients,
                                std::uint64_t seed) {
  if (auto st = check_sizes(num_samples, num_clients); !st) return st.error();
  std::vector<std::int64_t> order(static_cast<std::size_t>(num_samples));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  SeededRandom random(seed);
  random.shuffle(order);
  Partition partition(static_cast<std::size_t>(num_clients));
  const std::int64_t base = num_samples / num_clients;
  const std::int64_t extra = num_samples % num_clients;
  std::int64_t begin = 0;
  for (std::int64_t c = 0; c < num_clients; ++c) {
    const std::int64_t size = base + (c < extra ? 1 : 0);
    partition[static_cast<std::size_t>(c)].assign(order.begin() + begin,
                                                  order.begin() + begin + size);
    begin += size;
  }
  sort_each(partition);
  return partition;
}

Result<Partition> partition_dirichlet(std::span<const std::uint8_t> labels,
                                      std::int64_t num_classes, std::int64_t num_clients,
                                      double alpha, std::uint64_t seed) {
  if (auto st = check_alpha(alpha); !st) return st.error();
  if (auto st = check_common(labels, num_classes, num_clients); !st) return st.error();
  const auto num_samples = static_cast<std::int64_t>(labels.size());
  const std::int64_t min_size = std::min(kDirichletMinSamples, num_samples / num_clients);
  const std::int64_t max_draws = dirichlet_max_draws(num_clients);
  const auto by_class = indices_by_class(labels, num_classes);
  SeededRandom random(seed);
  // NIID-Bench's rule: re-draw the whole partition (the generator runs on) until the
  // smallest client holds at least min_size samples. min_size is a floor for training, an
  // empty client a job that cannot run: when no draw reaches min_size (it is about the mean
  // once N / clients is near 10), the draw with the largest smallest client serves, if that
  // client has a sample.
  Partition best;
  std::int64_t best_smallest = -1;
  for (std::int64_t draw = 0; draw < max_draws; ++draw) {
    Partition partition = dirichlet_draw(by_class, num_samples, num_clients, alpha, random);
    const std::int64_t smallest = smallest_size(partition);
    if (smallest >= min_size) {
      sort_each(partition);
      return partition;
    }
    if (smallest > best_smallest) {
      best = std::move(partition);
      best_smallest = smallest;
    }
  }
  if (best_smallest >= 1) {
    sort_each(best);
    return best;
  }
  const auto is_empty = [](const std::vector<std::int64_t>& indices) { return indices.empty(); };
  const auto first_empty = std::find_if(best.begin(), best.end(), is_empty) - best.begin();
  const auto empty = std::count_if(best.begin(), best.end(), is_empty);
  return config_error(
      "dirichlet partition over {} clients: each of {} draws left clients without samples "
      "({} in the best one, client {} first); raise data.alpha = {} (a larger alpha spreads "
      "each class more evenly), use fewer clients (clients.total) or more samples, or set "
      "data.partition = \"label_shards\", which gives every client samples",
      num_clients, max_draws, empty, first_empty, alpha);
}

Result<Partition> partition_label_shards(std::span<const std::uint8_t> labels,
                                         std::int64_t num_classes, std::int64_t num_clients,
                                         std::int64_t classes_per_client, std::uint64_t seed) {
  if (auto st = check_common(labels, num_classes, num_clients); !st) return st.error();
  if (classes_per_client < 1 || classes_per_client > num_classes) {
    return config_error(
        "data.classes_per_client = {} must be between 1 and the dataset's {} classes",
        classes_per_client, num_classes);
  }
  const auto num_samples = static_cast<std::int64_t>(labels.size());
  const std::int64_t num_shards = num_clients * classes_per_client;
  if (num_samples < num_shards) {
    return config_error(
        "{} training samples cannot fill {} shards ({} clients x data.classes_per_client = "
        "{}): lower data.classes_per_client, use fewer clients (clients.total) or more samples",
        num_samples, num_shards, num_clients, classes_per_client);
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
  // Deal: client c starts with shards c, c + K, c + 2K, ... (striped, so with equal classes
  // no client holds two shards of one class), then 16 S random swap proposals between two
  // clients mix the deal; a swap is taken only if neither client ends up with a repeated
  // class.
  const auto clients = static_cast<std::size_t>(num_clients);
  const auto per_client = static_cast<std::size_t>(classes_per_client);
  std::vector<std::vector<std::int64_t>> deal(clients, std::vector<std::int64_t>(per_client));
  for (std::size_t c = 0; c < clients; ++c) {
    for (std::size_t j = 0; j < per_client; ++j) {
      deal[c][j] = static_cast<std::int64_t>(j * clients + c);
    }
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
    const auto a = static_cast<std::size_t>(random.below(clients));
    const auto b = static_cast<std::size_t>(random.below(clients));
    const auto i = static_cast<std::size_t>(random.below(per_client));
    const auto j = static_cast<std::size_t>(random.below(per_client));
    if (a == b) continue;
    const std::uint8_t class_a = shard_class[static_cast<std::size_t>(deal[a][i])];
    const std::uint8_t class_b = shard_class[static_cast<std::size_t>(deal[b][j])];
    if (holds_class_elsewhere(deal[a], i, class_b) || holds_class_elsewhere(deal[b], j, class_a)) {
      continue;
    }
    std::swap(deal[a][i], deal[b][j]);
  }
  Partition partition(clients);
  for (std::size_t c = 0; c < clients; ++c) {
    for (const std::int64_t s : deal[c]) {
      partition[c].insert(partition[c].end(), sorted.begin() + shard_begin(s),
                          sorted.begin() + shard_begin(s + 1));
    }
  }
  sort_each(partition);
  return partition;
}

Result<Partition> partition_quantity(std::int64_t num_samples, std::int64_t num_clients,
                                     double alpha, std::uint64_t seed) {
  if (auto st = check_alpha(alpha); !st) return st.error();
  if (auto st = check_sizes(num_samples, num_clients); !st) return st.error();
  const auto clients = static_cast<std::size_t>(num_clients);
  // Every client first gets `base` samples, so none is empty whatever the draw: no
  // re-drawing, one draw at any client count.
  const std::int64_t base = quantity_floor(num_samples, num_clients);
  // Draw order: the shuffle of all indices, then num_clients log-gamma variates (client 0
  // first).
  std::vector<std::int64_t> order(static_cast<std::size_t>(num_samples));
  std::iota(order.begin(), order.end(), std::int64_t{0});
  SeededRandom random(seed);
  random.shuffle(order);
  std::vector<double> log_gamma(clients);
  std::vector<double> weight(clients);
  for (auto& g : log_gamma) g = random.log_gamma_variate(alpha);
  const double total = dirichlet_weights(
      log_gamma, [](std::size_t) { return true; }, weight);
  const auto extra = cut_counts(weight, total, num_samples - base * num_clients);
  Partition partition(clients);
  auto next = order.begin();
  for (std::size_t c = 0; c < clients; ++c) {
    const std::int64_t size = base + extra[c];
    partition[c].assign(next, next + size);
    next += size;
  }
  sort_each(partition);
  return partition;
}

Result<Partition> partition_natural(std::span<const std::int64_t> client_ids,
                                    std::int64_t num_clients) {
  std::vector<std::int64_t> distinct(client_ids.begin(), client_ids.end());
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  if (static_cast<std::int64_t>(distinct.size()) != num_clients) {
    return config_error(
        "data.partition = \"natural\": the training samples carry {} distinct client ids, but "
        "the job has {} clients; set clients.total = {} (with data.train_limit, count the ids "
        "of the samples kept)",
        distinct.size(), num_clients, distinct.size());
  }
  Partition partition(distinct.size());
  for (std::size_t i = 0; i < client_ids.size(); ++i) {
    const auto k =
        std::lower_bound(distinct.begin(), distinct.end(), client_ids[i]) - distinct.begin();
    partition[static_cast<std::size_t>(k)].push_back(static_cast<std::int64_t>(i));
  }
  return partition;
}

Result<Partition> partition(std::span<const std::uint8_t> labels, std::int64_t num_classes,
                            std::int64_t num_clients, const DataSection& data, std::uint64_t seed,
                            std::span<const std::int64_t> client_ids) {
  const auto num_samples = static_cast<std::int64_t>(labels.size());
  if (data.partition == "iid") {
    if (auto st = check_common(labels, num_classes, num_clients); !st) return st.error();
    return partition_iid(num_samples, num_clients, seed);
  }
  if (data.partition == "dirichlet") {
    return partition_dirichlet(labels, num_classes, num_clients, data.alpha, seed);
  }
  if (data.partition == "label_shards") {
    return partition_label_shards(labels, num_classes, num_clients, data.classes_per_client, seed);
  }
  if (data.partition == "quantity") {
    if (auto st = check_common(labels, num_classes, num_clients); !st) return st.error();
    return partition_quantity(num_samples, num_clients, data.alpha, seed);
  }
  if (data.partition == "natural") {
    if (client_ids.empty()) {
      return config_error(
          "data.partition = \"natural\" needs client ids in the dataset (/train/clients), and "
          "data.path has none: import the data with `fedchain data import --clients FILE`, or "
          "choose iid | dirichlet | label_shards | quantity");
    }
    return partition_natural(client_ids, num_clients);
  }
  return config_error(
      "data.partition = '{}' is not one of iid | dirichlet | label_shards | quantity | natural",
      data.partition);
}

std::vector<std::vector<std::int64_t>> class_histogram(std::span<const std::uint8_t> labels,
                                                       const Partition& partition,
                                                       std::int64_t num_classes) {
  std::vector<std::vector<std::int64_t>> histogram(
      partition.size(), std::vector<std::int64_t>(static_cast<std::size_t>(num_classes), 0));
  for (std::size_t c = 0; c < partition.size(); ++c) {
    for (const std::int64_t i : partition[c]) {
      const std::uint8_t label = labels[static_cast<std::size_t>(i)];
      if (label < num_classes) ++histogram[c][label];
    }
  }
  return histogram;
}

}  // namespace fedchain::data
