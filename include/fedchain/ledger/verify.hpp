// Auditing a whole chain (docs/architecture.md, invariant 6): replay it from genesis and re-check
// every block against the chain state before it, the way the ranks did when they voted.
// `fedchain verify` is a thin wrapper around verify_run().
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "fedchain/core/error.hpp"
#include "fedchain/ledger/chain_state.hpp"
#include "fedchain/ledger/chain_store.hpp"
#include "fedchain/ledger/validation.hpp"

namespace fedchain::ledger {

struct VerifyOptions {
  // The proposer rotation (consensus owns it); empty accepts any active proposer.
  ProposerRule proposer_rule;
  // Extension point for artefacts outside the chain, run after block h verified, with the
  // state after it: checkpoints (io/) compare a checkpoint's hash with the header's
  // state_root here, archived updates recompute the aggregate. An error stops the audit
  // at height h like any other failure.
  std::function<Status(const Genesis& genesis, const Block& block, const ChainState& after)>
      check_block_extra;
};

struct VerifyReport {
  std::uint64_t height = 0;  // the chain's last height (after any torn tail)
  std::uint64_t blocks_verified = 0;
  std::uint64_t txs = 0;
  std::uint64_t signatures = 0;  // tx, evidence and precommit signatures checked
  std::uint64_t evidence = 0;
  std::optional<TornTail> torn_tail;
  std::optional<std::uint64_t> bad_height;  // the first height that failed
  std::optional<Error> error;               // why it failed (message without the height)
  std::optional<ChainState> final_state;    // the state after the last verified block

  bool ok() const { return !error.has_value(); }
};

// Verifies genesis and every block of an open store.
VerifyReport verify_chain(const ChainStore& store, const VerifyOptions& options = {});

// Opens RUN_DIR/chain/blocks.log read-only (damage is reported with its height), checks
// RUN_DIR/job.toml (when present) hashes to the chain id, then verify_chain().
VerifyReport verify_run(const std::filesystem::path& run_dir, const VerifyOptions& options = {});

}  // namespace fedchain::ledger
