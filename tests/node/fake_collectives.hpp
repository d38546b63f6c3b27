// A Collectives for one process: this node is rank `self`, and the fake plays every other
// rank, each sending the update the test gave it. Lets a test drive node::run_round with no
// MPI and assert on what the round computed from known peer updates.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "exchange.hpp"
#include "fedchain/aggregate/rules.hpp"

namespace fedchain::node::testing {

class FakeCollectives final : public Collectives {
  const int self_;

 public:
  FakeCollectives(int self, int ranks)
      : self_(self),
        peer_updates(static_cast<std::size_t>(ranks)),
        peer_weights(static_cast<std::size_t>(ranks), 0) {}

  std::vector<std::vector<std::int32_t>> peer_updates;  // (ranks) self's entry unused
  std::vector<std::int64_t> peer_weights;               // (ranks) for weighted_sum
  std::vector<int> peers_flagged;                       // peers whose ranks_with flag is true
  std::vector<std::int32_t> last_own_update;            // what this node sent last

  Result<std::vector<std::int64_t>> weighted_sum(std::span<const std::int32_t> q,
                                                 std::int64_t weight) override {
    last_own_update.assign(q.begin(), q.end());
    std::vector<std::int64_t> sum(q.size(), 0);
    for (std::size_t r = 0; r < peer_updates.size(); ++r) {
      const bool self = static_cast<int>(r) == self_;
      auto st = aggregate::add_weighted(sum, self ? weight : peer_weights[r],
                                        self ? q : std::span<const std::int32_t>(peer_updates[r]));
      if (!st) return st.error();
    }
    return sum;
  }

  Result<std::vector<std::int32_t>> gather_updates(std::span<const std::int32_t> q) override {
    last_own_update.assign(q.begin(), q.end());
    std::vector<std::int32_t> all;
    for (std::size_t r = 0; r < peer_updates.size(); ++r) {
      const auto& values = static_cast<int>(r) == self_ ? last_own_update : peer_updates[r];
      all.insert(all.end(), values.begin(), values.end());
    }
    return all;
  }

  Result<std::vector<Bytes>> gather_bytes(ByteView mine) override {
    return std::vector<Bytes>(peer_updates.size(), Bytes(mine.begin(), mine.end()));
  }

  Result<std::vector<double>> sum_for_report(std::vector<double> values) override {
    for (auto& v : values) v *= static_cast<double>(peer_updates.size());
    return values;
  }

  Result<std::vector<int>> ranks_with(bool flag) override {
    std::vector<int> ranks = peers_flagged;
    if (flag) ranks.push_back(self_);
    std::sort(ranks.begin(), ranks.end());
    return ranks;
  }

  Status broadcast(std::span<float>, int) override { return {}; }
  Status agree(const Status& mine) override { return mine; }

  Result<std::vector<std::vector<float>>> pool_colluding(bool colluding,
                                                         std::span<const float> delta) override {
    std::vector<std::vector<float>> pooled;
    if (colluding) pooled.emplace_back(delta.begin(), delta.end());
    return pooled;
  }
};

}  // namespace fedchain::node::testing
