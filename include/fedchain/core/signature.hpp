// Ed25519 public keys and signatures as value types. Making and checking signatures
// lives in crypto/ed25519.hpp; this header lets every module hold them.
#pragma once

#include <array>
#include <compare>
#include <cstdint>

#include "fedchain/core/bytes.hpp"

namespace fedchain {

struct PublicKey {
  std::array<std::uint8_t, 32> bytes{};
  ByteView view() const { return {bytes.data(), bytes.size()}; }
  auto operator<=>(const PublicKey&) const = default;
};

struct Signature {
  std::array<std::uint8_t, 64> bytes{};
  ByteView view() const { return {bytes.data(), bytes.size()}; }
  auto operator<=>(const Signature&) const = default;
};

}  // namespace fedchain
