// Splitting the training set over ranks: iid, dirichlet (label skew as in NIID-Bench, Li et
// al. 2021) and shards (McMahan et al. 2017). Every partitioner is a pure function of its
// inputs and the seed, built on SeededRandom (core/random.hpp), so every rank computes the same
// partition on any platform; docs/data.md gives the exact rules.
//
// Every rank gets at least one sample, every sample goes to exactly one rank, and each
// rank's index list is sorted ascending.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "fedchain/core/error.hpp"
#include "fedchain/core/job.hpp"

namespace fedchain::data {

// indices[rank] = sorted training-sample indices of that rank; shape (num_ranks, varies).
using Partition = std::vector<std::vector<std::int64_t>>;

// Dirichlet re-draws until every rank holds at least min(kDirichletMinSamples, N / ranks)
// samples, at most kDirichletMaxDraws times.
inline constexpr std::int64_t kDirichletMinSamples = 10;
inline constexpr int kDirichletMaxDraws = 1000;

// Shuffle all indices, then cut into num_ranks contiguous runs whose sizes differ by at most
// one (the first N mod num_ranks ranks get the extra sample).
Result<Partition> partition_iid(std::int64_t num_samples, std::int64_t num_ranks,
                                std::uint64_t seed);

// For each class in turn, Dirichlet(alpha) proportions over the ranks (ranks already
// holding N / num_ranks samples or more get none of this class); smaller alpha, more skew.
Result<Partition> partition_dirichlet(std::span<const std::uint8_t> labels,
                                      std::int64_t num_classes, std::int64_t num_ranks,
                                      double alpha, std::uint64_t seed);

// Sort by label (classes in a seeded random order, samples shuffled within a class), cut
// into num_ranks * classes_per_rank shards, and deal classes_per_rank shards to each rank
// so that no rank holds two shards that start with the same class.
Result<Partition> partition_shards(std::span<const std::uint8_t> labels, std::int64_t num_classes,
                                   std::int64_t num_ranks, std::int64_t classes_per_rank,
                                   std::uint64_t seed);

// Dispatches on data.partition ("iid" | "dirichlet" | "shards") with data.alpha and
// data.classes_per_rank. Errors are config errors naming the data.* key at fault.
Result<Partition> partition(std::span<const std::uint8_t> labels, std::int64_t num_classes,
                            std::int64_t num_ranks, const DataSection& data, std::uint64_t seed);

// histogram[rank][class] = samples of that class on that rank; shape (ranks, num_classes).
std::vector<std::vector<std::int64_t>> class_histogram(std::span<const std::uint8_t> labels,
                                                       const Partition& partition,
                                                       std::int64_t num_classes);

}  // namespace fedchain::data
