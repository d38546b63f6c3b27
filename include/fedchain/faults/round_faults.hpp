// The faults of [faults] that touch a rank's round rather than its vote: the update attacks
// (faults.attack, aggregate/attacks.hpp) and the memory fault (faults.flip_bit_*). Setup
// hands it the training labels once, the round calls it at two points, and neither holds a
// fault branch of its own; an honest rank's
// strategy leaves everything as it is (and still joins alie's collective, which every rank
// must enter).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <vector>

#include "fedchain/aggregate/attacks.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/job.hpp"

namespace fedchain::faults {

// A hosted cohort member's delta, as the round hands it to the faults.
struct ClientDelta {
  std::uint32_t client = 0;
  std::span<float> delta;
};

class RoundFaults {
 public:
  virtual ~RoundFaults() = default;
  // The training labels, once before the first round, with the samples of each client this
  // rank hosts: label_flip's attackers train on flipped labels (a data-side attack; the
  // clients' samples are disjoint, so no honest client sees a flipped label).
  virtual void on_training_labels(
      std::span<std::int32_t> labels, std::int64_t classes,
      const std::map<std::uint32_t, std::vector<std::int64_t>>& hosted_samples) = 0;
  // True when the attack needs every colluder's delta at once (alie, through a collective):
  // on_updates then takes all of a round's hosted members in one call, on every rank.
  // Otherwise the round may hand it one member at a time, as each finishes training.
  virtual bool pools_deltas() const = 0;
  // Whether on_updates may change `client`'s delta (a Byzantine client of an update attack):
  // where it cannot, and the attack does not pool, the round may skip the float delta.
  virtual bool alters_update(std::uint32_t client) const = 0;
  // The updates this rank sends at `height`: each hosted member's honest delta, or what its
  // attack makes of it. `cohort_size` is alie's n.
  virtual Status on_updates(std::uint64_t height, std::span<ClientDelta> deltas,
                            std::size_t cohort_size) = 0;
  // The model after the aggregate of `height`. A replayed round (`replay`, on resume) is
  // never faulted again: the memory fault is transient.
  virtual void on_new_model(std::uint64_t height, std::span<float> theta, bool replay) = 0;
};

// Gathers the honest deltas of every colluding client (alie's attackers) on every rank,
// each `length` floats, in rank order, at most `max_per_rank` from a rank; a collective over
// every rank, where a rank hosting no attacker passes none.
using PoolFn = std::function<Result<std::vector<std::vector<float>>>(
    std::span<const std::span<const float>> mine, std::size_t length, std::size_t max_per_rank)>;

// The strategy of `rank` for this job's [faults]; `attack` from aggregate::attack_config.
std::unique_ptr<RoundFaults> make_round_faults(const FaultsSection& faults,
                                               aggregate::AttackConfig attack, std::int64_t rank,
                                               PoolFn pool);

}  // namespace fedchain::faults
