// Fuzz target: Vote::decode (votes arrive from peers and sit in certificates and evidence).
#include "fedchain/ledger/vote.hpp"
#include "fuzz_target.hpp"
#include "seeds.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fedchain::fuzz::check_canonical<fedchain::ledger::Vote>(data, size);
  return 0;
}

namespace fedchain::fuzz {
std::vector<Bytes> seeds() {
  std::vector<Bytes> out;
  for (const auto& v :
       seed_chain().blocks()[0].certificate.votes(seed_chain().genesis().chain_id()))
    out.push_back(v.encode());
  for (const auto& e : seed_chain().blocks()[1].block.evidence()) out.push_back(e.first().encode());
  return out;
}
}  // namespace fedchain::fuzz
