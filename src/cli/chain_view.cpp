// Readable forms of chain records (chain_view.hpp).
#include "chain_view.hpp"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

namespace fedchain::cli {

namespace {

std::string vote_target(const std::optional<Hash32>& block) {
  return block ? block->short_hex() : std::string("nil");
}

const char* vote_type(ledger::VoteType type) {
  return type == ledger::VoteType::kPrevote ? "prevote" : "precommit";
}

}  // namespace

std::string utc_time(std::uint64_t time_ms) {
  const std::time_t seconds = static_cast<std::time_t>(time_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

bool is_rejected(const ledger::Block& block, const ledger::Tx& tx) {
  const auto& rejected = block.header().rejected_clients;
  return std::binary_search(rejected.begin(), rejected.end(), tx.client());
}

nlohmann::json txs_json(const ledger::Block& block) {
  auto txs = nlohmann::json::array();
  for (const auto& tx : block.txs()) {
    txs.push_back({{"client", tx.client()},
                   {"rank", tx.rank()},
                   {"weight", tx.weight()},
                   {"loss", tx.loss()},
                   {"samples", tx.samples()},
                   {"update_root", tx.update_root().hex()},
                   {"rejected", is_rejected(block, tx)}});
  }
  return txs;
}

nlohmann::json evidence_json(const ledger::Block& block) {
  auto evidence = nlohmann::json::array();
  const auto target = [](const std::optional<Hash32>& b) {
    return b ? nlohmann::json(b->hex()) : nlohmann::json(nullptr);
  };
  for (const auto& e : block.evidence()) {
    evidence.push_back({{"validator", e.validator()},
                        {"height", e.height()},
                        {"round", e.first().round},
                        {"type", vote_type(e.first().type)},
                        {"first_block", target(e.first().block_hash)},
                        {"second_block", target(e.second().block_hash)}});
  }
  return evidence;
}

std::string evidence_text(const ledger::Evidence& e) {
  return fmt::format("validator {} signed two {}s at height {} round {}: {} and {}", e.validator(),
                     vote_type(e.first().type), e.height(), e.first().round,
                     vote_target(e.first().block_hash), vote_target(e.second().block_hash));
}

std::string rule_text(const ledger::AggregationRule& rule) {
  std::string text = rule.name;
  for (std::size_t i = 0; i < rule.params.size(); ++i) {
    text += fmt::format("{}{} {}", i == 0 ? " (" : ", ", rule.params[i].name, rule.params[i].value);
  }
  return rule.params.empty() ? text : text + ")";
}

std::vector<std::uint64_t> epsilon_micro_per_block(const ledger::ChainStore& store) {
  ledger::ChainState state = ledger::ChainState::from_genesis(store.genesis());
  if (!state.privacy()) return {};
  std::vector<std::uint64_t> out;
  for (const auto& stored : store.blocks()) {
    state = state.apply(stored.block);
    out.push_back(state.privacy()->epsilon_micro);
  }
  return out;
}

std::string epsilon_text(std::uint64_t epsilon_micro) {
  if (epsilon_micro == ledger::kEpsilonMicroUnbounded) return "unbounded";
  return fmt::format("{}.{:06}", epsilon_micro / 1000000, epsilon_micro % 1000000);
}

nlohmann::json epsilon_json(std::uint64_t epsilon_micro) {
  const nlohmann::json epsilon = epsilon_micro == ledger::kEpsilonMicroUnbounded
                                     ? nlohmann::json(nullptr)
                                     : nlohmann::json(ledger::epsilon_of_micro(epsilon_micro));
  return {{"epsilon", epsilon}, {"epsilon_micro", epsilon_micro}};
}

nlohmann::json mechanism_json(const ledger::PrivacyRecord& record) {
  return {{"clip", record.clip},
          {"noise_multiplier", record.noise_multiplier},
          {"delta", record.delta},
          {"sampled_clients", record.sampled_clients},
          {"clients", record.clients}};
}

std::string mechanism_text(const ledger::PrivacyRecord& record) {
  return fmt::format("clip {}, noise multiplier {}, delta {}, q = {}/{}", record.clip,
                     record.noise_multiplier, record.delta, record.sampled_clients, record.clients);
}

}  // namespace fedchain::cli
