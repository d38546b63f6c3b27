// Ed25519 (RFC 8032) through OpenSSL EVP: every rank signs its update transactions and
// votes, and every rank and `fedchain verify` checks them.
//
// A private key is its 32-byte seed (RFC 8032 section 5.1.5), so a key can be derived
// deterministically from a seed: derive_rank_key() does so from the job seed, for demos
// and tests only.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/signature.hpp"

namespace fedchain::crypto {

using KeySeed = std::array<std::uint8_t, 32>;

// A private key ready to sign. Copies share one OpenSSL key (signing does not change it,
// so a SigningKey may be used from several threads at once).
class SigningKey {
 public:
  // A fresh key from the operating system's random source.
  static Result<SigningKey> generate();
  // The key whose RFC 8032 private key is `seed`.
  static SigningKey from_seed(const KeySeed& seed);

  const PublicKey& public_key() const { return public_key_; }
  const KeySeed& seed() const { return seed_; }
  Signature sign(ByteView message) const;

 private:
  SigningKey() = default;
  struct Key;
  std::shared_ptr<const Key> key_;
  KeySeed seed_{};
  PublicKey public_key_;
};

// True when `signature` is a valid Ed25519 signature of `message` by `key`. Hostile input
// (a key that is not a curve point, a non-canonical signature) is simply false.
bool verify(const PublicKey& key, ByteView message, const Signature& signature);

// The key of `rank` derived from a job seed: seed = SHA-256("fedchain/rank-key/v1" ||
// u64le job_seed || u32le rank). Anyone who knows the job seed can sign as any rank.
SigningKey derive_rank_key(std::int64_t job_seed, std::uint32_t rank);

}  // namespace fedchain::crypto
