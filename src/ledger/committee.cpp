// Committee election by stake (see committee.hpp).
#include "fedchain/ledger/committee.hpp"

#include <algorithm>
#include <string_view>

#include "fedchain/core/encoding.hpp"
#include "fedchain/core/random.hpp"
#include "fedchain/crypto/sha256.hpp"
#include "fedchain/ledger/cohort.hpp"

namespace fedchain::ledger {

namespace {
constexpr std::string_view kCommitteeDomain = "fedchain/committee";
}  // namespace

std::vector<std::uint32_t> elect_committee(std::span<const std::uint64_t> stakes,
                                           std::uint32_t size,
                                           const Hash32& previous_epoch_last_block) {
  const Hash32 digest =
      crypto::sha256({as_bytes(kCommitteeDomain), previous_epoch_last_block.view()});
  std::uint64_t seed = 0;
  for (int i = 7; i >= 0; --i) seed = (seed << 8) | digest.bytes[static_cast<std::size_t>(i)];
  SeededRandom random(seed);
  std::vector<std::uint32_t> committee = draw_weighted(stakes, size, random);
  std::sort(committee.begin(), committee.end());
  return committee;
}

Hash32 committee_hash(std::span<const std::uint32_t> committee) {
  Writer w;
  w.raw(as_bytes(kCommitteeDomain));
  w.u32(static_cast<std::uint32_t>(committee.size()));
  for (const std::uint32_t v : committee) w.u32(v);
  return crypto::sha256(w.data());
}

}  // namespace fedchain::ledger
