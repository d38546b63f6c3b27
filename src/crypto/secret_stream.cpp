// HKDF, ChaCha20 and X25519 through OpenSSL (secret_stream.hpp).
#include "fedchain/crypto/secret_stream.hpp"

#include <cstdlib>
#include <cstring>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

namespace fedchain::crypto {

namespace {

// These calls fail only on allocation failure or a broken OpenSSL install; no caller could
// recover, and a wrong secret must never be used.
void check(int openssl_ok) {
  if (openssl_ok != 1) std::abort();
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};

}  // namespace

SecretKey hkdf_sha256(ByteView secret, ByteView salt, ByteView info) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (kdf == nullptr) std::abort();
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (ctx == nullptr) std::abort();
  char digest[] = "SHA256";
  // OSSL_PARAM takes non-const pointers; OpenSSL only reads them.
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                        const_cast<std::uint8_t*>(secret.data()), secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<std::uint8_t*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<std::uint8_t*>(info.data()),
                                        info.size()),
      OSSL_PARAM_construct_end()};
  SecretKey out{};
  const int ok = EVP_KDF_derive(ctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  check(ok);
  return out;
}

struct KeyStream::Context {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~Context() { EVP_CIPHER_CTX_free(ctx); }
};

KeyStream::KeyStream(const SecretKey& key, std::uint64_t nonce)
    : context_(std::make_unique<Context>()) {
  if (context_->ctx == nullptr) std::abort();
  // OpenSSL's ChaCha20 IV: the 32-bit block counter (little-endian), then the 96-bit nonce.
  std::array<std::uint8_t, 16> iv{};
  for (int i = 0; i < 8; ++i) iv[4 + i] = static_cast<std::uint8_t>(nonce >> (8 * i));
  check(EVP_EncryptInit_ex2(context_->ctx, EVP_chacha20(), key.data(), iv.data(), nullptr));
}
KeyStream::~KeyStream() = default;
KeyStream::KeyStream(KeyStream&&) noexcept = default;
KeyStream& KeyStream::operator=(KeyStream&&) noexcept = default;

void KeyStream::refill() {
  // The keystream is the encryption of zeros.
  std::array<std::uint8_t, sizeof(buffer_)> zeros{};
  std::array<std::uint8_t, sizeof(buffer_)> stream{};
  int written = 0;
  check(EVP_EncryptUpdate(context_->ctx, stream.data(), &written, zeros.data(),
                          static_cast<int>(zeros.size())));
  for (std::size_t i = 0; i < buffer_.size(); ++i) {
    std::uint64_t word = 0;
    for (int b = 7; b >= 0; --b) word = (word << 8) | stream[i * 8 + static_cast<std::size_t>(b)];
    buffer_[i] = word;
  }
  used_ = 0;
}

std::uint64_t KeyStream::next() {
  if (used_ == buffer_.size()) refill();
  return buffer_[used_++];
}

void KeyStream::fill(std::span<std::uint64_t> out) {
  for (auto& word : out) word = next();
}

Result<AgreementKey> AgreementKey::from_secret(const SecretKey& secret) {
  std::unique_ptr<EVP_PKEY, PkeyDeleter> pkey(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret.data(), secret.size()));
  AgreementKey key;
  std::size_t length = key.public_key_.size();
  if (!pkey || EVP_PKEY_get_raw_public_key(pkey.get(), key.public_key_.data(), &length) != 1 ||
      length != key.public_key_.size()) {
    return runtime_error("cannot make an X25519 key (OpenSSL failed)");
  }
  key.secret_ = secret;
  return key;
}

Result<SecretKey> AgreementKey::shared_secret(const AgreementPublicKey& peer) const {
  std::unique_ptr<EVP_PKEY, PkeyDeleter> mine(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, secret_.data(), secret_.size()));
  std::unique_ptr<EVP_PKEY, PkeyDeleter> theirs(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer.data(), peer.size()));
  if (!mine || !theirs) return runtime_error("cannot read an X25519 key (OpenSSL failed)");
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter> ctx(EVP_PKEY_CTX_new(mine.get(), nullptr));
  SecretKey out{};
  std::size_t length = out.size();
  // OpenSSL refuses a peer key whose shared secret is all zeros (RFC 7748, section 6.1).
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), theirs.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), out.data(), &length) != 1 || length != out.size()) {
    return reject("bad-agreement-key", "X25519 with this peer key fails (a small-order point?)");
  }
  return out;
}

}  // namespace fedchain::crypto
