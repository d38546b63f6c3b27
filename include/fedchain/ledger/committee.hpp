// The validator committee (docs/consensus.md, "The committee"): the validators that vote,
// elected by stake every epoch, so that the quorum's work stays with c validators however
// many ranks the job has. Every other rank follows: it checks the committed block's
// certificate instead of voting. Pure functions of what the chain records (genesis stakes,
// jailing, block hashes), so anyone recomputes every committee from the chain.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "fedchain/core/hash.hpp"

namespace fedchain::ledger {

// Epoch k (from 0) is heights k * E + 1 to (k + 1) * E; its first height starts it.
inline std::uint64_t epoch_of(std::uint64_t height, std::uint64_t epoch_heights) {
  return (height - 1) / epoch_heights;
}
inline bool starts_epoch(std::uint64_t height, std::uint64_t epoch_heights) {
  return (height - 1) % epoch_heights == 0;
}

// The committee of the epoch after the block whose hash is `previous_epoch_last_block`
// (the genesis hash for epoch 0): `size` validators drawn without replacement with
// probability proportional to `stakes` (draw_weighted, ledger/cohort.hpp; the caller
// passes a jailed validator's stake as 0, and stake 0 is never drawn), from SeededRandom seeded by
// the first 8 bytes (little-endian) of SHA-256("fedchain/committee" || previous_epoch_last_block);
// ascending. Fewer than `size` when fewer validators are eligible. The block hash, not a state
// root: it is fixed only once the epoch's last block is committed, so nobody knows the next
// committee while the epoch runs.
std::vector<std::uint32_t> elect_committee(std::span<const std::uint64_t> stakes,
                                           std::uint32_t size,
                                           const Hash32& previous_epoch_last_block);

// SHA-256("fedchain/committee" || count as u32 LE || each index as u32 LE): what a block
// header records of the committee that certified it.
Hash32 committee_hash(std::span<const std::uint32_t> committee);

}  // namespace fedchain::ledger
