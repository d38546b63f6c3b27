// `fedchain verify RUN_DIR`: prints the audit of invariant 6 (docs/architecture.md) that
// audit::audit_run makes: every record, hash link, signature, certificate quorum and the
// genesis, every checkpoint, the aggregates where updates were archived, every replica.
// A one-line verdict and a summary; exit 0 when everything holds, 3 naming the first bad
// height otherwise, 2 when the run directory or the dataset cannot be read.
#include <algorithm>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "commands.hpp"
#include "fedchain/audit/run_audit.hpp"

namespace fedchain::cli {

namespace {

using audit::ReplicaCheck;

void print_aggregates(const audit::AggregateSummary& aggregates) {
  using Kind = audit::AggregateSummary::Kind;
  if (aggregates.kind == Kind::kNoBlocks) {
    std::printf("  aggregates   not recomputed: the chain has no blocks yet\n");
    return;
  }
  if (aggregates.kind == Kind::kNotArchived) {
    std::printf(
        "  aggregates   not recomputed: the run did not archive its updates "
        "(ledger.archive_updates = false)\n");
    return;
  }
  std::printf(
      "  aggregates   recomputed at %llu heights from %s: %llu archived updates match their "
      "signed roots, every state root reproduced\n",
      static_cast<unsigned long long>(aggregates.heights), aggregates.updates_dir.string().c_str(),
      static_cast<unsigned long long>(aggregates.updates));
  if (aggregates.uncommitted > 0) {
    std::printf(
        "               %zu archived updates are for heights after the tip (a run killed "
        "before their block committed; --resume removes them)\n",
        aggregates.uncommitted);
  }
}

std::string heights_text(std::uint64_t from, std::uint64_t to) {
  return from == to ? fmt::format("height {} is", from)
                    : fmt::format("heights {} to {} are", from, to);
}

// One summary line for a replica; `primary_height` places it against a primary that
// verified. A failure carries its reason unless a FAILED line above already gives it.
void print_replica(const ReplicaCheck& replica, std::optional<std::uint64_t> primary_height,
                   bool with_reason) {
  std::string state;
  if (!replica.ok() && !replica.bad_height) {
    state = replica.error->message;
  } else if (!replica.ok()) {
    state = with_reason
                ? fmt::format("fails at height {}: {} [{}]", *replica.bad_height,
                              replica.error->message, replica.error->code)
                : fmt::format("fails at height {} [{}]", *replica.bad_height, replica.error->code);
  } else if (!primary_height) {
    state = fmt::format("height {}, verifies", replica.height());
  } else if (replica.height() == *primary_height) {
    state = fmt::format("height {}, agrees", replica.height());
  } else if (replica.height() < *primary_height) {
    state = fmt::format("height {}, {} behind (a resumed run appends the rest)", replica.height(),
                        *primary_height - replica.height());
  } else {
    const std::uint64_t ahead = replica.height() - *primary_height;
    state =
        fmt::format("height {}, {} ahead: {} only here (a resumed run restores {} to blocks.log)",
                    replica.height(), ahead, heights_text(*primary_height + 1, replica.height()),
                    ahead == 1 ? "it" : "them");
  }
  std::printf("  replica      %s: %s\n", replica.shown.c_str(), state.c_str());
  if (replica.ok() && replica.store->torn_tail()) {
    const auto& torn = *replica.store->torn_tail();
    std::printf(
        "               torn tail at height %llu: %llu bytes at byte %llu were never committed; "
        "a resumed run cuts them off\n",
        static_cast<unsigned long long>(torn.height), static_cast<unsigned long long>(torn.bytes),
        static_cast<unsigned long long>(torn.offset));
  }
}

// The primary is missing or damaged: each replica on its own, and the one to copy over
// chain/blocks.log (the same rule a resumed run restores by).
void print_restore_advice(const audit::RunReport& report) {
  for (const auto& replica : report.replicas) print_replica(replica, std::nullopt, true);
  if (!report.restore_from) {
    std::printf("  restore      no replica verifies: none can replace chain/blocks.log\n");
  } else if (report.replicas_disagree) {
    std::printf(
        "  restore      the replicas that verify disagree (above): compare them before copying "
        "one over chain/blocks.log\n");
  } else {
    const ReplicaCheck& chosen = report.replicas[*report.restore_from];
    std::printf(
        "  restore      %scopy %s (height %llu, the longest replica that verifies) to "
        "chain/blocks.log, then resume\n",
        report.primary_exists ? "move chain/blocks.log aside, " : "", chosen.shown.c_str(),
        static_cast<unsigned long long>(chosen.height()));
  }
}

// The primary failed: why, where, and what a replica can do about it.
int print_chain_failure(const std::string& run_dir, const audit::RunReport& report) {
  const ledger::VerifyReport& chain = report.chain;
  // A missing dataset or a bad flag is the user's to fix, not a verdict on the chain.
  if (!chain.bad_height || chain.error->kind == ErrorKind::kConfig) {
    if (report.primary_exists || report.replicas.empty()) return cli::report(*chain.error);
    const auto primary = ledger::ChainStore::log_path(run_dir).string();
    const int code = cli::report(config_error(
        "{} is missing but {} replica(s) of it exist: copy the longest that verifies (listed "
        "below) to {} and resume",
        primary, report.replicas.size(), primary));
    print_restore_advice(report);
    return code;
  }
  std::printf("FAILED: %s: height %llu: %s [%s]\n", run_dir.c_str(),
              static_cast<unsigned long long>(*chain.bad_height), chain.error->message.c_str(),
              chain.error->code.c_str());
  if (chain.blocks_verified > 0) {
    std::printf("  heights 1 to %llu verified before it\n",
                static_cast<unsigned long long>(chain.blocks_verified));
  } else if (*chain.bad_height > 1) {
    std::printf(
        "  the chain file must read cleanly before anything is audited: restore "
        "blocks.log from a replica, or keep the run's heights before %llu\n",
        static_cast<unsigned long long>(*chain.bad_height));
  }
  if (report.chain_file_failed && !report.replicas.empty()) print_restore_advice(report);
  return 3;
}

// The primary verified but some replica does not.
int print_replica_failures(const audit::RunReport& report) {
  for (const auto& replica : report.replicas) {
    if (!replica.ok() && !replica.bad_height) return cli::report(*replica.error);
  }
  for (const auto& replica : report.replicas) {
    if (replica.ok()) continue;
    std::printf("FAILED: %s: height %llu: %s [%s]\n", replica.path.string().c_str(),
                static_cast<unsigned long long>(*replica.bad_height),
                replica.error->message.c_str(), replica.error->code.c_str());
  }
  std::printf("  primary      chain/blocks.log verifies: height %llu\n",
              static_cast<unsigned long long>(report.chain.height));
  for (const auto& replica : report.replicas) print_replica(replica, report.chain.height, false);
  std::printf(
      "  move each replica that fails aside, then resume: a rank that writes replicas starts "
      "a new copy from chain/blocks.log\n");
  return 3;
}

void print_summary(const std::string& run_dir, const audit::RunReport& report) {
  const ledger::VerifyReport& chain = report.chain;
  std::printf(
      "OK: %s verifies: %llu blocks, %llu txs, %llu signatures, %llu evidence, "
      "%zu checkpoints\n",
      run_dir.c_str(), static_cast<unsigned long long>(chain.blocks_verified),
      static_cast<unsigned long long>(chain.txs), static_cast<unsigned long long>(chain.signatures),
      static_cast<unsigned long long>(chain.evidence), report.checkpoints_checked);
  const auto& state = *chain.final_state;
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
  if (chain.torn_tail) {
    std::printf(
        "  torn tail    height %llu: %llu bytes at byte %llu were never committed (a "
        "crash mid-append); a resumed run cuts them off\n",
        static_cast<unsigned long long>(chain.torn_tail->height),
        static_cast<unsigned long long>(chain.torn_tail->bytes),
        static_cast<unsigned long long>(chain.torn_tail->offset));
  }
  print_aggregates(report.aggregates);
  if (report.initial_checkpoint) {
    std::printf(
        "  checkpoint   height 0 (the initial model) is not checked: genesis holds its root\n");
  }
  if (report.replicas.empty()) {
    std::printf(
        "  replicas     none: only chain/blocks.log holds the chain (ledger.replicas = \"all\", "
        "or \"per-node\" over several nodes, has other ranks write copies)\n");
  }
  for (const auto& replica : report.replicas) print_replica(replica, chain.height, true);
}

int run_verify(const std::string& run_dir, const std::string& data_path) {
  const audit::RunReport report = audit::audit_run(run_dir, {data_path});
  if (!report.chain.ok()) return print_chain_failure(run_dir, report);
  if (!report.ok()) return print_replica_failures(report);
  print_summary(run_dir, report);
  return 0;
}

}  // namespace

void add_verify_command(CLI::App& app, int& exit_code) {
  auto run_dir = std::make_shared<std::string>();
  auto data_path = std::make_shared<std::string>();
  auto* verify = app.add_subcommand(
      "verify",
      "Re-check a run's chain: records, links, signatures, quorums, checkpoints, and the "
      "aggregates where updates were archived");
  verify->add_option("run_dir", *run_dir, "Run directory (holds chain/blocks.log)")->required();
  verify->add_option("--data", *data_path,
                     "Dataset file, where the job's data.path does not resolve from here (only "
                     "its shape is read, to rebuild the initial model)");
  verify->callback(
      [run_dir, data_path, &exit_code] { exit_code = run_verify(*run_dir, *data_path); });
}

}  // namespace fedchain::cli
