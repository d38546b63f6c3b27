// The lines `fedchain verify` prints (verify_report.hpp). Tests and the end-to-end scripts
// grep them: tests/cli/cli_test.cpp, tests/e2e/*.sh.
#include "verify_report.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.hpp"

namespace fedchain::cli {

namespace {

using audit::ReplicaCheck;
using audit::RunReport;

// A line below the verdict: its label in a column of its own, none on a continuation line.
template <typename... Args>
void line(std::string_view label, fmt::format_string<Args...> text, Args&&... args) {
  fmt::print("  {:<12} {}\n", label, fmt::format(text, std::forward<Args>(args)...));
}

void print_failed(const std::string& what, std::uint64_t height, const Error& error) {
  fmt::print("FAILED: {}: height {}: {} [{}]\n", what, height, error.message, error.code);
}

// What the replica line says after the path: against a primary of `primary_height` when that
// verified. A failure carries its reason unless a FAILED line above already gives it.
std::string replica_state(const ReplicaCheck& replica, std::optional<std::uint64_t> primary_height,
                          bool with_reason) {
  const std::uint64_t height = replica.height();
  if (!replica.ok() && !replica.bad_height) return replica.error->message;
  if (!replica.ok()) {
    return fmt::format("fails at height {}{} [{}]", *replica.bad_height,
                       with_reason ? ": " + replica.error->message : "", replica.error->code);
  }
  if (!primary_height) return fmt::format("height {}, verifies", height);
  if (height == *primary_height) return fmt::format("height {}, agrees", height);
  if (height < *primary_height) {
    return fmt::format("height {}, {} behind (a resumed run appends the rest)", height,
                       *primary_height - height);
  }
  const bool one = height == *primary_height + 1;
  return fmt::format("height {}, {} ahead: {} only here (a resumed run restores {} to blocks.log)",
                     height, height - *primary_height,
                     one ? fmt::format("height {} is", height)
                         : fmt::format("heights {} to {} are", *primary_height + 1, height),
                     one ? "it" : "them");
}

void print_replica(const ReplicaCheck& replica, std::optional<std::uint64_t> primary_height,
                   bool with_reason) {
  line("replica", "{}: {}", replica.shown, replica_state(replica, primary_height, with_reason));
  if (replica.ok() && replica.store->torn_tail()) {
    const auto& torn = *replica.store->torn_tail();
    line("",
         "torn tail at height {}: {} bytes at byte {} were never committed; a resumed run "
         "cuts them off",
         torn.height, torn.bytes, torn.offset);
  }
}

// The primary is missing or damaged: each replica on its own, and the one to copy over
// chain/blocks.log (the same rule a resumed run restores by).
void print_restore_advice(const RunReport& report) {
  for (const auto& replica : report.replicas) print_replica(replica, std::nullopt, true);
  if (!report.restore_from) {
    line("restore", "no replica verifies: none can replace chain/blocks.log");
  } else if (report.replicas_disagree) {
    line("restore",
         "the replicas that verify disagree (above): compare them before copying one "
         "over chain/blocks.log");
  } else {
    const ReplicaCheck& chosen = report.replicas[*report.restore_from];
    line("restore",
         "{}copy {} (height {}, the longest replica that verifies) to "
         "chain/blocks.log, then resume",
         report.primary_exists ? "move chain/blocks.log aside, " : "", chosen.shown,
         chosen.height());
  }
}

// The aggregates line: recomputed from the archived updates, or why not.
void print_aggregates(const audit::AggregateSummary& aggregates) {
  using Kind = audit::AggregateSummary::Kind;
  if (aggregates.kind != Kind::kRecomputed) {
    line("aggregates", "not recomputed: {}",
         aggregates.kind == Kind::kNoBlocks
             ? "the chain has no blocks yet"
             : "the run did not archive its updates (ledger.archive_updates = false)");
    return;
  }
  line("aggregates",
       "recomputed at {} heights from {}: {} archived updates match their signed "
       "roots, every state root reproduced",
       aggregates.heights, aggregates.updates_dir.string(), aggregates.updates);
  if (aggregates.uncommitted > 0) {
    line("",
         "{} archived updates are for heights after the tip (a run killed before their block "
         "committed; --resume removes them)",
         aggregates.uncommitted);
  }
}

// The privacy lines: the mechanism genesis records and the epsilon the accountant gives.
void print_privacy(const std::optional<audit::PrivacySummary>& privacy) {
  if (!privacy) return;
  const PrivacySection& section = privacy->section;
  if (section.dp) {
    line("privacy",
         "DP-FedAvg: clip {}, noise multiplier {}, q = {:.6g}; epsilon {:.6g} at delta {} after "
         "{} rounds (RDP order {}), recomputed from genesis",
         section.clip, section.noise_multiplier, privacy->sampling_rate, privacy->epsilon,
         section.delta, privacy->heights, privacy->order);
    if (section.target_epsilon > 0) {
      line("budget", "target epsilon {}: {}", section.target_epsilon,
           privacy->epsilon <= section.target_epsilon ? "within" : "PASSED");
    }
  }
  if (section.secure_aggregation) {
    line("secure aggregation",
         "each rank's partial sum was masked: the chain commits to the aggregate, not to any "
         "client's update in the clear");
  }
}

}  // namespace

void print_verified(const std::string& run_dir, const RunReport& report) {
  const ledger::VerifyReport& chain = report.chain;
  const ledger::ChainState& state = *chain.final_state;
  fmt::print("OK: {} verifies: {} blocks, {} txs, {} signatures, {} evidence, {} checkpoints\n",
             run_dir, chain.blocks_verified, chain.txs, chain.signatures, chain.evidence,
             report.checkpoints_checked);
  line("tip", "height {}, block {}", state.height(), state.last_block_hash().hex());
  std::string jailed;
  for (std::size_t i = 0; i < state.validators().size(); ++i) {
    if (state.validators()[i].jailed) jailed += fmt::format("{}{}", jailed.empty() ? "" : " ", i);
  }
  line("validators", "{}, jailed: {}", state.validators().size(), jailed.empty() ? "none" : jailed);
  line("committee", "{} of them ({}), voting power {}", state.committee().size(),
       fmt::join(state.committee(), " "), state.voting_power());
  if (const auto& torn = chain.torn_tail) {
    line("torn tail",
         "height {}: {} bytes at byte {} were never committed (a crash mid-append); "
         "a resumed run cuts them off",
         torn->height, torn->bytes, torn->offset);
  }
  print_aggregates(report.aggregates);
  print_privacy(report.privacy);
  if (report.initial_checkpoint) {
    line("checkpoint", "height 0 (the initial model) is not checked: genesis holds its root");
  }
  if (report.replicas.empty()) {
    line("replicas",
         "none: only chain/blocks.log holds the chain (ledger.replicas = \"all\", or "
         "\"per-node\" over several nodes, has other ranks write copies)");
  }
  for (const auto& replica : report.replicas) print_replica(replica, chain.height, true);
}

int print_primary_missing(const std::string& run_dir, const RunReport& report) {
  const auto primary = ledger::ChainStore::log_path(run_dir).string();
  const int code = cli::report(config_error(
      "{} is missing but {} replica(s) of it exist: copy the longest that verifies (listed "
      "below) to {} and resume",
      primary, report.replicas.size(), primary));
  print_restore_advice(report);
  return code;
}

void print_chain_failure(const std::string& run_dir, const RunReport& report) {
  const ledger::VerifyReport& chain = report.chain;
  print_failed(run_dir, *chain.bad_height, *chain.error);
  if (chain.blocks_verified > 0) {
    fmt::print("  heights 1 to {} verified before it\n", chain.blocks_verified);
  } else if (*chain.bad_height > 1) {
    fmt::print(
        "  the chain file must read cleanly before anything is audited: restore blocks.log from "
        "a replica, or keep the run's heights before {}\n",
        *chain.bad_height);
  }
  // Only the chain file's own damage can be repaired from a replica.
  if (report.chain_file_failed && !report.replicas.empty()) print_restore_advice(report);
}

void print_replica_failures(const RunReport& report) {
  for (const auto& replica : report.replicas) {
    if (!replica.ok()) print_failed(replica.path.string(), *replica.bad_height, *replica.error);
  }
  line("primary", "chain/blocks.log verifies: height {}", report.chain.height);
  for (const auto& replica : report.replicas) print_replica(replica, report.chain.height, false);
  fmt::print(
      "  move each replica that fails aside, then resume: a rank that writes replicas starts a "
      "new copy from chain/blocks.log\n");
}

}  // namespace fedchain::cli
