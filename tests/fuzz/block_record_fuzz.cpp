// Fuzz target: decode_block_record, the payload of every blocks.log record after genesis.
#include "fedchain/ledger/chain_store.hpp"
#include "fuzz_target.hpp"
#include "seeds.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fedchain;
  auto record = ledger::decode_block_record({data, size});
  if (!record) return 0;
  const Bytes again = ledger::encode_block_record(record->block, record->certificate);
  fuzz::require(again == Bytes(data, data + size), "decode then encode reproduces the record");
  return 0;
}

namespace fedchain::fuzz {
std::vector<Bytes> seeds() {
  std::vector<Bytes> out;
  for (const auto& b : seed_chain().blocks()) {
    out.push_back(ledger::encode_block_record(b.block, b.certificate));
  }
  return out;
}
}  // namespace fedchain::fuzz
