// The simulator's application: what a block holds, and the honest validity rule. It
// stands in for fedchain's node: a block carries the state root its proposer computed,
// and a validator accepts it only if that root equals its own (docs/consensus.md).
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "fake_crypto.hpp"
#include "fedchain/ledger/vote.hpp"

namespace fedchain::consensus::sim {

// One equivocation: who, where, which vote type.
struct EvidenceKey {
  std::uint32_t validator = 0;
  std::uint64_t height = 0;
  std::uint32_t round = 0;
  ledger::VoteType type = ledger::VoteType::kPrevote;
  auto operator<=>(const EvidenceKey&) const = default;
};
EvidenceKey key_of(const ledger::Vote& vote);

struct SimBlock {
  std::uint64_t height = 0;
  std::uint32_t proposer = 0;
  Hash32 state_root;
  std::uint64_t nonce = 0;  // an equivocating proposer varies it to make a second block
  std::vector<std::pair<ledger::Vote, ledger::Vote>> evidence;

  Bytes encode() const;
  static std::optional<SimBlock> decode(ByteView bytes);
};

// The root every honest validator computes for `height`.
Hash32 honest_state_root(std::uint64_t height);

// The honest rule: the right height and root, and every piece of evidence is two
// conflicting votes that both verify.
bool block_is_valid(const SimBlock& block, std::uint64_t height, const FakeKeys& keys,
                    std::uint32_t n);

}  // namespace fedchain::consensus::sim
