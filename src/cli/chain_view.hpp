// How the chain's records read to a person or a script, shared by `fedchain inspect` (the
// table, the JSON list, one block whole) and `fedchain report` (its chain facts).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "fedchain/core/hash.hpp"
#include "fedchain/ledger/block.hpp"
#include "fedchain/ledger/certificate.hpp"

namespace fedchain::cli {

// "2026-12-03T08:05:25Z" for a header's ms since the Unix epoch.
std::string utc_time(std::uint64_t time_ms);
// Whether the block's rule left the tx's update out (header.rejected_clients).
bool is_rejected(const ledger::Block& block, const ledger::Tx& tx);
// Each tx: client, rank, weight, loss, samples, update_root, rejected.
nlohmann::json txs_json(const ledger::Block& block);
// Each piece of equivocation evidence: validator, height, round, type, the two blocks.
nlohmann::json evidence_json(const ledger::Block& block);
// "validator 2 signed two precommits at height 2 round 0: 1a2b... and nil"
std::string evidence_text(const ledger::Evidence& evidence);
// "trimmed_mean (trim_beta 0.1)"
std::string rule_text(const ledger::AggregationRule& rule);

}  // namespace fedchain::cli
