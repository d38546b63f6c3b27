// The exchange's integer collectives over NCCL (aggregate.transport = "nccl";
// docs/aggregation.md, "Transport"): element-wise sums in int64 and modulo 2^64, and an
// allgather of int32 updates, each staged through device arrays (kernels/memory.hpp). Integer
// sums are exact whatever order NCCL's ring or tree adds in, so the results are the bits the
// MPI path gives. One GPU per rank; the communicator's id comes from one rank to all the
// others by the caller's means (an MPI broadcast in node/exchange.cpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "fedchain/core/error.hpp"

namespace fedchain::gpu {

// ncclUniqueId's bytes (NCCL_UNIQUE_ID_BYTES).
inline constexpr std::size_t kNcclIdBytes = 128;
using NcclId = std::array<std::uint8_t, kNcclIdBytes>;

// A new communicator's id, made on one rank and given to every rank. An error where the
// build has no NCCL.
Result<NcclId> nccl_new_id();

class NcclExchange {
 public:
  // Joins the communicator `id` as `rank` of `ranks` on GPU `device`. Collective: every rank
  // must call it, or the others wait in NCCL.
  static Result<std::unique_ptr<NcclExchange>> create(int device, const NcclId& id, int rank,
                                                      int ranks);
  virtual ~NcclExchange() = default;

  // total[j] = sum over ranks of mine[j]: int64 (the callers keep the sums in range) and
  // uint64 modulo 2^64. mine and total have the same size on every rank.
  virtual Status sum(std::span<const std::int64_t> mine, std::span<std::int64_t> total) = 0;
  virtual Status sum(std::span<const std::uint64_t> mine, std::span<std::uint64_t> total) = 0;
  // all = every rank's `mine`, rank order; `mine` has the same size on every rank.
  virtual Status gather(std::span<const std::int32_t> mine, std::span<std::int32_t> all) = 0;
};

}  // namespace fedchain::gpu
