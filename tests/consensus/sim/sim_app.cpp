// The simulator's block format and validity rule (see sim_app.hpp).
#include "sim_app.hpp"

#include "fedchain/core/encoding.hpp"

namespace fedchain::consensus::sim {

EvidenceKey key_of(const ledger::Vote& vote) {
  return {vote.validator, vote.height, vote.round, vote.type};
}

Bytes SimBlock::encode() const {
  Writer w;
  w.u8(1).u64(height).u32(proposer).hash(state_root).u64(nonce);
  w.u32(static_cast<std::uint32_t>(evidence.size()));
  for (const auto& [first, second] : evidence) w.bytes(first.encode()).bytes(second.encode());
  return w.take();
}

std::optional<SimBlock> SimBlock::decode(ByteView bytes) {
  Reader r(bytes, "sim block");
  r.version(1);
  SimBlock b;
  b.height = r.u64();
  b.proposer = r.u32();
  b.state_root = r.hash();
  b.nonce = r.u64();
  const std::uint32_t count = r.u32();
  for (std::uint32_t i = 0; r.ok() && i < count; ++i) {
    const Bytes first = r.bytes(1024);
    const Bytes second = r.bytes(1024);
    auto a = ledger::Vote::decode(first);
    auto c = ledger::Vote::decode(second);
    if (!a || !c) return std::nullopt;
    b.evidence.emplace_back(std::move(a).value(), std::move(c).value());
  }
  if (!r.finish()) return std::nullopt;
  return b;
}

Hash32 honest_state_root(std::uint64_t height) {
  Writer w;
  w.u64(height);
  return fake_hash(w.data(), 0x5747e);
}

bool block_is_valid(const SimBlock& block, std::uint64_t height, const FakeKeys& keys,
                    std::uint32_t n) {
  if (block.height != height || block.state_root != honest_state_root(height)) return false;
  for (const auto& [first, second] : block.evidence) {
    if (!first.conflicts_with(second) || first.validator >= n) return false;
    if (!keys.verify(first.validator, first.sign_bytes(), first.signature)) return false;
    if (!keys.verify(second.validator, second.sign_bytes(), second.signature)) return false;
  }
  return true;
}

}  // namespace fedchain::consensus::sim
