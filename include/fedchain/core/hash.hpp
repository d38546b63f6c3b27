// Hash32: a SHA-256 digest as a value type. Computing digests lives in crypto/; this type
// only holds, compares and prints them, so every module can name a hash.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "fedchain/core/bytes.hpp"

namespace fedchain {

struct Hash32 {
  std::array<std::uint8_t, 32> bytes{};

  static constexpr std::size_t size() { return 32; }
  ByteView view() const { return {bytes.data(), bytes.size()}; }
  bool is_zero() const;
  std::string hex() const { return to_hex(view()); }
  // The first n hex characters, as printed in tables and logs.
  std::string short_hex(std::size_t n = 12) const { return hex().substr(0, n); }
  static std::optional<Hash32> from_hex(std::string_view hex);

  auto operator<=>(const Hash32&) const = default;
};

}  // namespace fedchain

template <>
struct std::hash<fedchain::Hash32> {
  std::size_t operator()(const fedchain::Hash32& h) const noexcept {
    std::size_t out;
    std::memcpy(&out, h.bytes.data(), sizeof(out));
    return out;
  }
};
