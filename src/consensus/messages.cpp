// Canonical encoding of Proposal and of the message envelope (docs/consensus.md, Messages).
#include "fedchain/consensus/messages.hpp"

#include "fedchain/core/encoding.hpp"

namespace fedchain::consensus {

namespace {
constexpr std::string_view kProposalDomain = "fedchain/proposal/v1";

constexpr std::uint8_t kTagProposal = 1;
constexpr std::uint8_t kTagVote = 2;

// The envelope tag of each message kind; a kind added to Message without one does not compile.
constexpr std::uint8_t tag_of(const Proposal&) {
  return kTagProposal;
}
constexpr std::uint8_t tag_of(const ledger::Vote&) {
  return kTagVote;
}
}  // namespace

Bytes Proposal::sign_bytes() const {
  Writer w;
  w.raw(as_bytes(kProposalDomain));
  signed_fields(w, *this);
  return w.take();
}

Bytes Proposal::encode() const {
  Writer w;
  wire_fields(w, *this);
  return w.take();
}

Result<Proposal> Proposal::decode(ByteView bytes, std::size_t max_block_bytes) {
  Reader r(bytes, "proposal");
  Proposal p;
  wire_fields(r, p, max_block_bytes);
  if (r.ok() && p.pol_round && *p.pol_round >= p.round) {
    r.fail("bad-pol-round",
           fmt::format("pol round {} is not below round {}", *p.pol_round, p.round));
  }
  if (auto st = r.finish(); !st) return st.error();
  return p;
}

Bytes encode_message(const Message& message) {
  Writer w;
  std::visit([&w](const auto& m) { w.u8(tag_of(m)).raw(m.encode()); }, message);
  return w.take();
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
