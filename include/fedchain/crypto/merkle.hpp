// The chunked Merkle tree that commits to a tensor's bytes (a quantized update, a model)
// and to lists of hashes (a block's transactions). The bytes are cut into chunks of
// `chunk_bytes` (recorded in genesis, default 64 KiB; the last chunk may be shorter); each
// chunk is a leaf. Leaf hashing runs on several threads; the root never depends on how
// many. The exact rules are in merkle.cpp and docs/formats.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/hash.hpp"

namespace fedchain::crypto {

inline constexpr std::size_t kDefaultMerkleChunkBytes = 65536;

// leaf = SHA-256(0x00 || chunk)
Hash32 merkle_leaf(ByteView chunk);
// node = SHA-256(0x01 || left || right)
Hash32 merkle_node(const Hash32& left, const Hash32& right);

// Number of leaves for `size` bytes: ceil(size / chunk_bytes), and 1 for empty input (one
// empty chunk), so every input, the empty one included, has a root.
std::size_t merkle_leaf_count(std::size_t size, std::size_t chunk_bytes);

// Leaf hashes of every chunk, computed on `threads` threads (1 or more).
std::vector<Hash32> merkle_leaves(ByteView data, std::size_t chunk_bytes, int threads = 1);

// Root over leaf hashes (at least one).
Hash32 merkle_root_of_leaves(std::vector<Hash32> level);

// Root of `data` cut into `chunk_bytes` chunks; chunk_bytes must be > 0.
Hash32 merkle_root(ByteView data, std::size_t chunk_bytes, int threads = 1);

// Root over a list of 32-byte hashes, each its own leaf (block tx and evidence roots).
Hash32 merkle_root_of_hashes(const std::vector<Hash32>& hashes);

// Inclusion proof for one chunk: the sibling hashes from the leaf up to the root. A level
// where the node has no sibling (odd node, promoted) contributes nothing.
struct MerkleProof {
  std::uint64_t leaf_index = 0;
  std::uint64_t leaf_count = 0;
  std::vector<Hash32> siblings;  // (levels with a sibling), leaf level first
};

// Proof that chunk `leaf_index` of `data` is in merkle_root(data, chunk_bytes).
Result<MerkleProof> make_merkle_proof(ByteView data, std::size_t chunk_bytes,
                                      std::uint64_t leaf_index, int threads = 1);

// True when `chunk` at proof.leaf_index of a tree of proof.leaf_count leaves hashes up to
// `root`. Refuses proofs with too many or too few siblings.
bool check_merkle_proof(const Hash32& root, ByteView chunk, const MerkleProof& proof);

}  // namespace fedchain::crypto
