// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of each record in
// blocks.log. It catches torn writes and bit rot cheaply; it is not a security check
// (the hash links and signatures are). No packaged library we use provides it, hence
// this small table-driven one.
#pragma once

#include <cstdint>

#include "fedchain/core/bytes.hpp"

namespace fedchain::ledger {

// CRC-32C of `data`. crc32c("123456789") == 0xE3069283.
std::uint32_t crc32c(ByteView data);

// The CRC-32C of A || data, given crc = crc32c(A): checksums a stream piece by piece.
std::uint32_t crc32c_extend(std::uint32_t crc, ByteView data);

}  // namespace fedchain::ledger
