// Fuzz target: Tx::decode (update commitments from peers and from blocks.log).
#include "fedchain/ledger/tx.hpp"
#include "fuzz_target.hpp"
#include "seeds.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fedchain::fuzz::check_canonical<fedchain::ledger::Tx>(data, size);
  return 0;
}

namespace fedchain::fuzz {
std::vector<Bytes> seeds() {
  std::vector<Bytes> out;
  for (const auto& tx : seed_chain().blocks()[1].block.txs()) out.push_back(tx.encode());
  return out;
}
}  // namespace fedchain::fuzz
