// SHA-256 through OpenSSL EVP. The EVP_MD is fetched once per process: an implicit fetch
// on every EVP_DigestInit costs a provider lookup, which shows on 32-byte inputs.
#include "fedchain/crypto/sha256.hpp"

#include <cstdlib>

#include <openssl/evp.h>

namespace fedchain::crypto {

namespace {

const EVP_MD* sha256_md() {
  static EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    // No SHA-256 provider means a broken OpenSSL install: nothing can be hashed or
    // verified, and there is no caller that could recover.
    if (fetched == nullptr) std::abort();
    return fetched;
  }();
  return md;
}

void check(int openssl_ok) {
  // EVP digest calls fail only on allocation failure or a misconfigured provider.
  if (openssl_ok != 1) std::abort();
}

}  // namespace

struct Sha256::Context {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Context() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : context_(std::make_unique<Context>()) {
  if (context_->ctx == nullptr) std::abort();
  reset();
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::reset() {
  check(EVP_DigestInit_ex2(context_->ctx, sha256_md(), nullptr));
}

Sha256& Sha256::update(ByteView data) {
  check(EVP_DigestUpdate(context_->ctx, data.data(), data.size()));
  return *this;
}

Sha256& Sha256::update_byte(std::uint8_t byte) {
  return update({&byte, 1});
}

Hash32 Sha256::finish() {
  Hash32 out;
  unsigned int len = 0;
  check(EVP_DigestFinal_ex(context_->ctx, out.bytes.data(), &len));
  return out;
}

Hash32 sha256(ByteView data) {
  Hash32 out;
  unsigned int len = 0;
  check(EVP_Digest(data.data(), data.size(), out.bytes.data(), &len, sha256_md(), nullptr));
  return out;
}

Hash32 sha256(std::initializer_list<ByteView> parts) {
  Sha256 hasher;
  for (const auto& part : parts) hasher.update(part);
  return hasher.finish();
}

}  // namespace fedchain::crypto
