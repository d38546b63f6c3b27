// The exchange phase: the MPI collectives that move updates between ranks. Integer
// collectives only, so the result does not depend on the reduction order MPI picks
// (docs/architecture.md, invariant 1).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <mpi.h>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/error.hpp"

namespace fedchain::node {

// allreduce mode: sum[j] = sum over ranks of weight * q[j], exact in int64.
Result<std::vector<std::int64_t>> allreduce_weighted_sum(std::span<const std::int32_t> q,
                                                         std::int64_t weight, MPI_Comm comm);

// allgather mode: every rank's q, rank r's at [r * q.size(), (r + 1) * q.size()).
Result<std::vector<std::int32_t>> allgather_updates(std::span<const std::int32_t> q, MPI_Comm comm);

// Equal-length byte strings from every rank (encoded transactions), rank order.
Result<std::vector<Bytes>> allgather_fixed(ByteView mine, MPI_Comm comm);

// Sums of doubles over ranks (losses, evaluation counts). Only for reporting: floating
// sums may differ in the last bit with the reduction order, so nothing agreed on uses it.
Result<std::vector<double>> allreduce_sum(std::vector<double> values, MPI_Comm comm);

// True on every rank when `flag` is true on any rank.
Result<bool> any_rank(bool flag, MPI_Comm comm);

// The ranks whose `flag` is true, ascending; the same list on every rank.
Result<std::vector<int>> ranks_with(bool flag, MPI_Comm comm);

Error mpi_failure(const char* what, int code);

// faults::PoolFn over MPI: the colluding ranks' deltas, gathered on a communicator of their
// own; collective over every rank (MPI_Comm_split), so honest ranks take part too.
Result<std::vector<std::vector<float>>> pool_colluding_deltas(bool colluding,
                                                              std::span<const float> delta);

}  // namespace fedchain::node

namespace fedchain::node {

// Turns one rank's outcome into everyone's: when any rank failed, every rank returns the
// error of the lowest failing rank (prefixed with that rank), so no rank waits forever in
// a collective that a failed rank will never join. The error is marked every_rank.
Status agree(const Status& mine, MPI_Comm comm);

}  // namespace fedchain::node
