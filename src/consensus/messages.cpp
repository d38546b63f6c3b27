// Canonical encoding of Proposal and of the message envelope (docs/consensus.md, Messages).
#include "fedchain/consensus/messages.hpp"

#include <cstring>

#include "fedchain/core/encoding.hpp"

namespace fedchain::consensus {

namespace {
constexpr std::uint8_t kProposalVersion = 1;
constexpr std::string_view kProposalDomain = "fedchain/proposal/v1";
constexpr std::uint8_t kTagProposal = 1;
constexpr std::uint8_t kTagVote = 2;

void write_header(Writer& w, const Proposal& p) {
  w.hash(p.chain_id).u64(p.height).u32(p.round);
  w.u8(p.pol_round ? 1 : 0).u32(p.pol_round.value_or(0));
  w.hash(p.block_hash).u32(p.proposer);
}
}  // namespace

Bytes Proposal::sign_bytes() const {
  Writer w;
  w.raw(as_bytes(kProposalDomain));
  write_header(w, *this);
  return w.take();
}

Bytes Proposal::encode() const {
  Writer w;
  w.u8(kProposalVersion);
  write_header(w, *this);
  w.bytes(block);
  w.raw(signature.view());
  return w.take();
}

Result<Proposal> Proposal::decode(ByteView bytes, std::size_t max_block_bytes) {
  Reader r(bytes, "proposal");
  r.version(kProposalVersion);
  Proposal p;
  p.chain_id = r.hash();
  p.height = r.u64();
  p.round = r.u32();
  const std::uint8_t has_pol = r.u8();
  const std::uint32_t pol_round = r.u32();
  if (r.ok() && has_pol > 1) r.fail("bad-flag", "pol flag must be 0 or 1");
  if (r.ok() && has_pol == 0 && pol_round != 0) {
    r.fail("non-canonical", "a proposal without a pol round must carry pol round 0");
  }
  if (r.ok() && has_pol == 1 && pol_round >= p.round) {
    r.fail("bad-pol-round", fmt::format("pol round {} is not below round {}", pol_round, p.round));
  }
  if (has_pol == 1) p.pol_round = pol_round;
  p.block_hash = r.hash();
  p.proposer = r.u32();
  p.block = r.bytes(max_block_bytes);
  const Bytes sig = r.raw(64);
  if (auto st = r.finish(); !st) return st.error();
  std::memcpy(p.signature.bytes.data(), sig.data(), 64);
  return p;
}

Bytes encode_message(const Message& message) {
  Bytes body;
  std::uint8_t tag = kTagVote;
  if (const auto* proposal = std::get_if<Proposal>(&message)) {
    tag = kTagProposal;
    body = proposal->encode();
  } else {
    body = std::get<ledger::Vote>(message).encode();
  }
  Bytes out;
  out.reserve(body.size() + 1);
  out.push_back(tag);
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Result<Message> decode_message(ByteView bytes, std::size_t max_block_bytes) {
  if (bytes.empty()) return reject("truncated", "consensus message is empty");
  const ByteView body = bytes.subspan(1);
  switch (bytes[0]) {
    case kTagProposal: {
      auto p = Proposal::decode(body, max_block_bytes);
      if (!p) return p.error();
      return Message{std::move(p).value()};
    }
    case kTagVote: {
      auto v = ledger::Vote::decode(body);
      if (!v) return v.error();
      return Message{std::move(v).value()};
    }
    default:
      return reject("unknown-message", "consensus message tag {} is unknown", bytes[0]);
  }
}

}  // namespace fedchain::consensus
