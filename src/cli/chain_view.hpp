// How the chain's records read to a person or a script, shared by `fedchain inspect` (the
// table, the JSON list, one block whole) and `fedchain report` (its chain facts).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fedchain/core/hash.hpp"
#include "fedchain/ledger/block.hpp"
#include "fedchain/ledger/certificate.hpp"
#include "fedchain/ledger/chain_state.hpp"
#include "fedchain/ledger/chain_store.hpp"

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
// With privacy.dp in genesis's job: the chain state's voted epsilon after each block
// (entry h - 1 for height h), replayed from genesis; empty without privacy.dp.
std::vector<std::uint64_t> epsilon_micro_per_block(const ledger::ChainStore& store);
// A voted epsilon as printed: "2.596556", or "unbounded" (no noise).
std::string epsilon_text(std::uint64_t epsilon_micro);
// A voted epsilon for scripts: {"epsilon": number, or null when unbounded, "epsilon_micro"}.
nlohmann::json epsilon_json(std::uint64_t epsilon_micro);
// The mechanism a privacy record names: clip, noise multiplier, delta, q = C/K.
nlohmann::json mechanism_json(const ledger::PrivacyRecord& record);
std::string mechanism_text(const ledger::PrivacyRecord& record);

}  // namespace fedchain::cli
