// The faults of [faults] that touch a rank's round rather than its vote: the update attacks
// (faults.attack, aggregate/attacks.hpp) and the memory fault (faults.flip_bit_*). Setup
// hands it the training labels once, the round calls it at two points, and neither holds a
// fault branch of its own; an honest rank's
// strategy leaves everything as it is (and still joins alie's collective, which every rank
// must enter).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "fedchain/aggregate/attacks.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/job.hpp"

namespace fedchain::faults {

class RoundFaults {
 public:
  virtual ~RoundFaults() = default;
  // This rank's training labels, once before the first round: label_flip's attackers train
  // on flipped labels (a data-side attack).
  virtual void on_training_labels(std::span<std::int32_t> labels, std::int64_t classes) = 0;
  // The update this rank sends at `height`: the honest delta, or what its attack makes of it.
  virtual Status on_update(std::uint64_t height, std::vector<float>& delta) = 0;
  // The model after the aggregate of `height`. A replayed round (`replay`, on resume) is
  // never faulted again: the memory fault is transient.
  virtual void on_new_model(std::uint64_t height, std::span<float> theta, bool replay) = 0;
};

// Gathers the honest deltas of the colluding ranks (alie's attackers), each of `delta`'s
// length; a collective over every rank, where an honest rank passes colluding = false and
// gets nothing back.
using PoolFn = std::function<Result<std::vector<std::vector<float>>>(bool colluding,
                                                                     std::span<const float> delta)>;

// The strategy of `rank` for this job's [faults]; `attack` from aggregate::attack_config.
std::unique_ptr<RoundFaults> make_round_faults(const FaultsSection& faults,
                                               aggregate::AttackConfig attack, std::int64_t rank,
                                               std::int64_t ranks, PoolFn pool);

}  // namespace fedchain::faults
