// Table-driven CRC-32C, one byte per step (see crc32c.hpp for why it exists).
#include "fedchain/ledger/crc32c.hpp"

#include <array>

namespace fedchain::ledger {

namespace {
constexpr std::uint32_t kPolynomial = 0x82F63B78u;  // Castagnoli, bit-reflected

constexpr std::array<std::uint32_t, 256> make_table() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? (c >> 1) ^ kPolynomial : c >> 1;
    table[i] = c;
  }
  return table;
}
constexpr auto kTable = make_table();
}  // namespace

std::uint32_t crc32c_extend(std::uint32_t crc, ByteView data) {
  std::uint32_t c = ~crc;
  for (const std::uint8_t byte : data) c = kTable[(c ^ byte) & 0xff] ^ (c >> 8);
  return ~c;
}

std::uint32_t crc32c(ByteView data) {
  return crc32c_extend(0, data);
}

}  // namespace fedchain::ledger
