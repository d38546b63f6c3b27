// The leaves of the chunked Merkle tree (crypto/merkle.hpp) hashed on the GPU, so a GPU rank
// commits to its update and its model without copying them to the host. One thread hashes
// one chunk, leaf = SHA-256(0x00 || chunk); the caller finishes the tree on the host with
// crypto::merkle_root_of_leaves (a few thousand 64-byte hashes at most). The leaves equal
// crypto::merkle_leaves bit for bit (tests/kernels/merkle_kernels_test.cpp).
#pragma once

#include <cstddef>
#include <vector>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/hash.hpp"
#include "fedchain/kernels/launch.hpp"

namespace fedchain::gpu {

// Leaf hashes of the `size` bytes at device pointer `data`, cut into `chunk_bytes` chunks
// (the last may be shorter; empty input is one empty chunk). Waits for the device.
Result<std::vector<Hash32>> merkle_leaves(const void* data, std::size_t size,
                                          std::size_t chunk_bytes, Launch launch = {});

// The kernel's own hashing code compiled for the host, over host memory: what machines
// without a GPU can test of the device algorithm (tests/kernels/merkle_host_twin_test.cpp).
Result<std::vector<Hash32>> merkle_leaves_with_device_code_on_host(ByteView data,
                                                                   std::size_t chunk_bytes);

}  // namespace fedchain::gpu
