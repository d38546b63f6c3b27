// Merkle leaves on the GPU: SHA-256 (FIPS 180-4) of 0x00 || chunk, one thread per chunk.
// The message is read byte by byte because the 0x00 prefix shifts every chunk one byte
// off word alignment; whole 64-byte blocks inside the chunk take a branch-free path.
// defines: merkle_leaf_bytes, merkle_leaf_bytes_on_host (merkle_leaf_bytes.hpp)
#include <cuda_runtime.h>

#include <cstdint>

#include "fedchain/kernels/memory.hpp"
#include "launch.cuh"
#include "merkle_leaf_bytes.hpp"

namespace fedchain::gpu {

namespace {

constexpr std::uint8_t kLeafPrefix = 0x00;

// Both compilers turn this into a single rotate instruction.
__host__ __device__ std::uint32_t rotr(std::uint32_t x, int n) {
  return (x >> n) | (x << (32 - n));
}

__host__ __device__ void compress(std::uint32_t state[8], std::uint32_t w[16]) {
  // Local constants (not __constant__ memory) so the host build of this function has them
  // too; the unrolled loop folds them into immediates.
  constexpr std::uint32_t kRoundConstants[64] = {

      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
      0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
      0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
      0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
      0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
      0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
      0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
      0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  std::uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
  std::uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
#pragma unroll
  for (int t = 0; t < 64; ++t) {
    std::uint32_t wt;
    if (t < 16) {
      wt = w[t];
    } else {
      const std::uint32_t w15 = w[(t - 15) & 15], w2 = w[(t - 2) & 15];
      const std::uint32_t s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >> 3);
      const std::uint32_t s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >> 10);
      wt = w[t & 15] = w[t & 15] + s0 + w[(t - 7) & 15] + s1;
    }
    const std::uint32_t big_s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
    const std::uint32_t choose = (e & f) ^ (~e & g);
    const std::uint32_t t1 = h + big_s1 + choose + kRoundConstants[t] + wt;
    const std::uint32_t big_s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
    const std::uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
    const std::uint32_t t2 = big_s0 + majority;
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
  state[4] += e;
  state[5] += f;
  state[6] += g;
  state[7] += h;
}

// Byte `position` of the padded message 0x00 || chunk || 0x80 || zeros || bit length (big
// endian u64), where the chunk is `length` bytes at `chunk` and the message `padded` bytes.
__host__ __device__ std::uint8_t padded_byte(const std::uint8_t* chunk, std::uint64_t length,
                                             std::uint64_t padded, std::uint64_t position) {
  const std::uint64_t message = length + 1;
  if (position == 0) return kLeafPrefix;
  if (position < message) return chunk[position - 1];
  if (position == message) return 0x80;
  if (position + 8 >= padded) {
    const std::uint64_t bits = message * 8;
    return static_cast<std::uint8_t>(bits >> (8 * (padded - 1 - position)));
  }
  return 0;
}

// leaf = SHA-256(0x00 || chunk) of the `length` bytes at `chunk`, written to out[0..32).
__host__ __device__ void hash_leaf(const std::uint8_t* chunk, std::uint64_t length,
                                   std::uint8_t* out) {
  constexpr std::uint32_t kInitialState[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                              0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  const std::uint64_t blocks = (length + 1 + 8) / 64 + 1;
  const std::uint64_t padded = blocks * 64;
  std::uint32_t state[8];
  for (int i = 0; i < 8; ++i) state[i] = kInitialState[i];
  for (std::uint64_t block = 0; block < blocks; ++block) {
    std::uint32_t w[16];
    const std::uint64_t first = block * 64;
    if (first >= 1 && first + 64 <= length + 1) {
      // The whole block is chunk bytes: chunk[first - 1 .. first + 62].
      const std::uint8_t* bytes = chunk + (first - 1);
      for (int t = 0; t < 16; ++t) {
        w[t] = (std::uint32_t{bytes[4 * t]} << 24) | (std::uint32_t{bytes[4 * t + 1]} << 16) |
               (std::uint32_t{bytes[4 * t + 2]} << 8) | std::uint32_t{bytes[4 * t + 3]};
      }
    } else {
      for (int t = 0; t < 16; ++t) {
        std::uint32_t word = 0;
        for (int k = 0; k < 4; ++k) {
          word = (word << 8) | padded_byte(chunk, length, padded, first + 4 * t + k);
        }
        w[t] = word;
      }
    }
    compress(state, w);
  }
  for (int i = 0; i < 8; ++i) {
    for (int k = 0; k < 4; ++k)
      out[4 * i + k] = static_cast<std::uint8_t>(state[i] >> (24 - 8 * k));
  }
}

__host__ __device__ std::uint64_t chunk_length(std::uint64_t size, std::uint64_t chunk_bytes,
                                               std::uint64_t leaf) {
  const std::uint64_t begin = leaf * chunk_bytes;
  return size - begin < chunk_bytes ? size - begin : chunk_bytes;
}

__global__ void leaf_kernel(const std::uint8_t* data, std::uint64_t size, std::uint64_t chunk_bytes,
                            std::uint64_t leaves, std::uint8_t* out) {
  for (std::size_t leaf = first_index(); leaf < leaves; leaf += grid_stride()) {
    hash_leaf(data + leaf * chunk_bytes, chunk_length(size, chunk_bytes, leaf),
              out + leaf * kLeafHashBytes);
  }
}

}  // namespace

Status merkle_leaf_bytes(const void* data, std::size_t size, std::size_t chunk_bytes,
                         std::size_t leaves, std::uint8_t* host_out, Launch launch) {
  if (auto st = check_launch(launch); !st) return st;
  auto hashes = DeviceArray<std::uint8_t>::allocate(leaves * kLeafHashBytes);
  if (!hashes) return hashes.error();
  leaf_kernel<<<grid_for(launch, leaves), launch.block_size>>>(
      static_cast<const std::uint8_t*>(data), size, chunk_bytes, leaves, hashes->data());
  if (auto st = launch_status("merkle leaf"); !st) return st;
  return hashes->download(host_out, leaves * kLeafHashBytes);
}

void merkle_leaf_bytes_on_host(const std::uint8_t* data, std::size_t size, std::size_t chunk_bytes,
                               std::size_t leaves, std::uint8_t* out) {
  for (std::size_t leaf = 0; leaf < leaves; ++leaf) {
    hash_leaf(data + leaf * chunk_bytes, chunk_length(size, chunk_bytes, leaf),
              out + leaf * kLeafHashBytes);
  }
}

}  // namespace fedchain::gpu
