// SHA-256 known answers (NIST FIPS 180-2 examples and the CAVS short/long messages) and
// the incremental interface agreeing with the one-shot one.
#include <gtest/gtest.h>

#include <string>

#include "fedchain/crypto/sha256.hpp"

namespace fedchain::crypto {
namespace {

std::string hex_of(std::string_view text) {
  return sha256(as_bytes(text)).hex();
}

TEST(Sha256, NistVectors) {
  EXPECT_EQ(hex_of(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex_of("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(
      hex_of("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqk"
             "lmnopqrlmnopqrsmnopqrstnopqrstu"),
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(hex_of(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, CavsByteVectors) {
  // SHA256ShortMsg.rsp: Len = 8, Msg = d3; Len = 16, Msg = 11af.
  EXPECT_EQ(sha256(*from_hex("d3")).hex(),
            "28969cdfa74a12c82f3bad960b0b000aca2ac329deea5c2328ebc6f2ba9802c1");
  EXPECT_EQ(sha256(*from_hex("11af")).hex(),
            "5ca7133fa735326081558ac312c620eeca9970d1e70a4b95533d956f072d1f98");
}

TEST(Sha256, IncrementalMatchesOneShotAtEverySplit) {
  std::string text;
  for (int i = 0; i < 300; ++i) text.push_back(static_cast<char>(i * 7));
  const Hash32 expected = sha256(as_bytes(text));
  Sha256 hasher;
  for (std::size_t split = 0; split <= text.size(); split += 13) {
    hasher.reset();
    hasher.update(as_bytes(std::string_view(text).substr(0, split)));
    hasher.update(as_bytes(std::string_view(text).substr(split)));
    EXPECT_EQ(hasher.finish(), expected) << "split at " << split;
  }
  EXPECT_EQ(sha256({as_bytes("ab"), as_bytes(""), as_bytes("c")}), sha256(as_bytes("abc")));
}

}  // namespace
}  // namespace fedchain::crypto
