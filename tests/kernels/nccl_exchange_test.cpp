// The NCCL exchange (kernels/nccl_exchange.cpp) on the GPUs of this node: one communicator
// rank per GPU, each in its own thread (NCCL refuses two ranks on one GPU). With one GPU
// the sums and the gather are of one rank, which still checks the staging, the types and
// the growing buffers; with more, the sums against the host's.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <thread>
#include <vector>

#include "fedchain/kernels/device.hpp"
#include "fedchain/kernels/nccl_exchange.hpp"

namespace fedchain::gpu {
namespace {

// Rank r's values: different per rank and per index, negative and near the int64 limits
// (their sum stays in range for up to 8 ranks).
std::vector<std::int64_t> values_of_rank(int rank, std::size_t n) {
  std::vector<std::int64_t> values(n);
  for (std::size_t j = 0; j < n; ++j) {
    const auto k = static_cast<std::int64_t>(j);
    values[j] = j % 3 == 0
                    ? (std::numeric_limits<std::int64_t>::max() / 8 - k) * (rank % 2 ? -1 : 1)
                    : k * 7919 - rank * 104729;
  }
  return values;
}

// Runs `body(rank, exchange)` on every GPU at once, one communicator.
template <typename Body>
void on_every_gpu(Body body) {
  const auto probe = probe_devices();
  ASSERT_FALSE(probe.devices.empty()) << probe.why_none;
  auto id = nccl_new_id();
  ASSERT_TRUE(id) << id.error().message;
  const int ranks = static_cast<int>(probe.devices.size());
  std::vector<std::thread> threads;
  std::vector<std::string> failures(static_cast<std::size_t>(ranks));
  for (int rank = 0; rank < ranks; ++rank) {
    threads.emplace_back([&, rank] {
      auto exchange = NcclExchange::create(probe.devices[static_cast<std::size_t>(rank)].index, *id,
                                           rank, ranks);
      if (!exchange) {
        failures[static_cast<std::size_t>(rank)] = exchange.error().message;
        return;
      }
      failures[static_cast<std::size_t>(rank)] = body(rank, ranks, **exchange);
    });
  }
  for (auto& thread : threads) thread.join();
  for (int rank = 0; rank < ranks; ++rank) {
    EXPECT_EQ(failures[static_cast<std::size_t>(rank)], "") << "rank " << rank;
  }
}

TEST(NcclExchange, SumsAreTheExactIntegerSumsAtEverySize) {
  on_every_gpu([](int rank, int ranks, NcclExchange& exchange) -> std::string {
    for (std::size_t n : {std::size_t{1}, std::size_t{1000}, std::size_t{159010}, std::size_t{7}}) {
      std::vector<std::int64_t> total(n);
      if (auto st = exchange.sum(values_of_rank(rank, n), total); !st) return st.error().message;
      for (std::size_t j = 0; j < n; ++j) {
        std::int64_t expected = 0;
        for (int r = 0; r < ranks; ++r) expected += values_of_rank(r, n)[j];
        if (total[j] != expected) return "int64 sum differs at " + std::to_string(j);
      }
      // Modulo 2^64: each rank adds 2^63 + rank, which wraps.
      std::vector<std::uint64_t> mine(n,
                                      (std::uint64_t{1} << 63) + static_cast<std::uint64_t>(rank));
      std::vector<std::uint64_t> wrapped(n);
      if (auto st = exchange.sum(mine, wrapped); !st) return st.error().message;
      std::uint64_t expected = 0;
      for (int r = 0; r < ranks; ++r)
        expected += (std::uint64_t{1} << 63) + static_cast<std::uint64_t>(r);
      for (std::size_t j = 0; j < n; ++j) {
        if (wrapped[j] != expected) return "uint64 sum differs at " + std::to_string(j);
      }
    }
    return "";
  });
}

TEST(NcclExchange, GatherPutsEveryRanksPartInRankOrder) {
  on_every_gpu([](int rank, int ranks, NcclExchange& exchange) -> std::string {
    const std::size_t n = 5003;
    std::vector<std::int32_t> mine(n);
    for (std::size_t j = 0; j < n; ++j) mine[j] = static_cast<std::int32_t>(j) * (rank + 1) - 77;
    std::vector<std::int32_t> all(n * static_cast<std::size_t>(ranks));
    if (auto st = exchange.gather(mine, all); !st) return st.error().message;
    for (int r = 0; r < ranks; ++r) {
      for (std::size_t j = 0; j < n; ++j) {
        if (all[static_cast<std::size_t>(r) * n + j] !=
            static_cast<std::int32_t>(j) * (r + 1) - 77) {
          return "gathered value differs: rank " + std::to_string(r) + " index " +
                 std::to_string(j);
        }
      }
    }
    std::vector<std::int32_t> too_small(n);
    if (ranks > 1 && exchange.gather(mine, too_small)) return "a gather without room succeeded";
    return "";
  });
}

}  // namespace
}  // namespace fedchain::gpu
