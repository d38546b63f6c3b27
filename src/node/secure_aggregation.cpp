// Secure aggregation for fedavg's allreduce (Bonawitz et al. 2017, without dropouts: an MPI
// job loses no rank mid-round and goes on). Every pair of ranks shares a mask key; each
// rank adds, for every other rank, the pair's mask (ChaCha20 words of the key and the
// height) to its partial sum, with opposite signs on the two sides, so the masks cancel in
// the sum modulo 2^64 and no rank sees another's partial sum (docs/privacy.md).
#include <spdlog/spdlog.h>

#include "fedchain/core/encoding.hpp"
#include "fedchain/crypto/key_file.hpp"
#include "fedchain/crypto/merkle.hpp"
#include "node.hpp"
#include "privacy.hpp"

namespace fedchain::node {

namespace {

constexpr std::size_t kAnnouncementBytes = 32 + 64;  // X25519 public key, Ed25519 signature

// What a rank signs to bind its agreement key to its identity in genesis.
Bytes binding_message(std::uint64_t job_seed, std::uint32_t rank,
                      const crypto::AgreementPublicKey& key) {
  Writer w;
  w.raw(as_bytes("fedchain/agreement-key/v1")).u64(job_seed).u32(rank).raw(key);
  return w.take();
}

}  // namespace

Result<std::vector<crypto::SecretKey>> agree_pair_keys(const Node& node,
                                                       const crypto::SigningKey& key) {
  const auto job_seed = static_cast<std::uint64_t>(node.job.job.seed);
  const auto self = static_cast<std::uint32_t>(node.rank);
  // The X25519 key is derived from the signing key: a resumed run agrees on the same masks.
  Writer info;
  info.u64(job_seed);
  auto agreement = crypto::AgreementKey::from_secret(
      crypto::hkdf_sha256(key.seed(), as_bytes("fedchain/x25519/v1"), info.data()));
  if (!agreement) return agreement.error();
  const crypto::KeySource source{node.job.keys.dir, node.job.keys.derive_from_seed,
                                 node.job.job.seed};
  auto identities = crypto::load_public_keys(source, static_cast<std::uint32_t>(node.ranks));
  Status loaded = identities ? Status{} : Status(identities.error());
  if (auto st = node.comm->agree(loaded); !st) return st.error();

  Bytes mine(agreement->public_key().begin(), agreement->public_key().end());
  const Signature signature = key.sign(binding_message(job_seed, self, agreement->public_key()));
  mine.insert(mine.end(), signature.bytes.begin(), signature.bytes.end());
  auto announced = node.comm->gather_bytes(mine, kAnnouncementBytes, 1);
  if (!announced) return announced.error();

  std::vector<crypto::SecretKey> pair_keys(static_cast<std::size_t>(node.ranks));
  Status agreed;
  for (std::uint32_t r = 0; r < static_cast<std::uint32_t>(node.ranks) && agreed; ++r) {
    if (r == self) continue;
    const Bytes& sent = (*announced)[r];
    crypto::AgreementPublicKey peer{};
    Signature peer_signature;
    if (sent.size() == kAnnouncementBytes) {
      std::copy_n(sent.begin(), peer.size(), peer.begin());
      std::copy_n(sent.begin() + 32, peer_signature.bytes.size(), peer_signature.bytes.begin());
    }
    if (sent.size() != kAnnouncementBytes ||
        !crypto::verify((*identities)[r], binding_message(job_seed, r, peer), peer_signature)) {
      agreed = runtime_error(
          "secure aggregation: rank {}'s agreement key is not signed by its Ed25519 key (the "
          "one genesis records); no masks can be agreed with it",
          r);
      break;
    }
    auto shared = agreement->shared_secret(peer);
    if (!shared) {
      agreed = runtime_error("secure aggregation: rank {}'s agreement key: {}", r,
                             shared.error().message);
      break;
    }
    Writer pair;
    pair.u32(std::min(self, r)).u32(std::max(self, r)).u64(job_seed);
    pair_keys[r] =
        crypto::hkdf_sha256(*shared, as_bytes("fedchain/secure-aggregation/v1"), pair.data());
  }
  if (auto st = node.comm->agree(agreed); !st) return st.error();
  return pair_keys;
}

std::vector<Hash32> update_roots_to_sign(const Node& node, std::uint64_t height,
                                         std::span<const MemberUpdate> members) {
  std::vector<const MemberUpdate*> finite;
  for (const auto& member : members) {
    if (member.finite) finite.push_back(&member);
  }
  std::vector<Hash32> roots;
  if (!node.privacy || node.privacy->pair_keys.empty()) {
    for (const MemberUpdate* member : finite) roots.push_back(update_root_of(member->q, node.job));
    return roots;
  }
  // What is left of the rank's masks goes to the last member.
  const std::size_t d = node.global.theta.size();
  std::vector<std::uint64_t> rest(d, 0);
  add_masks(node.privacy->pair_keys, static_cast<std::size_t>(node.rank), height, rest);
  std::vector<std::uint64_t> masked(d);
  for (std::size_t i = 0; i < finite.size(); ++i) {
    const MemberUpdate& member = *finite[i];
    if (i + 1 < finite.size()) {
      Writer info;
      info.u32(member.client).u64(height);
      const auto key = crypto::hkdf_sha256(node.privacy->rank_secret,
                                           as_bytes("fedchain/client-mask/v1"), info.data());
      crypto::KeyStream(key, 0).fill(masked);
      for (std::size_t j = 0; j < d; ++j) rest[j] -= masked[j];
    } else {
      masked = rest;
    }
    const auto weight = static_cast<std::uint64_t>(aggregation_weight(node, member.client));
    for (std::size_t j = 0; j < d; ++j) {
      masked[j] += weight * static_cast<std::uint64_t>(std::int64_t{member.q[j]});
    }
    roots.push_back(
        crypto::merkle_root(bytes_of(std::span<const std::uint64_t>(masked)),
                            static_cast<std::size_t>(node.job.ledger.merkle_chunk_bytes),
                            static_cast<int>(node.job.train.threads)));
  }
  return roots;
}

void add_masks(std::span<const crypto::SecretKey> pair_keys, std::size_t self, std::uint64_t height,
               std::span<std::uint64_t> partial) {
  std::vector<std::uint64_t> mask(partial.size());
  for (std::size_t r = 0; r < pair_keys.size(); ++r) {
    if (r == self) continue;
    crypto::KeyStream(pair_keys[r], height).fill(mask);
    const bool adds = r > self;
    for (std::size_t j = 0; j < partial.size(); ++j) {
      partial[j] = adds ? partial[j] + mask[j] : partial[j] - mask[j];
    }
  }
}

}  // namespace fedchain::node
