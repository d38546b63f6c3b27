// Key directories: what `fedchain keygen --ranks N --out DIR` writes and what a job names
// with [keys] dir. Layout (docs/formats.md, "Key directory"):
//   DIR/rank-N.key        the private key of rank N: PEM PKCS#8 Ed25519, mode 0600
//   DIR/public-keys.txt   one line per rank: "N <64 hex digits of the public key>"
// The PEM files are what `openssl pkey` reads, so keys can be checked with stock tools.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fedchain/core/error.hpp"
#include "fedchain/core/signature.hpp"
#include "fedchain/crypto/ed25519.hpp"

namespace fedchain::crypto {

std::filesystem::path private_key_path(const std::filesystem::path& dir, std::uint32_t rank);
std::filesystem::path public_key_list_path(const std::filesystem::path& dir);

// Writes `keys` (key i is rank i) into `dir`, creating it. Refuses to overwrite an
// existing key file: losing a private key that a chain's genesis names is unrecoverable.
Status write_key_directory(const std::filesystem::path& dir, const std::vector<SigningKey>& keys);

Result<SigningKey> read_private_key(const std::filesystem::path& path);

// The key at `path`, made (fresh from the OS's random source, mode 0600) when there is none.
// A new key is written whole to a temp file and linked into place, so two processes making
// it at once both end up with the one that was linked first, never a partial file.
Result<SigningKey> load_or_create_private_key(const std::filesystem::path& path);
// Public keys in rank order, exactly ranks 0..N-1.
Result<std::vector<PublicKey>> read_public_keys(const std::filesystem::path& dir);

// Where a run's keys come from: the job's [keys] section.
struct KeySource {
  std::string dir;                // a directory written by `fedchain keygen`
  bool derive_from_seed = false;  // derive_rank_key(seed, rank): demos and tests only
  std::int64_t seed = 0;          // the job seed
};

// The signing key of `rank`. With derive_from_seed it logs a warning every time: such keys
// protect nothing, anyone with the job file can sign as any rank.
Result<SigningKey> load_rank_key(const KeySource& source, std::uint32_t rank);
// Every rank's public key, for genesis.
Result<std::vector<PublicKey>> load_public_keys(const KeySource& source, std::uint32_t ranks);

}  // namespace fedchain::crypto
