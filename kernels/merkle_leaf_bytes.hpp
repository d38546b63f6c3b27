// The device side of gpu::merkle_leaves (fedchain/kernels/merkle.hpp), in C++17 for nvcc:
// CMake 3.25 builds CUDA as C++17, and Hash32's header needs C++20.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fedchain/core/error.hpp"
#include "fedchain/kernels/launch.hpp"

namespace fedchain::gpu {

inline constexpr std::size_t kLeafHashBytes = 32;

// Hashes `leaves` chunks of the `size` bytes at device pointer `data` and copies the
// 32-byte leaf hashes, in order, to `host_out` (leaves * 32 bytes). Waits for the device.
Status merkle_leaf_bytes(const void* data, std::size_t size, std::size_t chunk_bytes,
                         std::size_t leaves, std::uint8_t* host_out, Launch launch);

// The same hashing code compiled for and run on the host, from host memory: lets machines
// without a GPU test the device algorithm (padding, byte order, chunk ends).
void merkle_leaf_bytes_on_host(const std::uint8_t* data, std::size_t size, std::size_t chunk_bytes,
                               std::size_t leaves, std::uint8_t* out);

}  // namespace fedchain::gpu
