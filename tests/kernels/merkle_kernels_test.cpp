// GPU Merkle leaves against crypto::merkle_leaves, bit for bit: sizes around the SHA-256
// block and padding boundaries (55, 56, 63, 64 bytes with the one-byte prefix), chunk sizes
// that are not multiples of 4 or 64, empty input, and several launch shapes.
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fedchain/crypto/merkle.hpp"
#include "fedchain/kernels/memory.hpp"
#include "fedchain/kernels/merkle.hpp"

namespace fedchain {
namespace {

std::vector<std::uint8_t> random_bytes(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 random(seed);
  std::vector<std::uint8_t> bytes(size);
  for (auto& byte : bytes) byte = static_cast<std::uint8_t>(random());
  return bytes;
}

void expect_same_leaves(std::size_t size, std::size_t chunk_bytes, gpu::Launch launch) {
  const auto host = random_bytes(size, size * 31 + chunk_bytes);
  auto device = gpu::DeviceArray<std::uint8_t>::allocate(size == 0 ? 1 : size);
  ASSERT_TRUE(device) << device.error().message;
  ASSERT_TRUE(device->upload(host.data(), size));
  const std::string where =
      "size " + std::to_string(size) + ", chunk " + std::to_string(chunk_bytes) + ", launch " +
      std::to_string(launch.grid_size) + " x " + std::to_string(launch.block_size);
  auto leaves = gpu::merkle_leaves(device->data(), size, chunk_bytes, launch);
  ASSERT_TRUE(leaves) << where << ": " << leaves.error().message;
  const auto expected = crypto::merkle_leaves(ByteView(host.data(), host.size()), chunk_bytes);
  ASSERT_EQ(leaves->size(), expected.size()) << where;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ((*leaves)[i], expected[i]) << where << ", leaf " << i;
  }
  EXPECT_EQ(crypto::merkle_root_of_leaves(*leaves),
            crypto::merkle_root(ByteView(host.data(), host.size()), chunk_bytes))
      << where;
}

TEST(GpuMerkle, LeavesMatchTheCpuAtPaddingBoundaries) {
  for (std::size_t size : {0, 1, 54, 55, 56, 62, 63, 64, 65, 119, 120, 127, 128, 1000}) {
    for (std::size_t chunk : {1, 3, 55, 63, 64, 65536}) {
      expect_same_leaves(size, chunk, {});
    }
  }
}

TEST(GpuMerkle, LeavesMatchTheCpuForModelSizedInputs) {
  const std::size_t sizes[] = {65536, 65537, 3 * 65536 + 5, (std::size_t{1} << 22) + 3};
  const gpu::Launch launches[] = {{256, 0}, {32, 1}, {96, 7}, {1024, 0}};
  for (std::size_t size : sizes) {
    for (std::size_t chunk : {4096, 65536, 100000}) {
      for (const auto& launch : launches) expect_same_leaves(size, chunk, launch);
    }
  }
}

TEST(GpuMerkle, RefusesZeroChunkAndBadLaunch) {
  auto device = gpu::DeviceArray<std::uint8_t>::allocate(16);
  ASSERT_TRUE(device);
  EXPECT_FALSE(gpu::merkle_leaves(device->data(), 16, 0));
  EXPECT_FALSE(gpu::merkle_leaves(device->data(), 16, 8, {0, 0}));
}

}  // namespace
}  // namespace fedchain
