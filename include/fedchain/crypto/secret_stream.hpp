// Secrets derived from a rank's private key, and the pseudo-random streams they seed: the
// per-client differential-privacy noise and the secure-aggregation masks (docs/privacy.md).
// HKDF-SHA256 (RFC 5869) and ChaCha20 (RFC 8439) through OpenSSL EVP; X25519 (RFC 7748)
// for the pairwise secrets of secure aggregation. Never hand-written primitives.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/error.hpp"

namespace fedchain::crypto {

using SecretKey = std::array<std::uint8_t, 32>;

// HKDF-SHA256 with a 32-byte output: `secret` is the input keying material.
SecretKey hkdf_sha256(ByteView secret, ByteView salt, ByteView info);

// The ChaCha20 keystream of (`key`, 96-bit nonce = u64le `nonce` || 4 zero bytes), block
// counter from 0, read as little-endian 64-bit words: the same words on every machine.
class KeyStream {
 public:
  KeyStream(const SecretKey& key, std::uint64_t nonce);
  ~KeyStream();
  KeyStream(KeyStream&&) noexcept;
  KeyStream& operator=(KeyStream&&) noexcept;
  KeyStream(const KeyStream&) = delete;
  KeyStream& operator=(const KeyStream&) = delete;

  std::uint64_t next();
  // The next out.size() words.
  void fill(std::span<std::uint64_t> out);

 private:
  void refill();
  struct Context;
  std::unique_ptr<Context> context_;
  std::array<std::uint64_t, 512> buffer_{};
  std::size_t used_ = 512;
};

using AgreementPublicKey = std::array<std::uint8_t, 32>;

// An X25519 key pair whose private key is `secret` (clamped by X25519 itself).
class AgreementKey {
 public:
  static Result<AgreementKey> from_secret(const SecretKey& secret);
  const AgreementPublicKey& public_key() const { return public_key_; }
  // X25519(private, peer). A peer key that gives the all-zero secret (a small-order point)
  // is refused: such a key would make the shared secret known to anyone.
  Result<SecretKey> shared_secret(const AgreementPublicKey& peer) const;

 private:
  AgreementKey() = default;
  SecretKey secret_{};
  AgreementPublicKey public_key_{};
};

}  // namespace fedchain::crypto
