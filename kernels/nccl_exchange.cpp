// NcclExchange (include/fedchain/kernels/nccl_exchange.hpp): host spans staged through
// device arrays that grow to the largest call and are kept, one communicator.
#include <cuda_runtime.h>

#include <cstring>
#include <utility>

#include "fedchain/kernels/memory.hpp"
#include "fedchain/kernels/nccl_exchange.hpp"

#ifdef FEDCHAIN_HAVE_NCCL
#include <nccl.h>
#endif

namespace fedchain::gpu {

#ifdef FEDCHAIN_HAVE_NCCL

namespace {

static_assert(sizeof(ncclUniqueId) == kNcclIdBytes, "NCCL_UNIQUE_ID_BYTES changed");

Error nccl_failure(const char* what, ncclResult_t result) {
  return runtime_error("{}: NCCL error {} ({})", what, static_cast<int>(result),
                       ncclGetErrorString(result));
}

// Makes `buffer` hold at least `bytes`, keeping it when it already does.
Status reserve(DeviceArray<std::uint8_t>& buffer, std::size_t bytes) {
  if (buffer.size() >= bytes) return {};
  auto fresh = DeviceArray<std::uint8_t>::allocate(bytes);
  if (!fresh) return fresh.error();
  buffer = std::move(*fresh);
  return {};
}

// The collectives run on the legacy default stream, where copy_to_device and copy_to_host
// (cudaMemcpy) order with them: the copy in finishes before the collective starts, and the
// copy out waits for it.
class Exchange final : public NcclExchange {
 public:
  explicit Exchange(ncclComm_t comm) : comm_(comm) {}
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;
  ~Exchange() override { ncclCommDestroy(comm_); }

  Status sum(std::span<const std::int64_t> mine, std::span<std::int64_t> total) override {
    return reduce(mine.data(), total.data(), mine.size(), total.size(), sizeof(std::int64_t),
                  ncclInt64);
  }
  Status sum(std::span<const std::uint64_t> mine, std::span<std::uint64_t> total) override {
    return reduce(mine.data(), total.data(), mine.size(), total.size(), sizeof(std::uint64_t),
                  ncclUint64);
  }

  Status gather(std::span<const std::int32_t> mine, std::span<std::int32_t> all) override {
    int ranks = 0;
    if (auto result = ncclCommCount(comm_, &ranks); result != ncclSuccess) {
      return nccl_failure("ncclCommCount", result);
    }
    if (all.size() != mine.size() * static_cast<std::size_t>(ranks)) {
      return runtime_error("NCCL allgather: {} values from each of {} ranks need {}, not {}",
                           mine.size(), ranks, mine.size() * static_cast<std::size_t>(ranks),
                           all.size());
    }
    if (auto st = stage(mine.data(), mine.size_bytes(), all.size_bytes()); !st) return st;
    if (auto result =
            ncclAllGather(send_.data(), receive_.data(), mine.size(), ncclInt32, comm_, nullptr);
        result != ncclSuccess) {
      return nccl_failure("ncclAllGather (updates)", result);
    }
    return copy_to_host(all.data(), receive_.data(), all.size_bytes());
  }

 private:
  Status reduce(const void* mine, void* total, std::size_t count, std::size_t total_count,
                std::size_t value_bytes, ncclDataType_t type) {
    if (count != total_count) {
      return runtime_error("NCCL allreduce: {} values in, room for {}", count, total_count);
    }
    const std::size_t bytes = count * value_bytes;
    if (auto st = stage(mine, bytes, bytes); !st) return st;
    if (auto result =
            ncclAllReduce(send_.data(), receive_.data(), count, type, ncclSum, comm_, nullptr);
        result != ncclSuccess) {
      return nccl_failure("ncclAllReduce (update sum)", result);
    }
    return copy_to_host(total, receive_.data(), bytes);
  }

  // Room for `send_bytes` and `receive_bytes`, and this rank's part copied in.
  Status stage(const void* mine, std::size_t send_bytes, std::size_t receive_bytes) {
    if (auto st = reserve(send_, send_bytes); !st) return st;
    if (auto st = reserve(receive_, receive_bytes); !st) return st;
    return copy_to_device(send_.data(), mine, send_bytes);
  }

  ncclComm_t comm_;
  DeviceArray<std::uint8_t> send_;
  DeviceArray<std::uint8_t> receive_;
};

}  // namespace

Result<NcclId> nccl_new_id() {
  ncclUniqueId id;
  if (auto result = ncclGetUniqueId(&id); result != ncclSuccess) {
    return nccl_failure("ncclGetUniqueId", result);
  }
  NcclId bytes{};
  std::memcpy(bytes.data(), &id, kNcclIdBytes);
  return bytes;
}

Result<std::unique_ptr<NcclExchange>> NcclExchange::create(int device, const NcclId& id, int rank,
                                                           int ranks) {
  if (auto status = cudaSetDevice(device); status != cudaSuccess) {
    return runtime_error("cudaSetDevice({}) for the NCCL exchange: CUDA error {} ({})", device,
                         static_cast<int>(status), cudaGetErrorString(status));
  }
  ncclUniqueId unique;
  std::memcpy(&unique, id.data(), kNcclIdBytes);
  ncclComm_t comm = nullptr;
  if (auto result = ncclCommInitRank(&comm, ranks, unique, rank); result != ncclSuccess) {
    return nccl_failure("ncclCommInitRank", result);
  }
  return std::unique_ptr<NcclExchange>(new Exchange(comm));
}

#else  // no NCCL in this build

Result<NcclId> nccl_new_id() {
  return config_error(
      "aggregate.transport = \"nccl\": this fedchain was built without NCCL (no nccl.h or "
      "libnccl when it was configured; set NCCL_HOME); use aggregate.transport = \"mpi\"");
}

Result<std::unique_ptr<NcclExchange>> NcclExchange::create(int, const NcclId&, int, int) {
  return nccl_new_id().error();
}

#endif

}  // namespace fedchain::gpu
