// Fuzz target: consensus::decode_message, the envelope of every proposal and vote a rank
// receives from its peers over MPI (net::ConsensusLoop decodes each one).
#include <algorithm>

#include "fedchain/consensus/messages.hpp"
#include "fuzz_target.hpp"
#include "seeds.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using fedchain::fuzz::require;
  const fedchain::ByteView input(data, size);
  auto decoded = fedchain::consensus::decode_message(input);
  if (!decoded) {
    require(!decoded.error().code.empty(), "a refusal carries a reason code");
    return 0;
  }
  const fedchain::Bytes again = fedchain::consensus::encode_message(*decoded);
  require(again.size() == size && std::equal(again.begin(), again.end(), input.begin()),
          "decode then encode reproduces the input");
  return 0;
}

namespace fedchain::fuzz {
// Proposals carrying each block of the seed chain (one a re-proposal with a pol round), and
// the votes of its certificates and evidence (precommits, a prevote, a nil vote).
std::vector<Bytes> seeds() {
  const auto& chain = seed_chain();
  std::vector<Bytes> out;
  for (const auto& stored : chain.blocks()) {
    consensus::Proposal p;
    p.chain_id = chain.genesis().chain_id();
    p.height = stored.block.height();
    p.round = stored.certificate.round();
    if (p.round > 0) p.pol_round = p.round - 1;
    p.block = stored.block.encode();
    p.block_hash = stored.block.hash();
    p.proposer = stored.block.header().proposer;
    p.signature = chain.keys()[p.proposer].sign(p.sign_bytes());
    out.push_back(consensus::encode_message(p));
    for (const auto& vote : stored.certificate.votes(chain.genesis().chain_id())) {
      out.push_back(consensus::encode_message(vote));
    }
    for (const auto& e : stored.block.evidence()) {
      out.push_back(consensus::encode_message(e.first()));
    }
  }
  ledger::Vote nil_prevote;
  nil_prevote.chain_id = chain.genesis().chain_id();
  nil_prevote.height = 2;
  nil_prevote.round = 1;
  nil_prevote.validator = 1;
  nil_prevote.signature = chain.keys()[1].sign(nil_prevote.sign_bytes());
  out.push_back(consensus::encode_message(nil_prevote));
  return out;
}
}  // namespace fedchain::fuzz
