// Fast, deterministic stand-ins for Ed25519 and SHA-256 in the simulator: a keyed 256-bit
// mixing hash. Not cryptography, but a validator that signs with its own key under another
// validator's index still fails verify(), which is all the forgery tests need.
#pragma once

#include <cstdint>
#include <vector>

#include "fedchain/consensus/signer.hpp"

namespace fedchain::consensus::sim {

std::uint64_t mix64(std::uint64_t x);
Hash32 fake_hash(ByteView bytes, std::uint64_t key = 0);

// Every validator's secret key, derived from the scenario seed.
class FakeKeys {
 public:
  FakeKeys(std::uint32_t n, std::uint64_t seed);
  Signature sign(std::uint32_t validator, ByteView message) const;
  bool verify(std::uint32_t validator, ByteView message, const Signature& signature) const;

 private:
  std::vector<std::uint64_t> keys_;
};

class FakeSigner final : public Signer {
 public:
  FakeSigner(const FakeKeys& keys, std::uint32_t self) : keys_(keys), self_(self) {}
  Signature sign(ByteView message) override { return keys_.sign(self_, message); }
  bool verify(std::uint32_t validator, ByteView message,
              const Signature& signature) const override {
    return keys_.verify(validator, message, signature);
  }

 private:
  const FakeKeys& keys_;
  std::uint32_t self_;
};

class FakeBlockHasher final : public BlockHasher {
 public:
  std::optional<Hash32> hash(ByteView block) const override { return fake_hash(block, 0xb10c); }
};

}  // namespace fedchain::consensus::sim
