// Fuzz target: Block::decode, then the context-free checks on whatever decodes (they must
// refuse or accept, never crash), and the canonical round trip.
#include "fedchain/ledger/block.hpp"
#include "fedchain/ledger/validation.hpp"
#include "fuzz_target.hpp"
#include "seeds.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fedchain::fuzz::check_canonical<fedchain::ledger::Block>(data, size);
  if (auto block = fedchain::ledger::Block::decode({data, size})) {
    (void)fedchain::ledger::check_block(*block);
  }
  return 0;
}

namespace fedchain::fuzz {
std::vector<Bytes> seeds() {
  std::vector<Bytes> out;
  for (const auto& b : seed_chain().blocks()) out.push_back(b.block.encode());
  return out;
}
}  // namespace fedchain::fuzz
