// The update attacks and the memory fault as the round's strategy (see round_faults.hpp).
#include "fedchain/faults/round_faults.hpp"

#include <cstring>
#include <utility>

#include <spdlog/spdlog.h>

namespace fedchain::faults {

namespace {

class JobRoundFaults final : public RoundFaults {
 public:
  JobRoundFaults(const FaultsSection& faults, aggregate::AttackConfig attack, std::int64_t rank,
                 std::int64_t ranks, PoolFn pool)
      : attack_(std::move(attack)),
        rank_(rank),
        ranks_(ranks),
        flip_bit_rank_(faults.flip_bit_rank),
        flip_bit_height_(faults.flip_bit_height),
        pool_(std::move(pool)) {}

  void on_training_labels(std::span<std::int32_t> labels, std::int64_t classes) override {
    if (attack_.attack != aggregate::Attack::kLabelFlip ||
        !aggregate::is_byzantine(attack_, rank_)) {
      return;
    }
    for (auto& label : labels) label = aggregate::flip_label(label, static_cast<int>(classes));
  }

  // Byzantine ranks replace their delta; alie's attackers pool their honest deltas first.
  Status on_update(std::uint64_t height, std::vector<float>& delta) override {
    const bool byzantine = aggregate::is_byzantine(attack_, rank_);
    std::vector<std::vector<float>> pooled;
    std::vector<std::span<const float>> colluders;
    if (attack_.attack == aggregate::Attack::kAlie) {
      auto gathered = pool_(byzantine, delta);
      if (!gathered) return gathered.error();
      pooled = std::move(*gathered);
      for (const auto& values : pooled) colluders.emplace_back(values);
    }
    if (!byzantine) return {};
    const aggregate::AttackContext context{rank_, static_cast<std::int64_t>(height), ranks_,
                                           colluders};
    return aggregate::apply_attack(attack_, context, delta);
  }

  // faults.flip_bit_*: the lowest mantissa bit of the first parameter.
  void on_new_model(std::uint64_t height, std::span<float> theta, bool replay) override {
    if (replay || rank_ != flip_bit_rank_ ||
        height != static_cast<std::uint64_t>(flip_bit_height_) || theta.empty()) {
      return;
    }
    std::uint32_t bits;
    std::memcpy(&bits, &theta[0], sizeof(bits));
    bits ^= 1u;
    std::memcpy(&theta[0], &bits, sizeof(bits));
    spdlog::warn("faults.flip_bit_rank: flipped a bit of this rank's model (experiment)");
  }

 private:
  aggregate::AttackConfig attack_;
  std::int64_t rank_;
  std::int64_t ranks_;
  std::int64_t flip_bit_rank_;
  std::int64_t flip_bit_height_;
  PoolFn pool_;
};

}  // namespace

std::unique_ptr<RoundFaults> make_round_faults(const FaultsSection& faults,
                                               aggregate::AttackConfig attack, std::int64_t rank,
                                               std::int64_t ranks, PoolFn pool) {
  return std::make_unique<JobRoundFaults>(faults, std::move(attack), rank, ranks, std::move(pool));
}

}  // namespace fedchain::faults
