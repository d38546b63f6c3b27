// The chunked Merkle tree (see merkle.hpp for the interface).
//
// WARNING: the odd-node rule, and the trap it avoids.
//
//   Leaves are chunk hashes: leaf = H(0x00 || chunk). Each level pairs nodes (0,1), (2,3),
//   ...; a pair becomes H(0x01 || left || right). When a level has an odd number of nodes
//   the last one has no partner and is PROMOTED UNCHANGED to the next level. It is never
//   paired with a copy of itself.
//
//           root              root = H(0x01 || n01 || L2)
//          /    |
//       n01     L2            L2 promoted: never H(0x01 || L2 || L2)
//      /   |
//    L0    L1                 n01 = H(0x01 || L0 || L1)
//
//   Bitcoin duplicated the odd node instead, so the leaf lists [a, b, c] and [a, b, c, c]
//   had the same root (CVE-2012-2459): a peer could send a block with a repeated
//   transaction that hashed like a valid one. Promotion gives every leaf count its own
//   tree shape, and the 0x00/0x01 prefixes keep a leaf from ever being read as an inner
//   node (or the reverse), so two different leaf lists cannot share a root without a
//   SHA-256 collision. Do not "simplify" either rule: a root computed any other way is a
//   different commitment and every existing chain stops verifying.
#include "fedchain/crypto/merkle.hpp"

#include <algorithm>
#include <thread>

#include "fedchain/crypto/sha256.hpp"

namespace fedchain::crypto {

namespace {
constexpr std::uint8_t kLeafTag = 0x00;
constexpr std::uint8_t kNodeTag = 0x01;

ByteView chunk_at(ByteView data, std::size_t chunk_bytes, std::size_t index) {
  const std::size_t begin = index * chunk_bytes;
  const std::size_t end = std::min(data.size(), begin + chunk_bytes);
  return data.subspan(begin, end - begin);
}

void hash_leaf_range(ByteView data, std::size_t chunk_bytes, std::size_t first, std::size_t last,
                     Hash32* out) {
  Sha256 hasher;
  for (std::size_t i = first; i < last; ++i) {
    hasher.reset();
    hasher.update_byte(kLeafTag).update(chunk_at(data, chunk_bytes, i));
    out[i] = hasher.finish();
  }
}

// One level up: pairs hashed, an odd last node promoted (see the WARNING above).
std::vector<Hash32> next_level(const std::vector<Hash32>& level) {
  std::vector<Hash32> up;
  up.reserve((level.size() + 1) / 2);
  for (std::size_t i = 0; i + 1 < level.size(); i += 2) {
    up.push_back(merkle_node(level[i], level[i + 1]));
  }
  if (level.size() % 2 == 1) up.push_back(level.back());
  return up;
}
}  // namespace

Hash32 merkle_leaf(ByteView chunk) {
  const std::uint8_t tag = kLeafTag;
  return sha256({ByteView(&tag, 1), chunk});
}

Hash32 merkle_node(const Hash32& left, const Hash32& right) {
  const std::uint8_t tag = kNodeTag;
  return sha256({ByteView(&tag, 1), left.view(), right.view()});
}

std::size_t merkle_leaf_count(std::size_t size, std::size_t chunk_bytes) {
  if (size == 0) return 1;
  return (size + chunk_bytes - 1) / chunk_bytes;
}

std::vector<Hash32> merkle_leaves(ByteView data, std::size_t chunk_bytes, int threads) {
  const std::size_t count = merkle_leaf_count(data.size(), chunk_bytes);
  std::vector<Hash32> leaves(count);
  // Contiguous ranges, one per thread: each leaf is written by exactly one thread to its
  // own slot, so the result is the same for any thread count.
  const std::size_t workers =
      std::clamp<std::size_t>(static_cast<std::size_t>(std::max(threads, 1)), 1, count);
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  for (std::size_t w = 1; w < workers; ++w) {
    pool.emplace_back(hash_leaf_range, data, chunk_bytes, count * w / workers,
                      count * (w + 1) / workers, leaves.data());
  }
  hash_leaf_range(data, chunk_bytes, 0, count / workers, leaves.data());
  for (auto& t : pool) t.join();
  return leaves;
}

Hash32 merkle_root_of_leaves(std::vector<Hash32> level) {
  if (level.empty()) return merkle_leaf({});
  while (level.size() > 1) level = next_level(level);
  return level.front();
}

Hash32 merkle_root(ByteView data, std::size_t chunk_bytes, int threads) {
  return merkle_root_of_leaves(merkle_leaves(data, chunk_bytes, threads));
}

Hash32 merkle_root_of_hashes(const std::vector<Hash32>& hashes) {
  std::vector<Hash32> leaves;
  leaves.reserve(hashes.size());
  for (const auto& h : hashes) leaves.push_back(merkle_leaf(h.view()));
  return merkle_root_of_leaves(std::move(leaves));
}

Result<MerkleProof> make_merkle_proof(ByteView data, std::size_t chunk_bytes,
                                      std::uint64_t leaf_index, int threads) {
  std::vector<Hash32> level = merkle_leaves(data, chunk_bytes, threads);
  if (leaf_index >= level.size()) {
    return reject("bad-leaf-index", "chunk {} is out of range: the data has {} chunks", leaf_index,
                  level.size());
  }
  MerkleProof proof;
  proof.leaf_index = leaf_index;
  proof.leaf_count = level.size();
  std::uint64_t index = leaf_index;
  while (level.size() > 1) {
    const std::uint64_t sibling = index ^ 1;
    if (sibling < level.size()) proof.siblings.push_back(level[sibling]);
    level = next_level(level);
    index /= 2;
  }
  return proof;
}

bool check_merkle_proof(const Hash32& root, ByteView chunk, const MerkleProof& proof) {
  if (proof.leaf_count == 0 || proof.leaf_index >= proof.leaf_count) return false;
  Hash32 node = merkle_leaf(chunk);
  std::uint64_t index = proof.leaf_index;
  std::uint64_t width = proof.leaf_count;
  std::size_t used = 0;
  while (width > 1) {
    const bool promoted = index == width - 1 && width % 2 == 1;
    if (!promoted) {
      if (used == proof.siblings.size()) return false;
      const Hash32& sibling = proof.siblings[used++];
      node = index % 2 == 0 ? merkle_node(node, sibling) : merkle_node(sibling, node);
    }
    index /= 2;
    width = (width + 1) / 2;
  }
  return used == proof.siblings.size() && node == root;
}

}  // namespace fedchain::crypto
