// Fuzz target: BlockHeader::decode.
#include "fedchain/ledger/block.hpp"
#include "fuzz_target.hpp"
#include "seeds.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fedchain::fuzz::check_canonical<fedchain::ledger::BlockHeader>(data, size);
  return 0;
}

namespace fedchain::fuzz {
std::vector<Bytes> seeds() {
  std::vector<Bytes> out;
  for (const auto& b : seed_chain().blocks()) out.push_back(b.block.header().encode());
  return out;
}
}  // namespace fedchain::fuzz
