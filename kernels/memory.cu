// Device allocations and copies behind fedchain/kernels/memory.hpp, so that code which
// moves data to and from the GPU needs no CUDA header.
#include <cuda_runtime.h>

#include "fedchain/kernels/memory.hpp"

namespace fedchain::gpu {

namespace {

Status check(cudaError_t status, const char* what, std::size_t bytes) {
  if (status == cudaSuccess) return {};
  return runtime_error("{} of {} bytes failed: CUDA error {} ({})", what, bytes,
                       static_cast<int>(status), cudaGetErrorString(status));
}

Status check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return {};
  return runtime_error("{} failed: CUDA error {} ({})", what, static_cast<int>(status),
                       cudaGetErrorString(status));
}

}  // namespace

Result<void*> device_allocate(std::size_t bytes) {
  void* pointer = nullptr;
  // A zero-byte array still gets a distinct pointer, so empty updates need no special case.
  if (auto status = check(cudaMalloc(&pointer, bytes == 0 ? 1 : bytes), "cudaMalloc", bytes);
      !status) {
    return status.error();
  }
  return pointer;
}

void device_free(void* pointer) {
  if (pointer != nullptr) cudaFree(pointer);
}

Status copy_to_device(void* device, const void* host, std::size_t bytes) {
  if (bytes == 0) return {};
  return check(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice), "copy to device", bytes);
}

Status copy_to_host(void* host, const void* device, std::size_t bytes) {
  if (bytes == 0) return {};
  return check(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost), "copy to host", bytes);
}

Status copy_on_device(void* to, const void* from, std::size_t bytes) {
  if (bytes == 0) return {};
  return check(cudaMemcpy(to, from, bytes, cudaMemcpyDeviceToDevice), "copy on device", bytes);
}

Status synchronize() {
  return check(cudaDeviceSynchronize(), "waiting for the kernels launched so far");
}

}  // namespace fedchain::gpu
