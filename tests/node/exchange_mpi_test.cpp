// The NCCL transport's node side (node/exchange.cpp, NcclCollectives) on 3 MPI ranks, with
// a stand-in for NCCL that does its two collectives over MPI: the sums and, above all, the
// allgather's padding and trimming (ranks hosting 0, 1 and 2 clients) must give what the
// MPI path gives, bit for bit. gpu_nccl_exchange_test checks NCCL itself where a GPU is.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdint>
#include <vector>

#include "exchange.hpp"

namespace fedchain::node {
namespace {

// NcclExchange's contract (equal parts, exact sums) kept with MPI calls.
class MpiStandIn final : public gpu::NcclExchange {
 public:
  Status sum(std::span<const std::int64_t> mine, std::span<std::int64_t> total) override {
    MPI_Allreduce(mine.data(), total.data(), static_cast<int>(mine.size()), MPI_INT64_T, MPI_SUM,
                  MPI_COMM_WORLD);
    return {};
  }
  Status sum(std::span<const std::uint64_t> mine, std::span<std::uint64_t> total) override {
    MPI_Allreduce(mine.data(), total.data(), static_cast<int>(mine.size()), MPI_UINT64_T, MPI_SUM,
                  MPI_COMM_WORLD);
    return {};
  }
  Status gather(std::span<const std::int32_t> mine, std::span<std::int32_t> all) override {
    ++gathers;
    part = mine.size();
    MPI_Allgather(mine.data(), static_cast<int>(mine.size()), MPI_INT32_T, all.data(),
                  static_cast<int>(mine.size()), MPI_INT32_T, MPI_COMM_WORLD);
    return {};
  }
  int gathers = 0;
  std::size_t part = 0;
};

int this_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

TEST(NcclTransport, GatherPadsAndTrimsToWhatTheMpiPathGives) {
  const int rank = this_rank();
  constexpr std::size_t kLength = 37;
  // Rank r hosts r clients (rank 0 none), ids 10 r + i, values that name client and index.
  std::vector<std::uint32_t> clients;
  std::vector<std::int32_t> values;
  for (int i = 0; i < rank; ++i) {
    clients.push_back(static_cast<std::uint32_t>(10 * rank + i));
    for (std::size_t j = 0; j < kLength; ++j) {
      values.push_back(static_cast<std::int32_t>((10 * rank + i) * 1000 + j) * (j % 2 ? -1 : 1));
    }
  }
  auto stand_in = std::make_unique<MpiStandIn>();
  MpiStandIn& bulk = *stand_in;
  auto nccl = make_collectives_over(std::move(stand_in));
  auto mpi = make_mpi_collectives();
  auto over_nccl = nccl->gather_updates(clients, values, kLength, 4);
  auto over_mpi = mpi->gather_updates(clients, values, kLength, 4);
  ASSERT_TRUE(over_nccl) << over_nccl.error().message;
  ASSERT_TRUE(over_mpi) << over_mpi.error().message;
  EXPECT_EQ(over_nccl->clients, over_mpi->clients);
  EXPECT_EQ(over_nccl->senders, over_mpi->senders);
  EXPECT_EQ(over_nccl->values, over_mpi->values);
  EXPECT_EQ(over_mpi->clients, (std::vector<std::uint32_t>{10, 20, 21}));
  EXPECT_EQ(bulk.gathers, 1);
  EXPECT_EQ(bulk.part, 2 * kLength) << "every rank pads to the most clients any rank sent";
}

TEST(NcclTransport, SumsAreTheMpiPathsSums) {
  const int rank = this_rank();
  std::vector<std::int64_t> partial(1001);
  std::vector<std::uint64_t> masked(1001);
  for (std::size_t j = 0; j < partial.size(); ++j) {
    partial[j] = (static_cast<std::int64_t>(j) - 500) * (rank + 1) * 1'000'003;
    masked[j] = ~std::uint64_t{0} - static_cast<std::uint64_t>(j * rank);  // wraps in the sum
  }
  auto nccl = make_collectives_over(std::make_unique<MpiStandIn>());
  auto mpi = make_mpi_collectives();
  auto sum_nccl = nccl->sum(partial);
  auto sum_mpi = mpi->sum(partial);
  ASSERT_TRUE(sum_nccl && sum_mpi);
  EXPECT_EQ(*sum_nccl, *sum_mpi);
  auto modular_nccl = nccl->sum_modular(masked);
  auto modular_mpi = mpi->sum_modular(masked);
  ASSERT_TRUE(modular_nccl && modular_mpi);
  EXPECT_EQ(*modular_nccl, *modular_mpi);
}

}  // namespace
}  // namespace fedchain::node
