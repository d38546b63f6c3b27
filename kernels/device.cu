// GPU discovery and a launch self-test. cudaGetDeviceCount may fail (no driver, error 35
// "insufficient driver" on build machines): any error or a count of 0 means no GPU.
#include <cuda_runtime.h>

#include <cstdlib>
#include <vector>

#include "fedchain/kernels/device.hpp"

#ifdef FEDCHAIN_HAVE_NCCL
#include <nccl.h>
#endif

namespace fedchain::gpu {

namespace {

__global__ void write_indices(int* out, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = i;
}

std::string uuid_text(const cudaUUID_t& uuid) {
  const auto* b = reinterpret_cast<const unsigned char*>(uuid.bytes);
  return fmt::format(
      "GPU-{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-"
      "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
      b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
      b[15]);
}

Error cuda_failure(const char* what, cudaError_t status) {
  return runtime_error("{}: CUDA error {} ({})", what, static_cast<int>(status),
                       cudaGetErrorString(status));
}

}  // namespace

DeviceProbe probe_devices() {
  DeviceProbe probe;
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    probe.why_none = fmt::format("cudaGetDeviceCount failed with error {} ({})",
                                 static_cast<int>(status), cudaGetErrorString(status));
    cudaGetLastError();  // clear the sticky error so later calls are not confused by it
    return probe;
  }
  if (count == 0) {
    probe.why_none = "no CUDA device present";
    return probe;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp props{};
    if (cudaGetDeviceProperties(&props, i) != cudaSuccess) continue;
    probe.devices.push_back(
        {i, props.name, props.totalGlobalMem, props.major, props.minor, uuid_text(props.uuid)});
  }
  return probe;
}

const DeviceInfo& device_for_this_rank(const DeviceProbe& probe) {
  int local_rank = 0;
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}) {
    if (const char* value = std::getenv(name); value != nullptr) {
      local_rank = std::atoi(value);
      break;
    }
  }
  const auto count = static_cast<int>(probe.devices.size());
  return probe.devices[static_cast<std::size_t>(((local_rank % count) + count) % count)];
}

Status self_test(int index) {
  constexpr int kCount = 1000;  // not a multiple of the block size, so the tail is exercised
  if (auto status = cudaSetDevice(index); status != cudaSuccess) {
    return cuda_failure("cudaSetDevice", status);
  }
  int* device_values = nullptr;
  if (auto status = cudaMalloc(&device_values, kCount * sizeof(int)); status != cudaSuccess) {
    return cuda_failure("cudaMalloc", status);
  }
  write_indices<<<(kCount + 255) / 256, 256>>>(device_values, kCount);
  std::vector<int> host(kCount, -1);
  auto status = cudaGetLastError();
  if (status == cudaSuccess) {
    status = cudaMemcpy(host.data(), device_values, kCount * sizeof(int), cudaMemcpyDeviceToHost);
  }
  cudaFree(device_values);
  if (status != cudaSuccess) return cuda_failure("self-test kernel", status);
  for (int i = 0; i < kCount; ++i) {
    if (host[static_cast<std::size_t>(i)] != i) {
      return runtime_error("self-test kernel on device {} wrote {} at index {}", index,
                           host[static_cast<std::size_t>(i)], i);
    }
  }
  return {};
}

std::string nccl_version() {
#ifdef FEDCHAIN_HAVE_NCCL
  int code = 0;
  if (ncclGetVersion(&code) != ncclSuccess) return "unknown";
  // NCCL >= 2.9 encodes MAJOR*10000 + MINOR*100 + PATCH.
  return fmt::format("{}.{}.{}", code / 10000, (code % 10000) / 100, code % 100);
#else
  return "";
#endif
}

}  // namespace fedchain::gpu
