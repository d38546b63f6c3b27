// What the state machine needs from cryptography, injected so that the core stays pure:
// production passes Ed25519 and the ledger's block hash, the simulator passes fast keyed
// fakes. Both must be deterministic: the same input gives the same answer on every rank.
#pragma once

#include <cstdint>
#include <optional>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/hash.hpp"
#include "fedchain/core/signature.hpp"

namespace fedchain::consensus {

class Signer {
 public:
  virtual ~Signer() = default;
  // Signs with this validator's own key.
  virtual Signature sign(ByteView message) = 0;
  // True only if `signature` over `message` was made with validator `validator`'s key.
  virtual bool verify(std::uint32_t validator, ByteView message,
                      const Signature& signature) const = 0;
};

class BlockHasher {
 public:
  virtual ~BlockHasher() = default;
  // The hash that votes name for these block bytes, or nullopt if the bytes are not a
  // block at all. WARNING: consensus never trusts a hash a proposer claims; it recomputes
  // it here, otherwise a Byzantine proposer could pair an honest block's hash with junk
  // bytes and have that hash judged invalid.
  virtual std::optional<Hash32> hash(ByteView block) const = 0;
};

}  // namespace fedchain::consensus
