// HKDF-SHA256, ChaCha20 and X25519 against the test vectors of their RFCs.
#include <gtest/gtest.h>

#include "fedchain/crypto/secret_stream.hpp"

namespace fedchain::crypto {
namespace {

template <std::size_t N>
std::array<std::uint8_t, N> hex_array(std::string_view hex) {
  const auto bytes = from_hex(hex);
  std::array<std::uint8_t, N> out{};
  if (bytes && bytes->size() == N) std::copy(bytes->begin(), bytes->end(), out.begin());
  return out;
}

TEST(Hkdf, Rfc5869TestCase1) {
  const Bytes ikm(22, 0x0b);
  const auto salt = *from_hex("000102030405060708090a0b0c");
  const auto info = *from_hex("f0f1f2f3f4f5f6f7f8f9");
  const SecretKey okm = hkdf_sha256(ikm, salt, info);
  // The first 32 of the RFC's 42 output bytes (HKDF output is a prefix of a longer one).
  EXPECT_EQ(to_hex(okm), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf");
}

TEST(KeyStream, Rfc8439KeystreamOfZeroKeyAndNonce) {
  // RFC 8439, A.1 test vector #1: key 0, nonce 0, counter 0; keystream 76 b8 e0 ad a0 f1 3d
  // 90 ... read as little-endian words.
  KeyStream stream(SecretKey{}, 0);
  EXPECT_EQ(stream.next(), 0x903df1a0ade0b876u);
  EXPECT_EQ(stream.next(), 0x28bd8653e56a5d40u);  // 40 5d 6a e5 53 86 bd 28
}

TEST(KeyStream, NonceAndKeyChangeTheWordsAcrossRefills) {
  KeyStream a(SecretKey{}, 1);
  KeyStream b(SecretKey{}, 2);
  std::vector<std::uint64_t> wa(2000), wb(2000);
  a.fill(wa);
  b.fill(wb);
  EXPECT_NE(wa, wb);
  KeyStream again(SecretKey{}, 1);
  std::vector<std::uint64_t> wc(2000);
  again.fill(wc);
  EXPECT_EQ(wa, wc);
}

TEST(AgreementKey, Rfc7748SharedSecret) {
  auto alice = AgreementKey::from_secret(
      hex_array<32>("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  auto bob = AgreementKey::from_secret(
      hex_array<32>("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  ASSERT_TRUE(alice && bob);
  EXPECT_EQ(to_hex(alice->public_key()),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(to_hex(bob->public_key()),
            "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  auto ab = alice->shared_secret(bob->public_key());
  auto ba = bob->shared_secret(alice->public_key());
  ASSERT_TRUE(ab && ba);
  EXPECT_EQ(to_hex(*ab), "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  EXPECT_EQ(*ab, *ba);
}

TEST(AgreementKey, RefusesASmallOrderPeerKey) {
  auto alice = AgreementKey::from_secret(SecretKey{1});
  ASSERT_TRUE(alice);
  auto shared = alice->shared_secret(AgreementPublicKey{});  // the point 0: order 4
  ASSERT_FALSE(shared);
  EXPECT_EQ(shared.error().code, "bad-agreement-key");
}

}  // namespace
}  // namespace fedchain::crypto
