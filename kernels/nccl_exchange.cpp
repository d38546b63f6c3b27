// NcclExchange (include/fedchain/kernels/nccl_exchange.hpp): host spans staged through
// device buffers that grow to the largest call and are kept, one stream, one communicator.
#include <cuda_runtime.h>

#include <cstring>
#include <utility>

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

Error cuda_failure(const char* what, cudaError_t status) {
  return runtime_error("{}: CUDA error {} ({})", what, static_cast<int>(status),
                       cudaGetErrorString(status));
}

// A device buffer that grows to the largest request and keeps its memory.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (data_ != nullptr) cudaFree(data_);
  }
  Result<void*> at_least(std::size_t bytes) {
    if (bytes <= bytes_) return data_;
    if (data_ != nullptr) cudaFree(data_);
    data_ = nullptr;
    bytes_ = 0;
    if (auto status = cudaMalloc(&data_, bytes); status != cudaSuccess) {
      data_ = nullptr;
      return cuda_failure("cudaMalloc (NCCL exchange buffer)", status);
    }
    bytes_ = bytes;
    return data_;
  }

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

class Exchange final : public NcclExchange {
 public:
  Exchange(ncclComm_t comm, cudaStream_t stream) : comm_(comm), stream_(stream) {}
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;
  ~Exchange() override {
    cudaStreamSynchronize(stream_);
    ncclCommDestroy(comm_);
    cudaStreamDestroy(stream_);
  }

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
    const std::size_t bytes = mine.size_bytes();
    auto send = send_.at_least(bytes);
    if (!send) return send.error();
    auto receive = receive_.at_least(all.size_bytes());
    if (!receive) return receive.error();
    if (auto st = to_device(*send, mine.data(), bytes); !st) return st;
    if (auto result = ncclAllGather(*send, *receive, mine.size(), ncclInt32, comm_, stream_);
        result != ncclSuccess) {
      return nccl_failure("ncclAllGather (updates)", result);
    }
    return to_host(all.data(), *receive, all.size_bytes());
  }

 private:
  Status reduce(const void* mine, void* total, std::size_t count, std::size_t total_count,
                std::size_t value_bytes, ncclDataType_t type) {
    if (count != total_count) {
      return runtime_error("NCCL allreduce: {} values in, room for {}", count, total_count);
    }
    const std::size_t bytes = count * value_bytes;
    auto send = send_.at_least(bytes);
    if (!send) return send.error();
    auto receive = receive_.at_least(bytes);
    if (!receive) return receive.error();
    if (auto st = to_device(*send, mine, bytes); !st) return st;
    if (auto result = ncclAllReduce(*send, *receive, count, type, ncclSum, comm_, stream_);
        result != ncclSuccess) {
      return nccl_failure("ncclAllReduce (update sum)", result);
    }
    return to_host(total, *receive, bytes);
  }

  Status to_device(void* device, const void* host, std::size_t bytes) {
    if (bytes == 0) return {};
    if (auto status = cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream_);
        status != cudaSuccess) {
      return cuda_failure("cudaMemcpyAsync (to the NCCL buffer)", status);
    }
    return {};
  }

  // Waits for the collective too: the host reads `host` as soon as this returns.
  Status to_host(void* host, const void* device, std::size_t bytes) {
    if (bytes > 0) {
      if (auto status = cudaMemcpyAsync(host, device, bytes, cudaMemcpyDeviceToHost, stream_);
          status != cudaSuccess) {
        return cuda_failure("cudaMemcpyAsync (from the NCCL buffer)", status);
      }
    }
    if (auto status = cudaStreamSynchronize(stream_); status != cudaSuccess) {
      return cuda_failure("cudaStreamSynchronize (NCCL exchange)", status);
    }
    return {};
  }

  ncclComm_t comm_;
  cudaStream_t stream_;
  DeviceBuffer send_;
  DeviceBuffer receive_;
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
    return cuda_failure("cudaSetDevice (NCCL exchange)", status);
  }
  cudaStream_t stream = nullptr;
  if (auto status = cudaStreamCreate(&stream); status != cudaSuccess) {
    return cuda_failure("cudaStreamCreate (NCCL exchange)", status);
  }
  ncclUniqueId unique;
  std::memcpy(&unique, id.data(), kNcclIdBytes);
  ncclComm_t comm = nullptr;
  if (auto result = ncclCommInitRank(&comm, ranks, unique, rank); result != ncclSuccess) {
    cudaStreamDestroy(stream);
    return nccl_failure("ncclCommInitRank", result);
  }
  return std::unique_ptr<NcclExchange>(new Exchange(comm, stream));
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
