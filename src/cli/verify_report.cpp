// The lines `fedchain verify` prints (verify_report.hpp), written into a string so that
// `fedchain report` shows the same text. Tests and the end-to-end scripts grep them:
// tests/cli/cli_test.cpp, tests/e2e/*.sh.
#include "verify_report.hpp"

#include <iterator>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.hpp"
#include "fedchain/serve/predict.hpp"

namespace fedchain::cli {

namespace {

using audit::ReplicaCheck;
using audit::RunReport;

// A line below the verdict: its label in a column of its own, none on a continuation line.
template <typename... Args>
void line(std::string& out, std::string_view label, fmt::format_string<Args...> text,
          Args&&... args) {
  fmt::format_to(std::back_inserter(out), "  {:<12} {}\n", label,
                 fmt::format(text, std::forward<Args>(args)...));
}

template <typename... Args>
void put(std::string& out, fmt::format_string<Args...> format, Args&&... args) {
  fmt::format_to(std::back_inserter(out), format, std::forward<Args>(args)...);
}

void print_failed(std::string& out, const std::string& what, std::uint64_t height,
                  const Error& error) {
  put(out, "FAILED: {}: height {}: {} [{}]\n", what, height, error.message, error.code);
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

void print_replica(std::string& out, const ReplicaCheck& replica,
                   std::optional<std::uint64_t> primary_height, bool with_reason) {
  line(out, "replica", "{}: {}", replica.shown,
       replica_state(replica, primary_height, with_reason));
  if (replica.ok() && replica.store->torn_tail()) {
    const auto& torn = *replica.store->torn_tail();
    line(out, "",
         "torn tail at height {}: {} bytes at byte {} were never committed; a resumed run "
         "cuts them off",
         torn.height, torn.bytes, torn.offset);
  }
}

// The primary is missing or damaged: each replica on its own, and the one to copy over
// chain/blocks.log (the same rule a resumed run restores by).
void print_restore_advice(std::string& out, const RunReport& report) {
  for (const auto& replica : report.replicas) print_replica(out, replica, std::nullopt, true);
  if (!report.restore_from) {
    line(out, "restore", "no replica verifies: none can replace chain/blocks.log");
  } else if (report.replicas_disagree) {
    line(out, "restore",
         "the replicas that verify disagree (above): compare them before copying one "
         "over chain/blocks.log");
  } else {
    const ReplicaCheck& chosen = report.replicas[*report.restore_from];
    line(out, "restore",
         "{}copy {} (height {}, the longest replica that verifies) to "
         "chain/blocks.log, then resume",
         report.primary_exists ? "move chain/blocks.log aside, " : "", chosen.shown,
         chosen.height());
  }
}

// The aggregates line: recomputed from the archived updates, or why not.
void print_aggregates(std::string& out, const audit::AggregateSummary& aggregates) {
  using Kind = audit::AggregateSummary::Kind;
  if (aggregates.kind != Kind::kRecomputed) {
    line(out, "aggregates", "not recomputed: {}",
         aggregates.kind == Kind::kNoBlocks
             ? "the chain has no blocks yet"
             : "the run did not archive its updates (ledger.archive_updates = false)");
    return;
  }
  line(out, "aggregates",
       "recomputed at {} heights from {}: {} archived updates match their signed "
       "roots, every state root reproduced",
       aggregates.heights, aggregates.updates_dir.string(), aggregates.updates);
  if (aggregates.uncommitted > 0) {
    line(out, "",
         "{} archived updates are for heights after the tip (a run killed before their block "
         "committed; --resume removes them)",
         aggregates.uncommitted);
  }
}

// Where the chain state's voted epsilon stands against the recomputed one.
std::string chain_epsilon_text(const audit::PrivacySummary& privacy) {
  if (!privacy.chain_epsilon_micro) return "no block verified to hold it";
  if (*privacy.chain_epsilon_micro == privacy.epsilon_micro) {
    return "the chain state's voted value matches it";
  }
  return fmt::format("the chain state holds {} millionths instead", *privacy.chain_epsilon_micro);
}

// The privacy lines: the mechanism genesis records and the epsilon the accountant gives,
// against the one the chain state voted on.
void print_privacy(std::string& out, const std::optional<audit::PrivacySummary>& privacy) {
  if (!privacy) return;
  const PrivacySection& section = privacy->section;
  if (section.dp) {
    line(out, "privacy",
         "DP-FedAvg: clip {}, noise multiplier {}, q = {:.6g}; epsilon {:.6f} at delta {} after "
         "{} rounds (RDP order {}), recomputed from genesis; {}",
         section.clip, section.noise_multiplier, privacy->sampling_rate, privacy->epsilon,
         section.delta, privacy->heights, privacy->order, chain_epsilon_text(*privacy));
    if (section.target_epsilon > 0) {
      line(out, "budget", "target epsilon {}: {}", section.target_epsilon,
           privacy->epsilon <= section.target_epsilon ? "within" : "PASSED");
    }
  }
  if (section.secure_aggregation) {
    line(out, "secure aggregation",
         "each rank's partial sum was masked: the chain commits to the aggregate, not to any "
         "client's update in the clear");
  }
}

// "OK: ..." and the summary: the tip, validators, aggregates, checkpoints, each replica.
void print_verified(std::string& out, const std::string& run_dir, const RunReport& report) {
  const ledger::VerifyReport& chain = report.chain;
  const ledger::ChainState& state = *chain.final_state;
  put(out, "OK: {} verifies: {} blocks, {} txs, {} signatures, {} evidence, {} checkpoints\n",
      run_dir, chain.blocks_verified, chain.txs, chain.signatures, chain.evidence,
      report.checkpoints_checked);
  line(out, "tip", "height {}, block {}", state.height(), state.last_block_hash().hex());
  std::string jailed;
  for (std::size_t i = 0; i < state.validators().size(); ++i) {
    if (state.validators()[i].jailed) jailed += fmt::format("{}{}", jailed.empty() ? "" : " ", i);
  }
  line(out, "validators", "{}, jailed: {}", state.validators().size(),
       jailed.empty() ? "none" : jailed);
  line(out, "committee", "{} of them ({}), voting power {}", state.committee().size(),
       fmt::join(state.committee(), " "), state.voting_power());
  if (const auto& torn = chain.torn_tail) {
    line(out, "torn tail",
         "height {}: {} bytes at byte {} were never committed (a crash mid-append); "
         "a resumed run cuts them off",
         torn->height, torn->bytes, torn->offset);
  }
  print_aggregates(out, report.aggregates);
  print_privacy(out, report.privacy);
  if (report.initial_checkpoint) {
    line(out, "checkpoint", "height 0 (the initial model) is not checked: genesis holds its root");
  }
  if (report.replicas.empty()) {
    line(out, "replicas",
         "none: only chain/blocks.log holds the chain (ledger.replicas = \"all\", or "
         "\"per-node\" over several nodes, has other ranks write copies)");
  }
  for (const auto& replica : report.replicas) print_replica(out, replica, chain.height, true);
}

// The error (a config error) and the replica to copy over the lost primary.
Error primary_missing(const std::string& run_dir, const RunReport& report) {
  const auto primary = ledger::ChainStore::log_path(run_dir).string();
  return config_error(
      "{} is missing but {} replica(s) of it exist: copy the longest that verifies (listed "
      "below) to {} and resume",
      primary, report.replicas.size(), primary);
}

// "FAILED: RUN_DIR: height H: ..." and what a replica can do about it.
void print_chain_failure(std::string& out, const std::string& run_dir, const RunReport& report) {
  const ledger::VerifyReport& chain = report.chain;
  print_failed(out, run_dir, *chain.bad_height, *chain.error);
  if (chain.blocks_verified > 0) {
    put(out, "  heights 1 to {} verified before it\n", chain.blocks_verified);
  } else if (*chain.bad_height > 1) {
    put(out,
        "  the chain file must read cleanly before anything is audited: restore blocks.log from "
        "a replica, or keep the run's heights before {}\n",
        *chain.bad_height);
  }
  // Only the chain file's own damage can be repaired from a replica.
  if (report.chain_file_failed && !report.replicas.empty()) print_restore_advice(out, report);
}

// A FAILED line for each replica that fails, then each replica against the primary.
void print_replica_failures(std::string& out, const RunReport& report) {
  for (const auto& replica : report.replicas) {
    if (!replica.ok()) {
      print_failed(out, replica.path.string(), *replica.bad_height, *replica.error);
    }
  }
  line(out, "primary", "chain/blocks.log verifies: height {}", report.chain.height);
  for (const auto& replica : report.replicas) {
    print_replica(out, replica, report.chain.height, false);
  }
  put(out,
      "  move each replica that fails aside, then resume: a rank that writes replicas starts a "
      "new copy from chain/blocks.log\n");
}

// A chain that verifies, then every prediction receipt in receipts.log against it.
void verified_with_receipts(AuditText& out, const std::string& run_dir, const RunReport& report) {
  auto receipts = serve::check_receipts(run_dir);
  if (!receipts) {
    if (receipts.error().kind != ErrorKind::kVerification) {
      out.error = error_text(receipts.error());
      out.exit_code = exit_code(receipts.error().kind);
      return;
    }
    put(out.text, "FAILED: {} [{}]\n", receipts.error().message, receipts.error().code);
    out.exit_code = 3;
    return;
  }
  print_verified(out.text, run_dir, report);
  if (*receipts == 0) {
    line(out.text, "receipts", "none");
  } else {
    line(out.text, "receipts",
         "{} in receipts.log, each signed and naming a state root this chain committed", *receipts);
  }
}

}  // namespace

AuditText audit_text(const std::string& run_dir, const RunReport& report) {
  AuditText out;
  switch (report.outcome()) {
    case audit::Outcome::kVerifies:
      verified_with_receipts(out, run_dir, report);
      return out;
    case audit::Outcome::kError: {
      const Error& error = *report.unplaced_error();
      out.error = error_text(error);
      out.exit_code = exit_code(error.kind);
      return out;
    }
    case audit::Outcome::kPrimaryMissing: {
      const Error error = primary_missing(run_dir, report);
      out.error = error_text(error);
      out.exit_code = exit_code(error.kind);
      print_restore_advice(out.text, report);
      return out;
    }
    case audit::Outcome::kChainFails:
      print_chain_failure(out.text, run_dir, report);
      out.exit_code = 3;
      return out;
    case audit::Outcome::kReplicaFails:
      print_replica_failures(out.text, report);
      out.exit_code = 3;
      return out;
  }
  out.exit_code = 1;  // not reached: every outcome returns above
  return out;
}

}  // namespace fedchain::cli
