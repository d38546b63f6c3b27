// Fuzz target: a whole blocks.log (ChainStore::parse), then the full audit (verify_chain)
// of whatever opens. Opening must refuse or accept, never crash; whatever it accepts
// must verify or be refused with a height.
#include <filesystem>

#include <spdlog/spdlog.h>

#include "fedchain/ledger/chain_store.hpp"
#include "fedchain/ledger/verify.hpp"
#include "fuzz_target.hpp"
#include "seeds.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fedchain;
  // Most inputs have a torn tail; one warning each would drown the run.
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::err);
    return true;
  }();
  (void)quiet;
  ledger::ChainDamage damage;
  auto store = ledger::ChainStore::parse({data, size}, "fuzz", &damage);
  if (!store) {
    fuzz::require(!store.error().code.empty(), "a refused chain file carries a reason code");
    return 0;
  }
  const ledger::VerifyReport report = ledger::verify_chain(*store);
  fuzz::require(report.ok() || report.bad_height.has_value(), "a failed audit names a height");
  return 0;
}

namespace fedchain::fuzz {
std::vector<Bytes> seeds() {
  ledger::testing::TempDir dir;
  seed_chain().write(dir.path());
  return {ledger::testing::read_bytes(ledger::ChainStore::log_path(dir.path()))};
}
}  // namespace fedchain::fuzz
