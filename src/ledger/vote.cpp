#include "fedchain/ledger/vote.hpp"

#include <cstring>

#include "fedchain/core/encoding.hpp"

namespace fedchain::ledger {

namespace {
constexpr std::uint8_t kVoteVersion = 1;
constexpr std::string_view kVoteDomain = "fedchain/vote/v1";

void write_body(Writer& w, const Vote& v) {
  w.hash(v.chain_id).u64(v.height).u32(v.round).u8(static_cast<std::uint8_t>(v.type));
  w.u8(v.block_hash ? 1 : 0).hash(v.block_hash.value_or(Hash32{}));
  w.u32(v.validator);
}
}  // namespace

Bytes Vote::sign_bytes() const {
  Writer w;
  w.raw(as_bytes(kVoteDomain));
  write_body(w, *this);
  return w.take();
}

Bytes Vote::encode() const {
  Writer w;
  w.u8(kVoteVersion);
  write_body(w, *this);
  w.raw(signature.view());
  return w.take();
}

Result<Vote> Vote::decode(ByteView bytes) {
  Reader r(bytes, "vote");
  r.version(kVoteVersion);
  Vote v;
  v.chain_id = r.hash();
  v.height = r.u64();
  v.round = r.u32();
  const std::uint8_t type = r.u8();
  if (r.ok() && type != 1 && type != 2) r.fail("bad-vote-type", fmt::format("vote type {}", type));
  v.type = static_cast<VoteType>(type);
  const std::uint8_t has_block = r.u8();
  const Hash32 block = r.hash();
  if (r.ok() && has_block > 1) r.fail("bad-flag", "nil flag must be 0 or 1");
  if (r.ok() && has_block == 0 && !block.is_zero()) {
    r.fail("non-canonical", "a nil vote must carry an all-zero block hash");
  }
  if (has_block == 1) v.block_hash = block;
  v.validator = r.u32();
  const Bytes sig = r.raw(64);
  if (auto st = r.finish(); !st) return st.error();
  std::memcpy(v.signature.bytes.data(), sig.data(), 64);
  return v;
}

bool Vote::conflicts_with(const Vote& other) const {
  return chain_id == other.chain_id && validator == other.validator && height == other.height &&
         round == other.round && type == other.type && block_hash != other.block_hash;
}

}  // namespace fedchain::ledger
