#include "fedchain/ledger/vote.hpp"

#include "fedchain/core/encoding.hpp"

namespace fedchain::ledger {

namespace {
constexpr std::string_view kVoteDomain = "fedchain/vote/v1";
}  // namespace

Bytes Vote::sign_bytes() const {
  Writer w;
  w.raw(as_bytes(kVoteDomain));
  signed_fields(w, *this);
  return w.take();
}

Bytes Vote::encode() const {
  Writer w;
  wire_fields(w, *this);
  return w.take();
}

Result<Vote> Vote::decode(ByteView bytes) {
  Reader r(bytes, "vote");
  Vote v;
  wire_fields(r, v);
  if (r.ok() && v.type != VoteType::kPrevote && v.type != VoteType::kPrecommit) {
    r.fail("bad-vote-type", fmt::format("vote type {}", static_cast<int>(v.type)));
  }
  if (auto st = r.finish(); !st) return st.error();
  return v;
}

bool Vote::conflicts_with(const Vote& other) const {
  return chain_id == other.chain_id && validator == other.validator && height == other.height &&
         round == other.round && type == other.type && block_hash != other.block_hash;
}

}  // namespace fedchain::ledger
