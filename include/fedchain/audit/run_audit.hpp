// Auditing a run directory (docs/architecture.md, invariant 6), as a report of fields:
// `fedchain verify` prints it, `--resume` uses its replica rule, tests assert on it.
//   - the primary chain replayed from genesis (ledger::verify_run), proposer rotation included;
//   - every checkpoint against its block, and none beyond the chain's tip;
//   - with ledger.archive_updates, every aggregate and state root recomputed from the
//     archived updates with the same aggregate/ functions the ranks used;
//   - every replica (ledger.replicas) verified on its own and compared with the primary.
// Nothing here writes to the run directory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "fedchain/core/error.hpp"
#include "fedchain/core/job.hpp"
#include "fedchain/ledger/chain_store.hpp"
#include "fedchain/ledger/verify.hpp"

namespace fedchain::audit {

// One replica file (docs/formats.md, "Replicas"), verified on its own. Its certificates are
// the precommits its own rank collected, so it is never compared byte for byte; what must
// agree with the primary is genesis and the block at every height.
struct ReplicaCheck {
  std::filesystem::path path;
  std::string shown;                        // the path relative to RUN_DIR, for summary lines
  std::optional<ledger::ChainStore> store;  // the file as read, when it verifies
  std::optional<std::uint64_t> bad_height;  // where it fails; unset with an unreadable file
  std::optional<Error> error;               // why it fails

  bool ok() const { return !error.has_value(); }
  std::uint64_t height() const { return store ? store->height() : 0; }
  void fail(std::uint64_t height, Error why) {
    bad_height = height;
    error = std::move(why);
  }
};

// Replays a replica from genesis like the primary (proposer rotation included);
// checkpoints and archived updates belong to the primary and are not re-checked.
ledger::VerifyReport replay_replica(const ledger::ChainStore& replica);
// Reads a replica read-only and replays it.
ReplicaCheck verify_replica(const std::filesystem::path& run_dir,
                            const std::filesystem::path& path);

// The one replica rule, for `--resume` restoring blocks the primary lost and for verify
// naming the file to copy over a lost primary: the longest replica that verifies, the
// first (lowest rank) among equals. Null when none verifies.
const ReplicaCheck* longest_verified(const std::vector<ReplicaCheck>& replicas);

// What the archived updates showed (ledger.archive_updates).
struct AggregateSummary {
  enum class Kind {
    kNoBlocks,     // the chain has no block yet
    kNotArchived,  // the run did not archive its updates
    kRecomputed,   // every verified height recomputed
  };
  Kind kind = Kind::kNoBlocks;
  std::uint64_t heights = 0;  // heights whose aggregate and state root were recomputed
  std::uint64_t updates = 0;  // archived updates that hash to their signed roots
  std::filesystem::path updates_dir;
  std::size_t uncommitted = 0;  // archived for heights after the tip (a killed run's)
};

// What an audit concludes, one of five: `fedchain verify` turns each into its exit code.
enum class Outcome {
  kVerifies,        // the primary and every replica hold
  kError,           // unplaced_error(): nothing to place at a height, or the user's to fix
  kPrimaryMissing,  // chain/blocks.log is absent but replicas of it exist (restore_from)
  kChainFails,      // the primary fails at chain.bad_height
  kReplicaFails,    // the primary verifies; some replica fails at its bad_height
};

// The job's [privacy] as genesis records it, and the epsilon spent by the verified heights,
// recomputed by the accountant (docs/privacy.md, "What the chain can audit").
struct PrivacySummary {
  PrivacySection section;
  std::uint64_t heights = 0;        // verified heights: the rounds the mechanism ran
  double sampling_rate = 1.0;       // q = clients per round / clients (privacy.dp)
  std::uint64_t epsilon_micro = 0;  // after `heights` rounds at section.delta (privacy.dp)
  double epsilon = 0;               // epsilon_of_micro(epsilon_micro): the number printed
  double order = 0;                 // the RDP order that gave it
  // The chain state's voted epsilon_micro after the last verified block (privacy.dp; none
  // when no block verified).
  std::optional<std::uint64_t> chain_epsilon_micro;
};

struct RunReport {
  // The primary, with every checkpoint and aggregate check folded in: its error names the
  // first height that fails, whatever failed there.
  ledger::VerifyReport chain;
  // The failure is the chain file's own (not a checkpoint, the archive or job.toml): a
  // replica may stand in for it.
  bool chain_file_failed = false;
  bool primary_exists = true;
  std::size_t checkpoints_checked = 0;
  bool initial_checkpoint = false;  // height 0 is not checked: genesis holds its root
  AggregateSummary aggregates;
  std::optional<PrivacySummary> privacy;  // set when the job has privacy.dp or secure aggregation
  // Each replica, compared with the primary when the primary verifies (those ahead of it
  // also with the one a resume restores from), else with the one to restore from.
  std::vector<ReplicaCheck> replicas;
  std::optional<std::size_t> restore_from;  // index into replicas: longest_verified
  bool replicas_disagree = false;           // two replicas that verify hold different blocks

  bool ok() const;
  Outcome outcome() const;
  // An error at no height (a file that cannot be read) or a config error (the dataset, a
  // flag): the primary's, else the first unreadable replica's. Null when there is none.
  const Error* unplaced_error() const;
};

struct AuditOptions {
  std::string data_path;  // overrides the job's data.path (only its shape is read)
};

RunReport audit_run(const std::filesystem::path& run_dir, const AuditOptions& options = {});

}  // namespace fedchain::audit
