// The chunked Merkle tree: hand-computed roots, the reference tree over many sizes and
// thread counts, the odd-node rule that defeats the duplicate-leaf trap, and proofs.
#include <gtest/gtest.h>

#include "fedchain/crypto/merkle.hpp"
#include "fedchain/crypto/sha256.hpp"
#include "merkle_reference.hpp"

namespace fedchain::crypto {
namespace {

Bytes pattern(std::size_t n) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(i * 31 + (i >> 8));
  return out;
}

Hash32 h(std::string_view hex_preimage) {
  return sha256(*from_hex(hex_preimage));
}

TEST(Merkle, EmptyInputIsOneEmptyLeaf) {
  EXPECT_EQ(merkle_root({}, 64).hex(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  EXPECT_EQ(merkle_leaf_count(0, 64), 1u);
}

TEST(Merkle, HandComputedThreeChunkTree) {
  // "abcdefghij" in chunks of 4: "abcd", "efgh", "ij"; the third leaf is promoted.
  const Hash32 l0 = h("0061626364");
  const Hash32 l1 = h("0065666768");
  const Hash32 l2 = h("00696a");
  const Hash32 n01 = h("01" + l0.hex() + l1.hex());
  const Hash32 root = h("01" + n01.hex() + l2.hex());
  EXPECT_EQ(merkle_root(as_bytes("abcdefghij"), 4), root);
  EXPECT_EQ(merkle_root(as_bytes("abcd"), 4), l0);  // one chunk: the root is the leaf
  EXPECT_EQ(merkle_root(as_bytes("abcdefgh"), 4), n01);
}

TEST(Merkle, DuplicatedLastLeafChangesTheRoot) {
  // CVE-2012-2459: with "duplicate the odd node", [a b c] and [a b c c] collide.
  EXPECT_NE(merkle_root(as_bytes("aaaabbbbcccc"), 4), merkle_root(as_bytes("aaaabbbbcccccccc"), 4));
  const Hash32 a = sha256(as_bytes("a"));
  EXPECT_NE(merkle_root_of_hashes({a, a}), merkle_root_of_hashes({a}));
}

TEST(Merkle, MatchesReferenceForEverySizeAndThreadCount) {
  const Bytes data = pattern(5000);
  for (std::size_t chunk : {1u, 7u, 64u, 1000u, 4096u}) {
    for (std::size_t size : {0u, 1u, 6u, 7u, 8u, 63u, 64u, 65u, 129u, 999u, 1000u, 1001u, 5000u}) {
      const ByteView view(data.data(), size);
      const Hash32 expected = reference::merkle_root(view, chunk);
      for (int threads : {1, 2, 3, 5, 16}) {
        ASSERT_EQ(merkle_root(view, chunk, threads), expected)
            << "size " << size << " chunk " << chunk << " threads " << threads;
      }
    }
  }
}

TEST(Merkle, RootOfHashesTreatsEachHashAsAChunk) {
  std::vector<Hash32> hashes;
  Bytes joined;
  for (int i = 0; i < 5; ++i) {
    hashes.push_back(sha256(as_bytes(std::to_string(i))));
    joined.insert(joined.end(), hashes.back().bytes.begin(), hashes.back().bytes.end());
  }
  EXPECT_EQ(merkle_root_of_hashes(hashes), merkle_root(joined, 32));
  EXPECT_EQ(merkle_root_of_hashes({}), merkle_root({}, 32));
}

TEST(Merkle, EveryProofChecksAndTamperedProofsFail) {
  const Bytes data = pattern(700);
  for (std::size_t size : {1u, 64u, 65u, 300u, 448u, 700u}) {
    const ByteView view(data.data(), size);
    const Hash32 root = merkle_root(view, 64);
    const std::size_t leaves = merkle_leaf_count(size, 64);
    for (std::uint64_t i = 0; i < leaves; ++i) {
      auto proof = make_merkle_proof(view, 64, i, 2);
      ASSERT_TRUE(proof) << proof.error().message;
      const ByteView chunk = view.subspan(i * 64, std::min<std::size_t>(64, size - i * 64));
      ASSERT_TRUE(check_merkle_proof(root, chunk, *proof)) << "size " << size << " leaf " << i;

      Bytes other(chunk.begin(), chunk.end());
      other.push_back(0x5a);
      EXPECT_FALSE(check_merkle_proof(root, other, *proof));
      if (!proof->siblings.empty()) {
        auto bad = *proof;
        bad.siblings[0].bytes[3] ^= 0x80;
        EXPECT_FALSE(check_merkle_proof(root, chunk, bad));
        bad = *proof;
        bad.siblings.push_back(root);
        EXPECT_FALSE(check_merkle_proof(root, chunk, bad));
        bad = *proof;
        bad.siblings.pop_back();
        EXPECT_FALSE(check_merkle_proof(root, chunk, bad));
      }
      if (leaves > 1) {
        auto moved = *proof;
        moved.leaf_index = (i + 1) % leaves;
        EXPECT_FALSE(check_merkle_proof(root, chunk, moved));
      }
    }
    EXPECT_FALSE(make_merkle_proof(view, 64, leaves));
  }
}

}  // namespace
}  // namespace fedchain::crypto
