// The consensus wire messages: Proposal (defined here) and ledger::Vote, and the tagged
// envelope that carries either between validators. Decoders never throw: hostile bytes
// come back as a reject code ("truncated", "oversized-length", "unknown-message", ...).
#pragma once

#include <cstdint>
#include <optional>
#include <variant>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/encoding.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/hash.hpp"
#include "fedchain/core/signature.hpp"
#include "fedchain/ledger/vote.hpp"

namespace fedchain::consensus {

// Blocks are opaque to consensus; this bounds what a peer can make a validator hold.
inline constexpr std::size_t kDefaultMaxBlockBytes = std::size_t{16} << 20;
inline constexpr std::uint8_t kProposalVersion = 1;

// proposer(height, round) offers `block`. pol_round is the round in which the block got
// > 2/3 prevotes (a proof-of-lock round), or nullopt for a fresh block.
struct Proposal {
  Hash32 chain_id;
  std::uint64_t height = 0;
  std::uint32_t round = 0;
  std::optional<std::uint32_t> pol_round;
  Hash32 block_hash;
  Bytes block;
  std::uint32_t proposer = 0;
  Signature signature;

  // The fields the proposer signs, in wire order (core/encoding.hpp): all but the block
  // bytes and the signature. The block is bound through block_hash, which the receiver
  // recomputes (BlockHasher) before trusting it.
  static void signed_fields(auto& s, auto& p) {
    s(p.chain_id, p.height, p.round, p.pol_round, p.block_hash, p.proposer);
  }
  // The encoding: a version byte, the signed fields, the block (a Reader takes at most
  // max_block_bytes of it), the signature.
  static void wire_fields(auto& s, auto& p, std::size_t max_block_bytes = kDefaultMaxBlockBytes) {
    s.version(kProposalVersion);
    signed_fields(s, p);
    s(limit(p.block, max_block_bytes), p.signature);
  }

  // The signed fields behind a domain tag.
  Bytes sign_bytes() const;
  Bytes encode() const;
  static Result<Proposal> decode(ByteView bytes,
                                 std::size_t max_block_bytes = kDefaultMaxBlockBytes);

  bool operator==(const Proposal&) const = default;
};

using Message = std::variant<Proposal, ledger::Vote>;

// One tag byte (1 proposal, 2 vote), then the message's own encoding.
Bytes encode_message(const Message& message);
Result<Message> decode_message(ByteView bytes, std::size_t max_block_bytes = kDefaultMaxBlockBytes);

}  // namespace fedchain::consensus
