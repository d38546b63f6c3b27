// `fedchain inspect RUN_DIR [--txs] [--json]`: what is on the chain, one block per line
// (height, hash prefix, proposer, txs, evidence, rule, state root prefix, commit round,
// time; an epoch's first block with its committee under it), with --txs each block's transactions
// under it (client, rank, weight, loss, samples), and a line per piece of equivocation evidence; or
// all of it as a JSON array with full hashes for scripts. Reads only; `fedchain verify` audits.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "fedchain/ledger/chain_store.hpp"

namespace fedchain::cli {

namespace {

struct InspectArgs {
  std::string run_dir;
  bool txs = false;
  bool json = false;
};

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

std::string vote_target(const std::optional<Hash32>& block) {
  return block ? block->short_hex() : std::string("nil");
}

const char* vote_type(ledger::VoteType type) {
  return type == ledger::VoteType::kPrevote ? "prevote" : "precommit";
}

std::string utc_time(std::uint64_t time_ms) {
  const std::time_t seconds = static_cast<std::time_t>(time_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// Every block with full hashes, its transactions and evidence: for scripts.
void print_json(const ledger::ChainStore& store) {
  auto rows = nlohmann::json::array();
  for (const auto& stored : store.blocks()) {
    const auto& h = stored.block.header();
    auto evidence = nlohmann::json::array();
    for (const auto& e : stored.block.evidence()) {
      auto block = [](const std::optional<Hash32>& b) {
        return b ? nlohmann::json(b->hex()) : nlohmann::json(nullptr);
      };
      evidence.push_back({{"validator", e.validator()},
                          {"height", e.height()},
                          {"round", e.first().round},
                          {"type", vote_type(e.first().type)},
                          {"first_block", block(e.first().block_hash)},
                          {"second_block", block(e.second().block_hash)}});
    }
    rows.push_back({{"height", h.height},
                    {"hash", stored.block.hash().hex()},
                    {"prev_hash", h.prev_hash.hex()},
                    {"proposer", h.proposer},
                    {"state_root", h.state_root.hex()},
                    {"txs", txs_json(stored.block)},
                    {"evidence", evidence},
                    {"round", stored.certificate.round()},
                    {"rule", h.rule.name},
                    {"committee_hash", h.committee_hash.hex()},
                    {"committee", h.committee},
                    {"time_ms", h.time_ms}});
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
  std::printf("%s\n", fmt::format("{:>8}  {:<12}  {:>8}  {:>4}  {:>8}  {:<12}  {:<12}  {:>5}  {}",
                                  "height", "hash", "proposer", "txs", "evidence", "rule",
                                  "state_root", "round", "time")
                          .c_str());
  for (const auto& stored : store.blocks()) {
    const auto& h = stored.block.header();
    std::printf("%s\n", fmt::format("{:>8}  {:<12}  {:>8}  {:>4}  {:>8}  {:<12}  {:<12}  {:>5}  {}",
                                    h.height, stored.block.hash().short_hex(), h.proposer,
                                    stored.block.txs().size(), stored.block.evidence().size(),
                                    h.rule.name, h.state_root.short_hex(),
                                    stored.certificate.round(), utc_time(h.time_ms))
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
      std::printf("%s\n",
                  fmt::format("evidence in block {}: validator {} signed two {}s at "
                              "height {} round {}: {} and {}",
                              stored.block.height(), e.validator(), vote_type(e.first().type),
                              e.height(), e.first().round, vote_target(e.first().block_hash),
                              vote_target(e.second().block_hash))
                      .c_str());
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
                    "rank, weight, loss, samples, update_root, rejected), evidence, round, ...");
  inspect->callback([args, &exit_code] { exit_code = run_inspect(*args); });
}

}  // namespace fedchain::cli
