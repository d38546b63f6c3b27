// Splitting the training set over the clients (the K data holders, docs/clients.md): iid,
// dirichlet (label skew as in NIID-Bench, Li et al. 2021), label_shards (McMahan et al.
// 2017; NIID-Bench's #C=k), quantity (NIID-Bench's quantity skew) and natural (the dataset's
// own client ids). Every partitioner is a
// pure function of its inputs and the seed, built on SeededRandom (core/random.hpp), so
// every rank computes the same partition on any platform and for any rank count;
// docs/data.md gives the exact rules.
//
// Every client gets at least one sample, every sample goes to exactly one client, and each
// client's index list is sorted ascending.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "fedchain/core/error.hpp"
#include "fedchain/core/job.hpp"

namespace fedchain::data {

// indices[client] = sorted training-sample indices of that client; shape (clients, varies).
using Partition = std::vector<std::vector<std::int64_t>>;

// Dirichlet re-draws until every client holds at least min(kDirichletMinSamples, N / clients)
// samples, at most dirichlet_max_draws(clients) times.
inline constexpr std::int64_t kDirichletMinSamples = 10;
inline constexpr std::int64_t kDirichletMaxDraws = 1000;
// A draw costs one Gamma variate per client and class, and at thousands of clients a
// setting either passes on its first draws or practically never (every client must pass at
// once), so past 100 clients the draws stop sooner: at most this many client proportions
// per class over all draws (10 draws at 10,000 clients).
inline constexpr std::int64_t kDirichletDrawBudget = 100000;

constexpr std::int64_t dirichlet_max_draws(std::int64_t num_clients) {
  return std::clamp(kDirichletDrawBudget / std::max<std::int64_t>(num_clients, 1), std::int64_t{1},
                    kDirichletMaxDraws);
}

// Quantity skew first gives every client quantity_floor(N, clients) samples:
// min(kQuantityMinSamples, N / (2 clients)), at least 1.
inline constexpr std::int64_t kQuantityMinSamples = 10;

constexpr std::int64_t quantity_floor(std::int64_t num_samples, std::int64_t num_clients) {
  return std::max<std::int64_t>(
      1, std::min(kQuantityMinSamples, num_samples / (2 * std::max<std::int64_t>(num_clients, 1))));
}

// Shuffle all indices, then cut into num_clients contiguous runs whose sizes differ by at
// most one (the first N mod num_clients clients get the extra sample).
Result<Partition> partition_iid(std::int64_t num_samples, std::int64_t num_clients,
                                std::uint64_t seed);

// For each class in turn, Dirichlet(alpha) proportions over the clients (clients already
// holding N / num_clients samples or more get none of this class); smaller alpha, more
// skew. If no draw gives every client the minimum above, the draw whose smallest client is
// largest, provided no client is empty.
Result<Partition> partition_dirichlet(std::span<const std::uint8_t> labels,
                                      std::int64_t num_classes, std::int64_t num_clients,
                                      double alpha, std::uint64_t seed);

// Sort by label (classes in a seeded random order, samples shuffled within a class), cut
// into num_clients * classes_per_client shards, and deal classes_per_client shards to each
// client so that no client holds two shards that start with the same class.
Result<Partition> partition_label_shards(std::span<const std::uint8_t> labels,
                                         std::int64_t num_classes, std::int64_t num_clients,
                                         std::int64_t classes_per_client, std::uint64_t seed);

// Client sizes from one Dirichlet(alpha) draw over the samples left after every client's
// quantity_floor; which samples a client gets is iid (one shuffle of all indices).
Result<Partition> partition_quantity(std::int64_t num_samples, std::int64_t num_clients,
                                     double alpha, std::uint64_t seed);

// The dataset's own clients (/train/clients, e.g. FEMNIST's writers): client k holds the
// samples whose id is the k-th smallest distinct id. The job's client count must equal the
// number of distinct ids (a config error naming clients.total otherwise).
Result<Partition> partition_natural(std::span<const std::int64_t> client_ids,
                                    std::int64_t num_clients);

// Dispatches on data.partition ("iid" | "dirichlet" | "label_shards" | "quantity" |
// "natural") with data.alpha and data.classes_per_client; "natural" needs the training
// split's client ids. Errors are config errors naming the key at fault.
Result<Partition> partition(std::span<const std::uint8_t> labels, std::int64_t num_classes,
                            std::int64_t num_clients, const DataSection& data, std::uint64_t seed,
                            std::span<const std::int64_t> client_ids = {});

// histogram[client][class] = samples of that class the client holds; shape (clients,
// num_classes).
std::vector<std::vector<std::int64_t>> class_histogram(std::span<const std::uint8_t> labels,
                                                       const Partition& partition,
                                                       std::int64_t num_classes);

}  // namespace fedchain::data
