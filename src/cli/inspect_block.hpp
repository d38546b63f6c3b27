// `fedchain inspect RUN_DIR --height H [--json]`: one block whole (inspect_block.cpp).
#pragma once

#include <cstdint>

#include "fedchain/ledger/chain_store.hpp"

namespace fedchain::cli {

// Prints block `height` of `store`: its header field by field, every transaction with its
// signature, the certificate's signers, the evidence, and what the block changed in the
// chain state; as one JSON object with `json`. Exit 0, or 2 naming the tip for a height
// the chain does not hold.
int inspect_block(const ledger::ChainStore& store, std::uint64_t height, bool json);

}  // namespace fedchain::cli
