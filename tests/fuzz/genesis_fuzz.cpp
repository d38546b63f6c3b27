// Fuzz target: Genesis::decode (record 0 of blocks.log).
#include "fedchain/ledger/genesis.hpp"
#include "fuzz_target.hpp"
#include "seeds.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fedchain::fuzz::check_canonical<fedchain::ledger::Genesis>(data, size);
  return 0;
}

namespace fedchain::fuzz {
std::vector<Bytes> seeds() {
  std::vector<Bytes> out;
  out.push_back(seed_chain().genesis().encode());
  return out;
}
}  // namespace fedchain::fuzz
