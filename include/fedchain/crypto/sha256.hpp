// SHA-256 through OpenSSL EVP: the one hash fedchain uses for Merkle trees, block and
// transaction ids, the chain id and key derivation. Never a hand-written SHA-256.
#pragma once

#include <initializer_list>
#include <memory>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/hash.hpp"

namespace fedchain::crypto {

// One-shot digest of `data`.
Hash32 sha256(ByteView data);

// Digest of the concatenation of `parts`, without copying them together.
Hash32 sha256(std::initializer_list<ByteView> parts);

// Incremental digest: update() any number of times, then finish() once; reset() starts
// over and reuses the OpenSSL context (cheaper than a new Sha256 per message).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Sha256& update(ByteView data);
  Sha256& update_byte(std::uint8_t byte);
  Hash32 finish();
  void reset();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

}  // namespace fedchain::crypto
