// A consensus vote: validator `validator` says, at (height, round), PREVOTE or PRECOMMIT
// for a block hash or for nil. Votes are signed over sign_bytes() and kept in commit
// certificates (precommits) and evidence (two conflicting votes). See docs/consensus.md.
#pragma once

#include <cstdint>
#include <optional>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/hash.hpp"
#include "fedchain/core/signature.hpp"

namespace fedchain::ledger {

inline constexpr std::uint8_t kVoteVersion = 1;

enum class VoteType : std::uint8_t { kPrevote = 1, kPrecommit = 2 };

struct Vote {
  Hash32 chain_id;
  std::uint64_t height = 0;
  std::uint32_t round = 0;
  VoteType type = VoteType::kPrevote;
  std::optional<Hash32> block_hash;  // nullopt: a vote for nil
  std::uint32_t validator = 0;       // index in the validator set
  Signature signature;

  // The fields a validator signs, in wire order (core/encoding.hpp): all but the signature.
  static void signed_fields(auto& s, auto& v) {
    s(v.chain_id, v.height, v.round, v.type, v.block_hash, v.validator);
  }
  // The encoding: a version byte, the signed fields, the signature.
  static void wire_fields(auto& s, auto& v) {
    s.version(kVoteVersion);
    signed_fields(s, v);
    s(v.signature);
  }

  // The canonical bytes a validator signs: the signed fields behind a domain tag, so a vote
  // signature can never be replayed as any other signed message.
  Bytes sign_bytes() const;
  Bytes encode() const;
  static Result<Vote> decode(ByteView bytes);

  // Two signed votes by one validator for the same height, round and type but different
  // blocks: equivocation, recorded as evidence.
  bool conflicts_with(const Vote& other) const;

  bool operator==(const Vote&) const = default;
};

}  // namespace fedchain::ledger
