// Fuzz target: Evidence::decode (two votes, canonically ordered).
#include "fedchain/ledger/certificate.hpp"
#include "fuzz_target.hpp"
#include "seeds.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fedchain::fuzz::check_canonical<fedchain::ledger::Evidence>(data, size);
  return 0;
}

namespace fedchain::fuzz {
std::vector<Bytes> seeds() {
  std::vector<Bytes> out;
  for (const auto& e : seed_chain().blocks()[1].block.evidence()) out.push_back(e.encode());
  return out;
}
}  // namespace fedchain::fuzz
