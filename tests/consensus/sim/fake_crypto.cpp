// Keyed mixing hash for the simulator's fake signatures and block hashes.
#include "fake_crypto.hpp"

#include <cstring>

namespace fedchain::consensus::sim {

std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

Hash32 fake_hash(ByteView bytes, std::uint64_t key) {
  std::uint64_t lanes[4] = {mix64(key ^ 0x1111), mix64(key ^ 0x2222), mix64(key ^ 0x3333),
                            mix64(key ^ bytes.size())};
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes.data() + i, 8);
    for (auto& lane : lanes) lane = mix64(lane ^ word) + 0x9e3779b97f4a7c15ULL;
  }
  std::uint64_t tail = 0;
  for (std::size_t k = 0; i < bytes.size(); ++i, ++k) {
    tail |= static_cast<std::uint64_t>(bytes[i]) << (8 * k);
  }
  Hash32 out;
  for (int l = 0; l < 4; ++l) {
    const std::uint64_t v = mix64(lanes[l] ^ tail ^ static_cast<std::uint64_t>(l));
    std::memcpy(out.bytes.data() + 8 * l, &v, 8);
  }
  return out;
}

FakeKeys::FakeKeys(std::uint32_t n, std::uint64_t seed) {
  for (std::uint32_t i = 0; i < n; ++i) keys_.push_back(mix64(seed * 1000003 + i + 1));
}

Signature FakeKeys::sign(std::uint32_t validator, ByteView message) const {
  Signature sig;
  const Hash32 h = fake_hash(message, keys_[validator]);
  std::memcpy(sig.bytes.data(), h.bytes.data(), 32);
  return sig;
}

bool FakeKeys::verify(std::uint32_t validator, ByteView message, const Signature& signature) const {
  return validator < keys_.size() && sign(validator, message) == signature;
}

}  // namespace fedchain::consensus::sim
