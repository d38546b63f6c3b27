// The production Signer: this validator's Ed25519 key, and every validator's public key by
// index (from genesis).
#pragma once

#include <utility>
#include <vector>

#include "fedchain/consensus/signer.hpp"
#include "fedchain/crypto/ed25519.hpp"

namespace fedchain::consensus {

class Ed25519Signer final : public Signer {
 public:
  Ed25519Signer(crypto::SigningKey key, std::vector<PublicKey> validators)
      : key_(std::move(key)), validators_(std::move(validators)) {}
  Signature sign(ByteView message) override { return key_.sign(message); }
  bool verify(std::uint32_t validator, ByteView message,
              const Signature& signature) const override {
    if (validator >= validators_.size()) return false;
    ++verifications_;
    return crypto::verify(validators_[validator], message, signature);
  }
  // Signatures checked so far (the metrics' consensus work per height).
  std::uint64_t verifications() const { return verifications_; }

 private:
  mutable std::uint64_t verifications_ = 0;
  crypto::SigningKey key_;
  std::vector<PublicKey> validators_;
};

}  // namespace fedchain::consensus
