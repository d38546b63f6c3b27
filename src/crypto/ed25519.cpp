// Ed25519 through OpenSSL EVP (one-shot EVP_DigestSign/Verify: Ed25519 hashes internally,
// so no digest is named). OpenSSL failures here mean allocation failure; they abort, as
// there is no signature to return and no caller that could go on without one.
#include "fedchain/crypto/ed25519.hpp"

#include <cstdlib>
#include <cstring>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "fedchain/core/encoding.hpp"
#include "fedchain/crypto/sha256.hpp"

namespace fedchain::crypto {

namespace {
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
}  // namespace

struct SigningKey::Key {
  PkeyPtr pkey;
};

Result<SigningKey> SigningKey::generate() {
  KeySeed seed;
  if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1) {
    return runtime_error("cannot generate a key: the OpenSSL random source failed");
  }
  return from_seed(seed);
}

SigningKey SigningKey::from_seed(const KeySeed& seed) {
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!pkey) std::abort();
  SigningKey key;
  std::size_t len = key.public_key_.bytes.size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), key.public_key_.bytes.data(), &len) != 1 ||
      len != 32) {
    std::abort();
  }
  key.seed_ = seed;
  auto holder = std::make_shared<Key>();
  holder->pkey = std::move(pkey);
  key.key_ = std::move(holder);
  return key;
}

Signature SigningKey::sign(ByteView message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  Signature out;
  std::size_t len = out.bytes.size();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), out.bytes.data(), &len, message.data(), message.size()) != 1 ||
      len != 64) {
    std::abort();
  }
  return out;
}

bool verify(const PublicKey& key, ByteView message, const Signature& signature) {
  PkeyPtr pkey(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.bytes.data(), key.bytes.size()));
  if (!pkey) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), signature.bytes.data(), signature.bytes.size(), message.data(),
                          message.size()) == 1;
}

SigningKey derive_rank_key(std::int64_t job_seed, std::uint32_t rank) {
  Writer w;
  w.raw(as_bytes("fedchain/rank-key/v1")).i64(job_seed).u32(rank);
  const Hash32 digest = sha256(w.data());
  KeySeed seed;
  std::memcpy(seed.data(), digest.bytes.data(), seed.size());
  return SigningKey::from_seed(seed);
}

}  // namespace fedchain::crypto
