// gpu::merkle_leaves: argument checks and Hash32s around the device kernel in merkle.cu.
#include "fedchain/kernels/merkle.hpp"

#include <algorithm>
#include <cstdint>

#include "merkle_leaf_bytes.hpp"

namespace fedchain::gpu {

namespace {

std::size_t leaf_count(std::size_t size, std::size_t chunk_bytes) {
  return size == 0 ? 1 : (size + chunk_bytes - 1) / chunk_bytes;
}

std::vector<Hash32> to_hashes(const std::vector<std::uint8_t>& flat) {
  std::vector<Hash32> hashes(flat.size() / kLeafHashBytes);
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    std::copy_n(flat.data() + i * kLeafHashBytes, kLeafHashBytes, hashes[i].bytes.data());
  }
  return hashes;
}

}  // namespace

Result<std::vector<Hash32>> merkle_leaves(const void* data, std::size_t size,
                                          std::size_t chunk_bytes, Launch launch) {
  static_assert(Hash32::size() == kLeafHashBytes);
  if (chunk_bytes == 0) return runtime_error("merkle_leaves: chunk_bytes must be > 0");
  const std::size_t leaves = leaf_count(size, chunk_bytes);
  std::vector<std::uint8_t> flat(leaves * kLeafHashBytes);
  if (auto st = merkle_leaf_bytes(data, size, chunk_bytes, leaves, flat.data(), launch); !st) {
    return st.error();
  }
  return to_hashes(flat);
}

Result<std::vector<Hash32>> merkle_leaves_with_device_code_on_host(ByteView data,
                                                                   std::size_t chunk_bytes) {
  if (chunk_bytes == 0) return runtime_error("merkle_leaves: chunk_bytes must be > 0");
  const std::size_t leaves = leaf_count(data.size(), chunk_bytes);
  std::vector<std::uint8_t> flat(leaves * kLeafHashBytes);
  merkle_leaf_bytes_on_host(data.data(), data.size(), chunk_bytes, leaves, flat.data());
  return to_hashes(flat);
}

}  // namespace fedchain::gpu
