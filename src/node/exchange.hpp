// The exchange phase and every other collective a round takes part in, behind one
// interface: MpiCollectives (exchange.cpp) over MPI_COMM_WORLD in a run; tests drive a round
// in one process with a fake that plays the other ranks (tests/node). Integer collectives
// only for what is agreed on, so the result does not depend on the reduction order MPI
// picks (docs/architecture.md, invariant 1).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <mpi.h>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/kernels/nccl_exchange.hpp"

namespace fedchain::node {

// allgather mode: the clients' updates every rank sent, in rank order. A rank whose values
// do not come to `length` per client it named sent nothing usable: its entries are left out.
struct GatheredUpdates {
  std::vector<std::uint32_t> clients;  // every rank's, rank order
  std::vector<int> senders;            // the rank that sent clients[i]
  std::vector<std::int32_t> values;    // clients.size() x d: clients[i]'s at [i d, (i + 1) d)
};

// Each gather whose sizes a rank chooses takes a bound per rank (`max_per_rank` items: the
// round passes its cohort size, which no rank's share can exceed); a rank announcing more
// fails the gather on every rank, naming it, before anything is allocated for it.
class Collectives {
 public:
  virtual ~Collectives() = default;

  // allreduce mode: the element-wise sum of every rank's `partial` (its counted clients'
  // w_k * q_k), exact in int64.
  virtual Result<std::vector<std::int64_t>> sum(std::span<const std::int64_t> partial) = 0;
  // privacy.secure_aggregation: the element-wise sum of every rank's masked partial sum,
  // modulo 2^64 (unsigned: the masks wrap, and cancel in the sum).
  virtual Result<std::vector<std::uint64_t>> sum_modular(
      std::span<const std::uint64_t> partial) = 0;
  // allgather mode: every rank's `clients` and their updates (`values`, `length` per client).
  virtual Result<GatheredUpdates> gather_updates(std::span<const std::uint32_t> clients,
                                                 std::span<const std::int32_t> values,
                                                 std::size_t length, std::size_t max_per_rank) = 0;
  // Every rank's `mine`, each a list of `item_bytes`-byte items (encoded transactions),
  // rank order.
  virtual Result<std::vector<Bytes>> gather_bytes(ByteView mine, std::size_t item_bytes,
                                                  std::size_t max_per_rank) = 0;
  // Every rank's ids (non-finite clients), rank order.
  virtual Result<std::vector<std::vector<std::uint32_t>>> gather_ids(
      std::span<const std::uint32_t> mine, std::size_t max_per_rank) = 0;
  // Sums of doubles over ranks (losses, evaluation counts). Only for reporting: floating
  // sums may differ in the last bit with the reduction order, so nothing agreed on uses it.
  virtual Result<std::vector<double>> sum_for_report(std::vector<double> values) = 0;
  // The element-wise maximum over ranks (consensus counts per height), for reporting.
  virtual Result<std::vector<std::uint64_t>> max_for_report(std::vector<std::uint64_t> values) = 0;
  // The ranks whose `flag` is true, ascending; the same list on every rank.
  virtual Result<std::vector<int>> ranks_with(bool flag) = 0;
  // `values` from rank `root` on every rank.
  virtual Status broadcast(std::span<float> values, int root) = 0;
  // Rank `root`'s `mine` on every rank (a committed block for the followers). More than
  // `max_bytes` from the root comes back empty on every rank, nothing allocated for it.
  virtual Result<Bytes> broadcast_bytes(ByteView mine, int root, std::size_t max_bytes) = 0;
  // Turns one rank's outcome into everyone's (see node::agree).
  virtual Status agree(const Status& mine) = 0;
  // faults::PoolFn: every rank's colluding deltas (alie's attackers), each `length` floats,
  // in rank order; every rank takes part, one without attackers passes none.
  virtual Result<std::vector<std::vector<float>>> pool_colluding(
      std::span<const std::span<const float>> mine, std::size_t length,
      std::size_t max_per_rank) = 0;
};

// Over MPI_COMM_WORLD.
std::unique_ptr<Collectives> make_mpi_collectives();
// aggregate.transport = "nccl": the update sums and the updates' allgather over NCCL on
// each rank's GPU, the rest over MPI_COMM_WORLD. Collective; every rank gets the same
// error where a rank has no GPU or the build no CUDA.
Result<std::unique_ptr<Collectives>> make_nccl_collectives();
// The ranks that hold each value of `value_by_rank`, values in first-seen order.
struct RankGroup {
  std::string value;
  std::vector<std::size_t> ranks;
};
std::vector<RankGroup> group_ranks(std::span<const std::string> value_by_rank);

// NCCL puts each rank of a communicator on a GPU of its own: a config error naming the
// ranks that would share one (`device_by_rank`: each rank's device UUID), else ok.
Status check_one_rank_per_gpu(std::span<const std::string> device_by_rank);
// The same over any `bulk` exchange (make_nccl_collectives passes NCCL's; tests, a stand-in
// over MPI that checks the padding and trimming of the allgather without a GPU).
std::unique_ptr<Collectives> make_collectives_over(std::unique_ptr<gpu::NcclExchange> bulk);

Error mpi_failure(const char* what, int code);

// True on every rank when `flag` is true on any rank.
Result<bool> any_rank(bool flag, MPI_Comm comm);

// When any rank failed, every rank returns the error of the lowest failing rank (prefixed
// with that rank), so no rank waits forever in a collective that a failed rank will never
// join. The error is marked every_rank.
Status agree(const Status& mine, MPI_Comm comm);

}  // namespace fedchain::node
