// One block whole, for `fedchain inspect --height` (inspect_block.hpp). The chain-state
// changes come from replaying the chain with ledger::state_at, unverified like the rest of
// inspect: `fedchain verify` says whether the chain holds.
#include "inspect_block.hpp"

#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "chain_view.hpp"
#include "commands.hpp"
#include "fedchain/ledger/state_change.hpp"

namespace fedchain::cli {

namespace {

using ledger::StateChange;
using ledger::StoredBlock;

nlohmann::json header_json(const ledger::BlockHeader& h) {
  auto params = nlohmann::json::object();
  for (const auto& p : h.rule.params) params[p.name] = p.value;
  return {{"version", h.version},
          {"chain_id", h.chain_id.hex()},
          {"height", h.height},
          {"prev_hash", h.prev_hash.hex()},
          {"proposer", h.proposer},
          {"time_ms", h.time_ms},
          {"tx_root", h.tx_root.hex()},
          {"evidence_root", h.evidence_root.hex()},
          {"state_root", h.state_root.hex()},
          {"chain_state_hash", h.chain_state_hash.hex()},
          {"rule", {{"name", h.rule.name}, {"params", params}}},
          {"rejected_clients", h.rejected_clients},
          {"committee_hash", h.committee_hash.hex()},
          {"committee", h.committee}};
}

std::vector<std::uint32_t> signers(const ledger::CommitCertificate& certificate) {
  std::vector<std::uint32_t> out;
  for (const auto& s : certificate.signatures()) out.push_back(s.validator);
  return out;
}

nlohmann::json validator_json(const ledger::ValidatorState& v) {
  return {{"power", v.power}, {"jailed", v.jailed}, {"rejected_streak", v.rejected_streak}};
}

nlohmann::json contribution_json(const ledger::Contribution& c) {
  return {{"samples_trained", c.samples_trained},
          {"updates_accepted", c.updates_accepted},
          {"updates_rejected", c.updates_rejected},
          {"rewards", c.rewards}};
}

nlohmann::json list_change_json(const std::optional<ledger::ListChange>& change) {
  if (!change) return nullptr;
  return {{"before", change->before}, {"after", change->after}};
}

nlohmann::json change_json(const StateChange& change, const Hash32& after_hash) {
  auto validators = nlohmann::json::array();
  for (const auto& v : change.validators) {
    validators.push_back({{"validator", v.validator},
                          {"before", validator_json(v.before)},
                          {"after", validator_json(v.after)}});
  }
  auto contributions = nlohmann::json::array();
  for (const auto& c : change.contributions) {
    contributions.push_back({{"validator", c.validator},
                             {"before", contribution_json(c.before)},
                             {"after", contribution_json(c.after)}});
  }
  nlohmann::json privacy = nullptr;
  if (change.privacy) {
    privacy = {{"mechanism", mechanism_json(change.privacy->after)},
               {"noised_rounds",
                {{"before", change.privacy->before.noised_rounds},
                 {"after", change.privacy->after.noised_rounds}}},
               {"before", epsilon_json(change.privacy->before.epsilon_micro)},
               {"after", epsilon_json(change.privacy->after.epsilon_micro)}};
  }
  return {{"validators", validators},
          {"contributions", contributions},
          {"cohort", list_change_json(change.cohort)},
          {"committee", list_change_json(change.committee)},
          {"privacy", privacy},
          {"chain_state_hash_after", after_hash.hex()}};
}

void print_json(const StoredBlock& stored, const StateChange& change, const Hash32& after_hash) {
  auto txs = txs_json(stored.block);
  for (std::size_t i = 0; i < txs.size(); ++i) {
    const auto& tx = stored.block.txs()[i];
    txs[i]["hash"] = tx.hash().hex();
    txs[i]["signature"] = to_hex(tx.signature().view());
  }
  auto signatures = nlohmann::json::array();
  for (const auto& s : stored.certificate.signatures()) {
    signatures.push_back({{"validator", s.validator}, {"signature", to_hex(s.signature.view())}});
  }
  const nlohmann::json out = {{"hash", stored.block.hash().hex()},
                              {"header", header_json(stored.block.header())},
                              {"txs", txs},
                              {"certificate",
                               {{"round", stored.certificate.round()},
                                {"block_hash", stored.certificate.block_hash().hex()},
                                {"signers", signers(stored.certificate)},
                                {"signatures", signatures}}},
                              {"evidence", evidence_json(stored.block)},
                              {"state_change", change_json(change, after_hash)}};
  std::printf("%s\n", out.dump(2).c_str());
}

template <typename... Args>
void field(std::string_view label, fmt::format_string<Args...> text, Args&&... args) {
  fmt::print("  {:<18} {}\n", label, fmt::format(text, std::forward<Args>(args)...));
}

std::string ids(const std::vector<std::uint32_t>& list) {
  return list.empty() ? std::string("none") : fmt::format("{}", fmt::join(list, " "));
}

void print_header(const StoredBlock& stored) {
  const auto& h = stored.block.header();
  fmt::print("block {} (hash {})\n", h.height, stored.block.hash().hex());
  field("version", "{}", h.version);
  field("chain_id", "{}", h.chain_id.hex());
  field("prev_hash", "{}", h.prev_hash.hex());
  field("proposer", "{}", h.proposer);
  field("time", "{} ({} ms)", utc_time(h.time_ms), h.time_ms);
  field("tx_root", "{}", h.tx_root.hex());
  field("evidence_root", "{}", h.evidence_root.hex());
  field("state_root", "{}", h.state_root.hex());
  field("chain_state_hash", "{} (the state before this block)", h.chain_state_hash.hex());
  field("rule", "{}", rule_text(h.rule));
  field("rejected_clients", "{}", ids(h.rejected_clients));
  field("committee_hash", "{}", h.committee_hash.hex());
  field("committee", "{}",
        h.committee.empty() ? std::string("(listed only in an epoch's first block)")
                            : ids(h.committee));
  fmt::print("certificate: round {}, {} signers: {}\n", stored.certificate.round(),
             stored.certificate.signatures().size(), ids(signers(stored.certificate)));
}

void print_body(const StoredBlock& stored) {
  fmt::print("transactions: {}\n", stored.block.txs().size());
  for (const auto& tx : stored.block.txs()) {
    fmt::print(
        "  client {:<6} rank {:<5} weight {:<7} loss {:<8.4f} samples {:<7} update_root {}"
        "{}\n    tx {} signature {}\n",
        tx.client(), tx.rank(), tx.weight(), tx.loss(), tx.samples(), tx.update_root().hex(),
        is_rejected(stored.block, tx) ? "  rejected" : "", tx.hash().short_hex(),
        to_hex(tx.signature().view()));
  }
  fmt::print("evidence: {}\n", stored.block.evidence().size());
  for (const auto& e : stored.block.evidence()) fmt::print("  {}\n", evidence_text(e));
}

void print_change(const StateChange& change, const Hash32& after_hash) {
  fmt::print("chain state changes (hash after: {}):\n", after_hash.hex());
  for (const auto& v : change.validators) {
    fmt::print("  validator {}: power {} -> {}, jailed {} -> {}, rejected streak {} -> {}\n",
               v.validator, v.before.power, v.after.power, v.before.jailed, v.after.jailed,
               v.before.rejected_streak, v.after.rejected_streak);
  }
  for (const auto& c : change.contributions) {
    fmt::print(
        "  rank {}: samples {} -> {}, accepted {} -> {}, rejected {} -> {}, rewards {} -> {}\n",
        c.validator, c.before.samples_trained, c.after.samples_trained, c.before.updates_accepted,
        c.after.updates_accepted, c.before.updates_rejected, c.after.updates_rejected,
        c.before.rewards, c.after.rewards);
  }
  if (change.cohort) {
    fmt::print("  next cohort: {} (was {})\n", ids(change.cohort->after),
               ids(change.cohort->before));
  }
  if (change.committee) {
    fmt::print("  next committee: {} (was {})\n", ids(change.committee->after),
               ids(change.committee->before));
  }
  if (const auto& privacy = change.privacy) {
    fmt::print("  privacy: noised rounds {} -> {}, epsilon {} -> {} ({})\n",
               privacy->before.noised_rounds, privacy->after.noised_rounds,
               epsilon_text(privacy->before.epsilon_micro),
               epsilon_text(privacy->after.epsilon_micro), mechanism_text(privacy->after));
  }
  if (change.validators.empty() && change.contributions.empty() && !change.cohort &&
      !change.committee && !change.privacy) {
    fmt::print("  none beyond the height and last block\n");
  }
}

}  // namespace

int inspect_block(const ledger::ChainStore& store, std::uint64_t height, bool json) {
  if (height == 0 || height > store.height()) {
    return report(config_error(
        "{}: there is no block at height {}: the chain's tip is height {}{}", store.name(), height,
        store.height(),
        height == 0 ? "; height 0 is genesis (fedchain inspect without --height describes it)"
                    : ""));
  }
  const ledger::ChainState before = ledger::state_at(store, height - 1);
  const StoredBlock& stored = store.at(height);
  const ledger::ChainState after = before.apply(stored.block);
  const StateChange change = ledger::state_change(before, after);
  if (json) {
    print_json(stored, change, after.hash());
    return 0;
  }
  print_header(stored);
  print_body(stored);
  print_change(change, after.hash());
  return 0;
}

}  // namespace fedchain::cli
