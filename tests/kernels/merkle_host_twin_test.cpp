// The GPU Merkle kernel's hashing code, compiled for the host, against OpenSSL through
// crypto::merkle_leaves. Runs everywhere (no GPU needed), so CI checks the device
// algorithm's padding, byte order and chunk ends; gpu_merkle_kernels_test checks the
// kernel itself where a GPU answers.
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "fedchain/crypto/merkle.hpp"
#include "fedchain/kernels/merkle.hpp"

namespace fedchain {
namespace {

TEST(MerkleDeviceCodeOnHost, MatchesOpenSslAcrossBlockAndChunkBoundaries) {
  std::mt19937_64 random(7);
  for (std::size_t size : {0, 1, 54, 55, 56, 62, 63, 64, 65, 119, 120, 127, 128, 1000, 65537}) {
    std::vector<std::uint8_t> data(size);
    for (auto& byte : data) byte = static_cast<std::uint8_t>(random());
    for (std::size_t chunk : {1, 3, 55, 63, 64, 4096, 65536}) {
      if (size / chunk > 4096) continue;  // keeps the test quick; tiny chunks are covered above
      auto twin = gpu::merkle_leaves_with_device_code_on_host(data, chunk);
      ASSERT_TRUE(twin) << twin.error().message;
      EXPECT_EQ(*twin, crypto::merkle_leaves(data, chunk))
          << "size " << size << ", chunk " << chunk;
    }
  }
}

TEST(MerkleDeviceCodeOnHost, RefusesZeroChunk) {
  const std::vector<std::uint8_t> data(8);
  EXPECT_FALSE(gpu::merkle_leaves_with_device_code_on_host(data, 0));
}

}  // namespace
}  // namespace fedchain
