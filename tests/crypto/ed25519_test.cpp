// Ed25519 known answers from RFC 8032 section 7.1, signatures refused when anything
// changes, derived keys, and key directories.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "fedchain/crypto/ed25519.hpp"
#include "fedchain/crypto/key_file.hpp"
#include "temp_dir.hpp"

namespace fedchain::crypto {
namespace {

struct Rfc8032Vector {
  const char* secret;
  const char* public_key;
  const char* message;
  const char* signature;
};

// RFC 8032, 7.1: TEST 1, TEST 2, TEST 3 and TEST SHA(abc).
const Rfc8032Vector kVectors[] = {
    {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e3970"
     "1cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613"
     "d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760"
     "984dc6594a7c15e9716ed28dc027beceea1ec40a"},
    {"833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3"
     "feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c6"
     "6431e0303dca179c138ac17ad9bef1177331a704"},
};

template <typename T>
T from_hex_array(std::string_view hex) {
  T out;
  const Bytes raw = *from_hex(hex);
  EXPECT_EQ(raw.size(), out.bytes.size());
  std::copy(raw.begin(), raw.end(), out.bytes.begin());
  return out;
}

TEST(Ed25519, Rfc8032Vectors) {
  for (const auto& v : kVectors) {
    KeySeed seed;
    const Bytes raw = *from_hex(v.secret);
    std::copy(raw.begin(), raw.end(), seed.begin());
    const SigningKey key = SigningKey::from_seed(seed);
    EXPECT_EQ(to_hex(key.public_key().view()), v.public_key);
    const Bytes message = *from_hex(v.message);
    const Signature signature = key.sign(message);
    EXPECT_EQ(to_hex(signature.view()), v.signature);
    EXPECT_TRUE(verify(from_hex_array<PublicKey>(v.public_key), message,
                       from_hex_array<Signature>(v.signature)));
  }
}

TEST(Ed25519, AnyChangeIsRefused) {
  const SigningKey key = derive_rank_key(42, 0);
  const Bytes message = *from_hex("00112233445566778899");
  const Signature signature = key.sign(message);
  ASSERT_TRUE(verify(key.public_key(), message, signature));
  for (std::size_t i = 0; i < message.size(); ++i) {
    Bytes changed = message;
    changed[i] ^= 0x01;
    EXPECT_FALSE(verify(key.public_key(), changed, signature));
  }
  for (std::size_t i = 0; i < 64; ++i) {
    Signature changed = signature;
    changed.bytes[i] ^= 0x20;
    EXPECT_FALSE(verify(key.public_key(), message, changed)) << "byte " << i;
  }
  EXPECT_FALSE(verify(derive_rank_key(42, 1).public_key(), message, signature));
  PublicKey not_a_point;
  not_a_point.bytes.fill(0xff);
  EXPECT_FALSE(verify(not_a_point, message, signature));
}

TEST(Ed25519, DerivedKeysDependOnSeedAndRank) {
  EXPECT_EQ(derive_rank_key(7, 3).public_key(), derive_rank_key(7, 3).public_key());
  EXPECT_NE(derive_rank_key(7, 3).public_key(), derive_rank_key(7, 4).public_key());
  EXPECT_NE(derive_rank_key(7, 3).public_key(), derive_rank_key(8, 3).public_key());
}

TEST(KeyFile, WritesPrivateKeysOwnerOnlyAndReadsThemBack) {
  const fedchain::testing::TempDir temp;
  const auto dir = temp.path() / "keys";
  std::vector<SigningKey> keys;
  for (std::uint32_t r = 0; r < 3; ++r) keys.push_back(*SigningKey::generate());
  ASSERT_TRUE(write_key_directory(dir, keys));
  for (std::uint32_t r = 0; r < 3; ++r) {
    struct stat st {};
    ASSERT_EQ(::stat(private_key_path(dir, r).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto loaded = load_rank_key({dir.string(), false, 0}, r);
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(loaded->public_key(), keys[r].public_key());
  }
  auto listed = load_public_keys({dir.string(), false, 0}, 3);
  ASSERT_TRUE(listed) << listed.error().message;
  for (std::uint32_t r = 0; r < 3; ++r) EXPECT_EQ((*listed)[r], keys[r].public_key());
  EXPECT_FALSE(load_public_keys({dir.string(), false, 0}, 4));
  // Never overwrites a key.
  const auto again = write_key_directory(dir, keys);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("already exists"), std::string::npos);
}

// As ssh does: a private key others can read may already be someone else's.
TEST(KeyFile, RefusesAPrivateKeyOthersCanRead) {
  const fedchain::testing::TempDir temp;
  const auto dir = temp.path() / "keys";
  ASSERT_TRUE(write_key_directory(dir, {*SigningKey::generate(), *SigningKey::generate()}));
  ASSERT_EQ(::chmod(private_key_path(dir, 1).c_str(), 0644), 0);
  ASSERT_TRUE(load_rank_key({dir.string(), false, 0}, 0));
  const auto loaded = load_rank_key({dir.string(), false, 0}, 1);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().kind, ErrorKind::kConfig);
  EXPECT_NE(loaded.error().message.find("can be read by other users (mode 0644)"),
            std::string::npos)
      << loaded.error().message;
}

// One key would cast two validators' votes.
TEST(KeyFile, RefusesTwoRanksWithOneKey) {
  const fedchain::testing::TempDir temp;
  const auto dir = temp.path() / "keys";
  const SigningKey shared = *SigningKey::generate();
  ASSERT_TRUE(write_key_directory(dir, {*SigningKey::generate(), shared, shared}));
  const auto listed = load_public_keys({dir.string(), false, 0}, 3);
  ASSERT_FALSE(listed);
  EXPECT_EQ(listed.error().kind, ErrorKind::kConfig);
  EXPECT_NE(listed.error().message.find("ranks 1 and 2 have the same public key"),
            std::string::npos)
      << listed.error().message;
}

TEST(KeyFile, NoKeySourceIsAConfigError) {
  auto key = load_rank_key({}, 0);
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().kind, ErrorKind::kConfig);
  auto derived = load_rank_key({"", true, 5}, 2);
  ASSERT_TRUE(derived);
  EXPECT_EQ(derived->public_key(), derive_rank_key(5, 2).public_key());
}

}  // namespace
}  // namespace fedchain::crypto
