// Per-round metrics: RUN_DIR/metrics.csv (for spreadsheets and plots) and metrics.jsonl
// (for scripts), one row per committed height, written by rank 0. A round returns its row
// (node::run_round); times are seconds of wall clock on rank 0 for each phase of the round
// (docs/architecture.md, "One round, file by file").
#pragma once

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "fedchain/core/error.hpp"

namespace fedchain::io {

struct MetricsRow {
  std::uint64_t height = 0;
  double round_s = 0;                    // the whole round, start of training to metrics row
  double train_s = 0;                    // local training
  double quantize_s = 0;                 // delta and fixed-point quantization
  double hash_s = 0;                     // Merkle root of the update and signing
  double exchange_s = 0;                 // collectives moving txs and updates
  double aggregate_s = 0;                // the aggregation rule and the new parameters' state root
  double consensus_s = 0;                // proposal and votes until commit
  double store_s = 0;                    // appending the block, checkpoints
  double eval_s = 0;                     // test-set evaluation, on rounds that evaluate
  std::uint64_t bytes_sent = 0;          // by rank 0 in this round's exchange (updates, txs)
  std::uint64_t consensus_messages = 0;  // consensus messages rank 0 sent in this round
  std::uint64_t consensus_bytes = 0;     // their encoded bytes
  std::int64_t cohort = 0;               // clients that trained this round
  std::int64_t samples_trained = 0;      // samples they trained on, summed (batches x size)
  double train_loss = 0;                 // mean over the counted clients, weighted by samples
  std::int64_t clipped = 0;              // update coordinates clipped by quantization, all ranks
  double test_loss = 0;                  // NaN on rounds without evaluation
  double test_acc = 0;                   // NaN on rounds without evaluation
  std::uint32_t proposer = 0;
  std::uint32_t commit_round = 0;
  std::string state_root;  // hex
  std::string block_hash;  // hex; empty without a chain (consensus.protocol = "none")
  // Consensus work at this height, the largest over the ranks of each role (committee
  // members and followers): messages handled (received consensus messages, and a
  // follower's committed block) and Ed25519 signatures verified (update transactions,
  // votes, certificates). 0 for a role no rank had.
  std::uint64_t follower_messages = 0;
  std::uint64_t follower_verifications = 0;
  std::uint64_t validator_messages = 0;
  std::uint64_t validator_verifications = 0;
  // privacy.dp: the epsilon spent after this height at privacy.delta (the `epsilon`
  // column, written only when the log was opened with it); NaN otherwise.
  double epsilon = std::nan("");
};

class MetricsLog {
 public:
  // Starts new files, or on resume keeps the rows up to `keep_through_height` (rows past
  // the chain tip belong to rounds that will be run again) and appends after them. A CSV
  // written by an older fedchain with fewer columns is rewritten to today's columns, the
  // missing cells left empty; one with a column fedchain never wrote is refused.
  // `epsilon`: the job spends privacy (privacy.dp), so the rows carry an epsilon column.
  static Result<MetricsLog> create(const std::filesystem::path& csv,
                                   const std::filesystem::path& jsonl, bool epsilon = false);
  static Result<MetricsLog> resume(const std::filesystem::path& csv,
                                   const std::filesystem::path& jsonl,
                                   std::uint64_t keep_through_height, bool epsilon = false);

  Status append(const MetricsRow& row);

  // The height of the CSV's last row: 0 for a header alone; nothing when the file is absent
  // or its last row does not start with a height.
  static std::optional<std::uint64_t> last_height(const std::filesystem::path& csv);
  // The last row's cell under `column`; nothing when the file, the column or a row is absent.
  static std::optional<std::string> last_cell(const std::filesystem::path& csv,
                                              std::string_view column);

  static std::string csv_header(bool epsilon = false);

 private:
  MetricsLog(std::ofstream csv, std::ofstream jsonl, bool epsilon)
      : csv_(std::move(csv)), jsonl_(std::move(jsonl)), epsilon_(epsilon) {}
  std::ofstream csv_;
  std::ofstream jsonl_;
  bool epsilon_ = false;
};

}  // namespace fedchain::io
