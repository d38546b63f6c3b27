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
                 PoolFn pool)
      : attack_(std::move(attack)),
        rank_(rank),
        flip_bit_rank_(faults.flip_bit_rank),
        flip_bit_height_(faults.flip_bit_height),
        pool_(std::move(pool)) {}

  void on_training_labels(
      std::span<std::int32_t> labels, std::int64_t classes,
      const std::map<std::uint32_t, std::vector<std::int64_t>>& hosted_samples) override {
    if (attack_.attack != aggregate::Attack::kLabelFlip) return;
    for (const auto& [client, samples] : hosted_samples) {
      if (!aggregate::is_byzantine(attack_, client)) continue;
      for (const std::int64_t i : samples) {
        auto& label = labels[static_cast<std::size_t>(i)];
        label = aggregate::flip_label(label, static_cast<int>(classes));
      }
    }
  }

  bool pools_deltas() const override { return attack_.attack == aggregate::Attack::kAlie; }

  bool alters_update(std::uint32_t client) const override {
    return aggregate::attacks_update(attack_, client);
  }

  // Byzantine clients' deltas are replaced; alie's attackers pool their honest deltas
  // first.
  Status on_updates(std::uint64_t height, std::span<ClientDelta> deltas,
                    std::size_t cohort_size) override {
    std::vector<std::vector<float>> pooled;
    std::vector<std::span<const float>> colluders;
    if (attack_.attack == aggregate::Attack::kAlie) {
      std::vector<std::span<const float>> mine;
      std::size_t length = 0;
      for (const auto& member : deltas) {
        length = member.delta.size();
        if (aggregate::is_byzantine(attack_, member.client)) mine.emplace_back(member.delta);
      }
      auto gathered = pool_(mine, length, cohort_size);
      if (!gathered) return gathered.error();
      pooled = std::move(*gathered);
      for (const auto& values : pooled) colluders.emplace_back(values);
    }
    for (auto& member : deltas) {
      if (!aggregate::is_byzantine(attack_, member.client)) continue;
      const aggregate::AttackContext context{member.client, static_cast<std::int64_t>(height),
                                             static_cast<std::int64_t>(cohort_size), colluders};
      if (auto st = aggregate::apply_attack(attack_, context, member.delta); !st) return st;
    }
    return {};
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
  std::int64_t flip_bit_rank_;
  std::int64_t flip_bit_height_;
  PoolFn pool_;
};

}  // namespace

std::unique_ptr<RoundFaults> make_round_faults(const FaultsSection& faults,
                                               aggregate::AttackConfig attack, std::int64_t rank,
                                               PoolFn pool) {
  return std::make_unique<JobRoundFaults>(faults, std::move(attack), rank, std::move(pool));
}

}  // namespace fedchain::faults
