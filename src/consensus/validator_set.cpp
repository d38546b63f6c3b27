// Quorum arithmetic and weighted proposer rotation (see validator_set.hpp).
#include "fedchain/consensus/validator_set.hpp"

#include <numeric>

namespace fedchain::consensus {

namespace {
constexpr std::uint64_t kMaxTotalPower = std::uint64_t{1} << 60;
__extension__ using Wide = unsigned __int128;
}  // namespace

Result<ValidatorSet> ValidatorSet::make(std::vector<ValidatorInfo> validators) {
  if (validators.empty()) return config_error("validator set is empty");
  if (validators.size() > UINT32_MAX) return config_error("validator set is too large");
  ValidatorSet set;
  std::uint64_t unit = 0;
  for (const ValidatorInfo& v : validators) {
    if (v.jailed || v.power == 0) continue;
    if (v.power > kMaxTotalPower - set.total_power_) {
      return config_error("total voting power exceeds 2^60");
    }
    set.total_power_ += v.power;
    unit = std::gcd(unit, v.power);
  }
  if (set.total_power_ == 0) return config_error("validator set has no active voting power");
  set.validators_ = std::move(validators);
  set.unit_ = unit;
  set.period_ = set.total_power_ / unit;
  // A stride near the golden section spreads each validator's turns over the period.
  std::uint64_t stride = set.period_ * 618 / 1000;
  if (stride == 0) stride = 1;
  while (std::gcd(stride, set.period_) != 1) ++stride;
  set.stride_ = stride % set.period_ == 0 ? 1 : stride;
  return set;
}

ValidatorSet ValidatorSet::equal(std::uint32_t n) {
  return std::move(make(std::vector<ValidatorInfo>(n)).value());
}

bool ValidatorSet::is_active(std::uint32_t index) const {
  return power(index) > 0;
}

std::uint64_t ValidatorSet::power(std::uint32_t index) const {
  if (!contains(index) || validators_[index].jailed) return 0;
  return validators_[index].power;
}

std::uint32_t ValidatorSet::proposer(std::uint64_t height, std::uint32_t round) const {
  const std::uint64_t step = (height % period_ + round % period_) % period_;
  // (step * stride) mod P without overflow: both factors are below 2^60.
  const auto slot = static_cast<std::uint64_t>(static_cast<Wide>(step) * stride_ % period_);
  std::uint64_t covered = 0;
  for (std::uint32_t i = 0; i < size(); ++i) {
    covered += power(i) / unit_;
    if (slot < covered) return i;
  }
  return 0;  // unreachable: slot < P == covered after the loop
}

}  // namespace fedchain::consensus
