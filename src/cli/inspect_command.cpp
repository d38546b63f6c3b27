// `fedchain inspect RUN_DIR [--txs] [--json] [--height H]`: what is on the chain, one block per
// line (height, hash prefix, proposer, txs, evidence, rule, state root prefix, commit round, time;
// an epoch's first block with its committee under it; with privacy.dp, the epsilon the chain
// state voted on after it), with --txs each block's transactions under it (client, rank,
// weight, loss, samples), and a line per piece of equivocation evidence; or all of it as a
// JSON array with full hashes for scripts; with --height, one block whole (inspect_block.cpp).
// Reads only; `fedchain verify` audits.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "chain_view.hpp"
#include "commands.hpp"
#include "fedchain/ledger/chain_store.hpp"
#include "inspect_block.hpp"

namespace fedchain::cli {

namespace {

struct InspectArgs {
  std::string run_dir;
  bool txs = false;
  bool json = false;
  std::optional<std::uint64_t> height;  // --height: one block whole
};

// Every block with full hashes, its transactions and evidence: for scripts.
void print_json(const ledger::ChainStore& store) {
  auto rows = nlohmann::json::array();
  const std::vector<std::uint64_t> epsilons = epsilon_micro_per_block(store);
  for (const auto& stored : store.blocks()) {
    const auto& h = stored.block.header();
    rows.push_back({{"height", h.height},
                    {"hash", stored.block.hash().hex()},
                    {"prev_hash", h.prev_hash.hex()},
                    {"proposer", h.proposer},
                    {"state_root", h.state_root.hex()},
                    {"txs", txs_json(stored.block)},
                    {"evidence", evidence_json(stored.block)},
                    {"round", stored.certificate.round()},
                    {"rule", h.rule.name},
                    {"committee_hash", h.committee_hash.hex()},
                    {"committee", h.committee},
                    {"time_ms", h.time_ms}});
    if (!epsilons.empty()) rows.back().update(epsilon_json(epsilons[h.height - 1]));
  }
  std::printf("%s\n", rows.dump(2).c_str());
}

// The genesis line, one row per block (with --txs, its transactions under it), the evidence
// and any torn tail.
void print_table(const ledger::ChainStore& store, bool with_txs) {
  const auto& genesis = store.genesis();
  const auto& cohort = genesis.fields().cohort.rule;
  const auto& committee = genesis.fields().committee;
  std::printf("%s\n", fmt::format("chain {}: genesis {}, {} validators (a committee of {} elected "
                                  "every {} heights), {} clients ({} per round, {}), rule {}, "
                                  "chunk {} bytes, data {}",
                                  genesis.chain_id().short_hex(), genesis.hash().short_hex(),
                                  genesis.validator_count(), committee.size, committee.epoch,
                                  genesis.fields().shards.size(), cohort.per_round,
                                  ledger::cohort_sampling_name(cohort.sampling),
                                  genesis.fields().rule.name, genesis.fields().merkle_chunk_bytes,
                                  genesis.fields().data_hash.short_hex())
                          .c_str());
  const ledger::ChainState initial = ledger::ChainState::from_genesis(genesis);
  if (const auto& privacy = initial.privacy()) {
    std::printf("%s\n", fmt::format("privacy.dp: {}; epsilon: the chain state's after each "
                                    "block, rounded up to millionths",
                                    mechanism_text(*privacy))
                            .c_str());
  }
  const std::vector<std::uint64_t> epsilons = epsilon_micro_per_block(store);
  const auto epsilon_cell = [&](std::string text) {
    return epsilons.empty() ? std::string() : fmt::format("{:>12}  ", text);
  };
  std::printf("%s\n", fmt::format("{:>8}  {:<12}  {:>8}  {:>4}  {:>8}  {:<12}  {:<12}  {:>5}  {}{}",
                                  "height", "hash", "proposer", "txs", "evidence", "rule",
                                  "state_root", "round", epsilon_cell("epsilon"), "time")
                          .c_str());
  for (const auto& stored : store.blocks()) {
    const auto& h = stored.block.header();
    const std::string epsilon =
        epsilons.empty() ? std::string() : epsilon_cell(epsilon_text(epsilons[h.height - 1]));
    std::printf(
        "%s\n",
        fmt::format("{:>8}  {:<12}  {:>8}  {:>4}  {:>8}  {:<12}  {:<12}  {:>5}  {}{}", h.height,
                    stored.block.hash().short_hex(), h.proposer, stored.block.txs().size(),
                    stored.block.evidence().size(), h.rule.name, h.state_root.short_hex(),
                    stored.certificate.round(), epsilon, utc_time(h.time_ms))
            .c_str());
    if (!h.committee.empty()) {
      std::printf("%s\n", fmt::format("{:>14} {} from height {}", "committee",
                                      fmt::join(h.committee, " "), h.height)
                              .c_str());
    }
    if (!with_txs) continue;
    for (const auto& tx : stored.block.txs()) {
      std::printf("%s\n",
                  fmt::format("{:>14} {:<6} rank {:<5} weight {:<7} loss {:<8.4f} "
                              "samples {}{}",
                              "client", tx.client(), tx.rank(), tx.weight(), tx.loss(),
                              tx.samples(), is_rejected(stored.block, tx) ? "  rejected" : "")
                      .c_str());
    }
  }
  for (const auto& stored : store.blocks()) {
    for (const auto& e : stored.block.evidence()) {
      std::printf(
          "%s\n",
          fmt::format("evidence in block {}: {}", stored.block.height(), evidence_text(e)).c_str());
    }
  }
  if (const auto& torn = store.torn_tail()) {
    std::printf("(torn tail: height %llu was never committed, %llu bytes at byte %llu)\n",
                static_cast<unsigned long long>(torn->height),
                static_cast<unsigned long long>(torn->bytes),
                static_cast<unsigned long long>(torn->offset));
  }
}

int run_inspect(const InspectArgs& args) {
  auto store = ledger::ChainStore::open(args.run_dir, ledger::OpenMode::kReadOnly);
  if (!store) return report(store.error());
  if (args.height) return inspect_block(*store, *args.height, args.json);
  if (args.json) {
    print_json(*store);
  } else {
    print_table(*store, args.txs);
  }
  return 0;
}

}  // namespace

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<InspectArgs>();
  auto* inspect = app.add_subcommand("inspect", "List a run's blocks (table, or --json)");
  inspect->add_option("run_dir", args->run_dir, "Run directory (holds chain/blocks.log)")
      ->required();
  inspect->add_flag("--txs", args->txs,
                    "Under each block, its transactions: client, rank, weight, loss, samples");
  inspect->add_flag("--json", args->json,
                    "JSON array: height, hash, prev_hash, proposer, state_root, txs (client, "
                    "rank, weight, loss, samples, update_root, rejected), evidence, round, ..., "
                    "with privacy.dp epsilon and epsilon_micro; with --height, one object for "
                    "that block");
  auto height = std::make_shared<std::uint64_t>(0);
  auto* height_option = inspect->add_option(
      "--height", *height,
      "One block whole: header, every transaction, certificate signers, evidence, and what it "
      "changed in the chain state (validators, jail, contributions, cohort, committee)");
  inspect->callback([args, height, height_option, &exit_code] {
    if (height_option->count() > 0) args->height = *height;
    exit_code = run_inspect(*args);
  });
}

}  // namespace fedchain::cli
