// The slow, obviously correct Merkle tree that the fast one (src/crypto/merkle.cpp) is
// checked against: every preimage spelled out as bytes, one level at a time, one thread.
#pragma once

#include <vector>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/hash.hpp"
#include "fedchain/crypto/sha256.hpp"

namespace fedchain::crypto::reference {

inline Hash32 merkle_root(ByteView data, std::size_t chunk_bytes) {
  std::vector<Hash32> level;
  std::size_t begin = 0;
  do {
    Bytes preimage{0x00};
    for (std::size_t i = begin; i < data.size() && i < begin + chunk_bytes; ++i) {
      preimage.push_back(data[i]);
    }
    level.push_back(sha256(preimage));
    begin += chunk_bytes;
  } while (begin < data.size());
  while (level.size() > 1) {
    std::vector<Hash32> up;
    for (std::size_t i = 0; i < level.size(); i += 2) {
      if (i + 1 == level.size()) {
        up.push_back(level[i]);  // odd node: promoted unchanged
        continue;
      }
      Bytes preimage{0x01};
      preimage.insert(preimage.end(), level[i].bytes.begin(), level[i].bytes.end());
      preimage.insert(preimage.end(), level[i + 1].bytes.begin(), level[i + 1].bytes.end());
      up.push_back(sha256(preimage));
    }
    level = up;
  }
  return level[0];
}

}  // namespace fedchain::crypto::reference
