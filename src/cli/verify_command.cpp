// `fedchain verify RUN_DIR`: the audit of DESIGN.md invariant 4. Re-checks every record,
// hash link, signature, certificate quorum and the genesis, with the proposer rotation of
// consensus/, then every checkpoint against its block. Prints a one-line verdict and a
// summary; exit 0 when everything holds, 3 naming the first bad height otherwise.
//
// Extension point: further per-block audits (recomputing aggregates from archived
// updates) plug into VerifyOptions::check_block_extra beside check_checkpoint below.
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "fedchain/consensus/validator_set.hpp"
#include "fedchain/crypto/merkle.hpp"
#include "fedchain/io/checkpoint.hpp"
#include "fedchain/ledger/verify.hpp"

namespace fedchain::cli {

namespace {

std::uint32_t consensus_proposer(const ledger::ChainState& state, std::uint64_t height,
                                 std::uint32_t round) {
  std::vector<consensus::ValidatorInfo> infos;
  for (const auto& v : state.validators()) infos.push_back({v.power, v.jailed});
  auto set = consensus::ValidatorSet::make(std::move(infos));
  // No active power at all: no proposer can be right; validate_block refuses it anyway.
  if (!set) return static_cast<std::uint32_t>(-1);
  return set->proposer(height, round);
}

struct CheckpointFiles {
  std::map<std::uint64_t, std::filesystem::path> by_height;
  std::vector<std::string> unreadable;  // what read_checkpoint said about each
};

// RUN_DIR/checkpoints/*.h5, by the height each names.
CheckpointFiles find_checkpoints(const std::filesystem::path& dir) {
  CheckpointFiles found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".h5") continue;
    auto checkpoint = io::read_checkpoint(entry.path());
    if (!checkpoint) {
      found.unreadable.push_back(checkpoint.error().message);
      continue;
    }
    found.by_height.emplace(checkpoint->meta.height, entry.path());
  }
  return found;
}

// A checkpoint belongs to its block (chain id, block hash) and its parameters hash to the
// header's state_root: merkle_root of the float32 parameters, little-endian, in model
// order, cut into the genesis chunk size (docs/formats.md, "State root").
Status check_checkpoint(const std::filesystem::path& path, const ledger::Genesis& genesis,
                        const ledger::Block& block) {
  auto checkpoint = io::read_checkpoint(path);
  if (!checkpoint) return reject("bad-checkpoint", "{}", checkpoint.error().message);
  const auto& meta = checkpoint->meta;
  if (meta.chain_id != genesis.chain_id() || meta.block_hash != block.hash()) {
    return reject("checkpoint-mismatch", "{} names block {} of chain {}, not this block {}",
                  path.string(), meta.block_hash.short_hex(), meta.chain_id.short_hex(),
                  block.hash().short_hex());
  }
  const auto& params = checkpoint->params;
  const ByteView bytes(reinterpret_cast<const std::uint8_t*>(params.data()),
                       params.size() * sizeof(float));
  const Hash32 root = crypto::merkle_root(bytes, genesis.fields().merkle_chunk_bytes, 2);
  if (root != block.header().state_root || meta.state_root != root) {
    return reject("checkpoint-state-root",
                  "{}: parameters hash to {}, the checkpoint says {}, the block's state root is {}",
                  path.string(), root.short_hex(), meta.state_root.short_hex(),
                  block.header().state_root.short_hex());
  }
  return {};
}

int run_verify(const std::string& run_dir) {
  const auto checkpoints = find_checkpoints(std::filesystem::path(run_dir) / "checkpoints");
  std::size_t checkpoints_checked = 0;
  ledger::VerifyOptions options;
  options.proposer_rule = consensus_proposer;
  options.check_block_extra = [&](const ledger::Genesis& genesis, const ledger::Block& block,
                                  const ledger::ChainState&) -> Status {
    const auto it = checkpoints.by_height.find(block.height());
    if (it == checkpoints.by_height.end()) return {};
    ++checkpoints_checked;
    return check_checkpoint(it->second, genesis, block);
  };
  ledger::VerifyReport report = ledger::verify_run(run_dir, options);
  const bool initial_checkpoint = checkpoints.by_height.count(0) > 0;
  if (report.ok() && !checkpoints.unreadable.empty()) {
    report.error = reject("bad-checkpoint", "{}", checkpoints.unreadable.front());
  }
  if (report.ok() && !checkpoints.by_height.empty() &&
      checkpoints.by_height.rbegin()->first > report.height) {
    report.bad_height = checkpoints.by_height.rbegin()->first;
    report.error = reject("orphan-checkpoint",
                          "{} is for a height the chain does not have (it ends at height {})",
                          checkpoints.by_height.rbegin()->second.string(), report.height);
  }
  if (!report.ok()) {
    if (!report.bad_height) return cli::report(*report.error);
    std::printf("FAILED: %s: height %llu: %s [%s]\n", run_dir.c_str(),
                static_cast<unsigned long long>(*report.bad_height), report.error->message.c_str(),
                report.error->code.c_str());
    if (report.blocks_verified > 0) {
      std::printf("  heights 1 to %llu verified before it\n",
                  static_cast<unsigned long long>(report.blocks_verified));
    } else if (*report.bad_height > 1) {
      std::printf(
          "  the chain file must read cleanly before anything is audited: restore "
          "blocks.log from a replica, or keep the run's heights before %llu\n",
          static_cast<unsigned long long>(*report.bad_height));
    }
    return 3;
  }
  std::printf(
      "OK: %s verifies: %llu blocks, %llu txs, %llu signatures, %llu evidence, "
      "%zu checkpoints\n",
      run_dir.c_str(), static_cast<unsigned long long>(report.blocks_verified),
      static_cast<unsigned long long>(report.txs),
      static_cast<unsigned long long>(report.signatures),
      static_cast<unsigned long long>(report.evidence), checkpoints_checked);
  const auto& state = *report.final_state;
  std::string jailed;
  for (std::size_t i = 0; i < state.validators().size(); ++i) {
    if (state.validators()[i].jailed) jailed += fmt::format("{}{}", jailed.empty() ? "" : " ", i);
  }
  std::printf("  tip          height %llu, block %s\n",
              static_cast<unsigned long long>(state.height()),
              state.last_block_hash().hex().c_str());
  std::printf("  validators   %zu, active power %llu, jailed: %s\n", state.validators().size(),
              static_cast<unsigned long long>(state.active_power()),
              jailed.empty() ? "none" : jailed.c_str());
  if (report.torn_tail) {
    std::printf(
        "  torn tail    height %llu: %llu bytes at byte %llu were never committed (a "
        "crash mid-append); a resumed run cuts them off\n",
        static_cast<unsigned long long>(report.torn_tail->height),
        static_cast<unsigned long long>(report.torn_tail->bytes),
        static_cast<unsigned long long>(report.torn_tail->offset));
  }
  if (initial_checkpoint) {
    std::printf(
        "  checkpoint   height 0 (the initial model) is not checked: genesis holds its root\n");
  }
  std::printf("  replicas     one (comparing several replica files is not implemented yet)\n");
  return 0;
}

}  // namespace

void add_verify_command(CLI::App& app, int& exit_code) {
  auto run_dir = std::make_shared<std::string>();
  auto* verify = app.add_subcommand(
      "verify", "Re-check a run's chain: records, links, signatures, quorums, checkpoints");
  verify->add_option("run_dir", *run_dir, "Run directory (holds chain/blocks.log)")->required();
  verify->callback([run_dir, &exit_code] { exit_code = run_verify(*run_dir); });
}

}  // namespace fedchain::cli
