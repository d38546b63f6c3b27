// The test chain every fuzz target draws its seeds from: three validators, three blocks,
// a rejected update and a piece of evidence, so every optional field is present somewhere.
#include "seeds.hpp"

namespace fedchain::fuzz {

const ledger::testing::TestChain& seed_chain() {
  static const ledger::testing::TestChain chain = [] {
    ledger::testing::TestChain c({.validators = 3});
    c.add_block();
    c.add_block({.rejected_clients = {1}, .evidence = {c.make_evidence(2, 1)}});
    c.add_block({.round = 2});
    return c;
  }();
  return chain;
}

}  // namespace fedchain::fuzz
