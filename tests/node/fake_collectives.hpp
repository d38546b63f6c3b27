// A Collectives for one process: this node is rank `self`, and the fake plays every other
// rank, each sending the updates of the clients the test gave it. Lets a test drive
// node::run_round with no MPI and assert on what the round computed from known updates.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "exchange.hpp"
#include "fedchain/aggregate/rules.hpp"

namespace fedchain::node::testing {

class FakeCollectives final : public Collectives {
  const int self_;
  const int ranks_;

 public:
  FakeCollectives(int self, int ranks) : self_(self), ranks_(ranks) {}

  // The other ranks' clients: client -> its update, and the weight fedavg gives it.
  std::map<std::uint32_t, std::vector<std::int32_t>> peer_updates;
  std::map<std::uint32_t, std::int64_t> peer_weights;
  std::vector<std::uint32_t> peers_nonfinite;  // clients their hosts report non-finite
  // What a hostile rank sends besides: (sender, client, update) for a client it may not
  // host, and (sender, client) non-finite reports.
  std::vector<std::tuple<int, std::uint32_t, std::vector<std::int32_t>>> forged_updates;
  std::vector<std::pair<int, std::uint32_t>> forged_nonfinite;
  // What this node sent last: its partial sum (allreduce) or its clients' updates.
  std::vector<std::int64_t> last_partial;
  std::map<std::uint32_t, std::vector<std::int32_t>> last_sent;

  Result<std::vector<std::int64_t>> sum(std::span<const std::int64_t> partial) override {
    last_partial.assign(partial.begin(), partial.end());
    std::vector<std::int64_t> total = last_partial;
    for (const auto& [client, q] : peer_updates) {
      if (auto st = aggregate::add_weighted(total, peer_weights.at(client), q); !st) {
        return st.error();
      }
    }
    return total;
  }

  // The other ranks' masked partial sums, added modulo 2^64 to this node's.
  std::vector<std::vector<std::uint64_t>> peer_masked_partials;
  std::vector<std::uint64_t> last_masked_partial;

  Result<std::vector<std::uint64_t>> sum_modular(std::span<const std::uint64_t> partial) override {
    last_masked_partial.assign(partial.begin(), partial.end());
    std::vector<std::uint64_t> total = last_masked_partial;
    for (const auto& peer : peer_masked_partials) {
      for (std::size_t j = 0; j < total.size() && j < peer.size(); ++j) total[j] += peer[j];
    }
    return total;
  }

  Result<GatheredUpdates> gather_updates(std::span<const std::uint32_t> clients,
                                         std::span<const std::int32_t> values, std::size_t d,
                                         std::size_t) override {
    last_sent.clear();
    for (std::size_t i = 0; i < clients.size(); ++i) {
      last_sent[clients[i]].assign(values.begin() + static_cast<std::ptrdiff_t>(i * d),
                                   values.begin() + static_cast<std::ptrdiff_t>((i + 1) * d));
    }
    // Each client's update from its host, as honest ranks send them.
    GatheredUpdates out;
    for (const auto* updates : {&peer_updates, &last_sent}) {
      for (const auto& [client, q] : *updates) {
        out.clients.push_back(client);
        out.senders.push_back(static_cast<int>(client % static_cast<std::uint32_t>(ranks_)));
        out.values.insert(out.values.end(), q.begin(), q.end());
      }
    }
    for (const auto& [sender, client, q] : forged_updates) {
      out.clients.push_back(client);
      out.senders.push_back(sender);
      out.values.insert(out.values.end(), q.begin(), q.end());
    }
    return out;
  }

  Result<std::vector<Bytes>> gather_bytes(ByteView mine, std::size_t, std::size_t) override {
    std::vector<Bytes> all(static_cast<std::size_t>(ranks_));
    all[static_cast<std::size_t>(self_)].assign(mine.begin(), mine.end());
    return all;
  }

  Result<std::vector<std::vector<std::uint32_t>>> gather_ids(std::span<const std::uint32_t> mine,
                                                             std::size_t) override {
    std::vector<std::vector<std::uint32_t>> ids(static_cast<std::size_t>(ranks_));
    for (const auto client : peers_nonfinite) ids[client % ranks_].push_back(client);
    ids[static_cast<std::size_t>(self_)].assign(mine.begin(), mine.end());
    for (const auto& [sender, client] : forged_nonfinite) {
      ids[static_cast<std::size_t>(sender)].push_back(client);
    }
    return ids;
  }

  Result<std::vector<double>> sum_for_report(std::vector<double> values) override {
    for (auto& v : values) v *= static_cast<double>(ranks_);
    return values;
  }

  Result<std::vector<int>> ranks_with(bool flag) override {
    return flag ? std::vector<int>{self_} : std::vector<int>{};
  }

  Status broadcast(std::span<float>, int) override { return {}; }
  Result<Bytes> broadcast_bytes(ByteView mine, int, std::size_t) override {
    return Bytes(mine.begin(), mine.end());
  }
  Result<std::vector<std::uint64_t>> max_for_report(std::vector<std::uint64_t> values) override {
    return values;
  }
  Status agree(const Status& mine) override { return mine; }

  Result<std::vector<std::vector<float>>> pool_colluding(
      std::span<const std::span<const float>> mine, std::size_t, std::size_t) override {
    std::vector<std::vector<float>> pooled;
    for (const auto& delta : mine) pooled.emplace_back(delta.begin(), delta.end());
    return pooled;
  }
};

}  // namespace fedchain::node::testing
