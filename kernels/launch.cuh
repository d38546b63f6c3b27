// Launch plumbing shared by the kernels in this folder (not installed): checking a caller's
// launch shape, sizing a grid-stride grid, and turning a launch error into a Status.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "fedchain/core/error.hpp"
#include "fedchain/kernels/launch.hpp"

namespace fedchain::gpu {

inline Status launch_status(const char* kernel) {
  const cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess) return {};
  return runtime_error("{} kernel: CUDA error {} ({})", kernel, static_cast<int>(status),
                       cudaGetErrorString(status));
}

inline Status check_launch(const Launch& launch) {
  if (launch.block_size < 1 || launch.block_size > 1024 || launch.grid_size < 0) {
    return runtime_error(
        "launch shape {} blocks of {} threads: blocks must be >= 0 (0: auto) "
        "and threads 1 to 1024",
        launch.grid_size, launch.block_size);
  }
  return {};
}

// Blocks for `elements` work items: the caller's grid, or one thread per item up to a cap
// (the grid-stride loop covers the rest).
inline unsigned grid_for(const Launch& launch, std::size_t elements) {
  if (launch.grid_size > 0) return static_cast<unsigned>(launch.grid_size);
  const std::size_t blocks = (elements + launch.block_size - 1) / launch.block_size;
  constexpr std::size_t kMaxBlocks = 1 << 16;
  return static_cast<unsigned>(blocks < kMaxBlocks ? blocks : kMaxBlocks);
}

__device__ inline std::size_t first_index() {
  return static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline std::size_t grid_stride() {
  return static_cast<std::size_t>(gridDim.x) * blockDim.x;
}

}  // namespace fedchain::gpu
