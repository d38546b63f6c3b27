// `fedchain verify RUN_DIR`: the audit of DESIGN.md invariant 4. Re-checks every record,
// hash link, signature, certificate quorum and the genesis, with the proposer rotation of
// consensus/, then every checkpoint against its block and, where the run archived its
// updates (ledger.archive_updates), recomputes every aggregate and state root from them.
// Prints a one-line verdict and a summary; exit 0 when everything holds, 3 naming the
// first bad height otherwise. Both audits plug into VerifyOptions::check_block_extra.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "commands.hpp"
#include "fedchain/aggregate/rules.hpp"
#include "fedchain/consensus/chain_validators.hpp"
#include "fedchain/core/job_file.hpp"
#include "fedchain/crypto/merkle.hpp"
#include "fedchain/data/dataset.hpp"
#include "fedchain/io/checkpoint.hpp"
#include "fedchain/io/update_archive.hpp"
#include "fedchain/ledger/verify.hpp"
#include "fedchain/train/job_setup.hpp"

namespace fedchain::cli {

namespace {

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

// Threads for Merkle hashing; the root does not depend on the count.
constexpr int kHashThreads = 2;

// merkle_root with the genesis chunk size: state roots and update roots (docs/formats.md).
Hash32 merkle_root_of(ByteView bytes, const ledger::Genesis& genesis) {
  return crypto::merkle_root(bytes, genesis.fields().merkle_chunk_bytes, kHashThreads);
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
  const Hash32 root = merkle_root_of(bytes, genesis);
  if (root != block.header().state_root || meta.state_root != root) {
    return reject("checkpoint-state-root",
                  "{}: parameters hash to {}, the checkpoint says {}, the block's state root is {}",
                  path.string(), root.short_hex(), meta.state_root.short_hex(),
                  block.header().state_root.short_hex());
  }
  return {};
}

// The model every rank started from: train::make_job_model for the job and its seed, on
// the CPU. Only the dataset's shape is read, not its arrays: it sizes the input layer.
Result<std::vector<float>> initial_model(const Job& job) {
  auto info = data::read_dataset_info(job.data.path);
  if (!info) {
    return config_error(
        "recomputing the aggregates starts from the initial model, which needs the run's "
        "dataset (data.path = \"{}\"): {}; run verify from the folder the run was started in, "
        "or pass --data FILE",
        job.data.path, info.error().message);
  }
  data::ImageSet shape;
  shape.rows = info->rows;
  shape.cols = info->cols;
  auto samples = train::to_samples(shape, info->num_classes);
  if (!samples) return samples.error();
  auto backend = train::make_backend("cpu", 1);
  if (!backend) return backend.error();
  auto model = train::make_job_model(**backend, job, *samples);
  if (!model) return model.error();
  std::vector<float> theta(static_cast<std::size_t>(model->parameter_count()));
  if (auto st = model->get_parameters(theta); !st) return st.error();
  return theta;
}

std::string rank_list(const std::vector<std::uint32_t>& ranks) {
  return ranks.empty() ? std::string("none") : fmt::format("{}", fmt::join(ranks, " "));
}

// ledger.archive_updates (docs/formats.md, "Update archive"): replays the run from its
// initial model with the archived updates. At each height, every committed tx's archived
// q_i must hash to the update root the tx signs; the job's rule over those updates, with
// the genesis weights, gives the aggregate A through the same aggregate/ functions the
// ranks used; theta + dequantize(A) must hash to the block's state root.
class AggregateAudit {
 public:
  AggregateAudit(const std::filesystem::path& run_dir, std::string data_path)
      : updates_dir_(run_dir / "updates"), data_path_(std::move(data_path)) {}

  // Called for every verified block, in height order.
  Status check(const ledger::Genesis& genesis, const ledger::Block& block) {
    if (!started_) {
      started_ = true;
      if (auto st = start(genesis); !st) return st;
    }
    if (!archive_) return {};
    std::vector<io::ArchivedUpdate> archived;
    for (const auto& tx : block.txs()) {
      auto update = archive_->read(tx.rank(), block.height());
      if (!update) return update.error();
      if (auto st = check_update(genesis, tx, *update); !st) return st;
      archived.push_back(std::move(*update));
    }
    auto result = recompute(archived);
    if (!result) return result.error();

    std::vector<std::uint32_t> ranks;
    std::vector<std::uint32_t> rejected;
    for (const auto& tx : block.txs()) {
      ranks.push_back(tx.rank());
      const auto& selected = result->selected_ranks;
      if (std::find(selected.begin(), selected.end(), tx.rank()) == selected.end()) {
        rejected.push_back(tx.rank());
      }
    }
    if (rejected != block.header().rejected_ranks) {
      return reject("aggregate-rejected-ranks",
                    "the rule {} over the archived updates leaves out ranks {}, the block "
                    "records {}",
                    aggregate::rule_name(config_.rule), rank_list(rejected),
                    rank_list(block.header().rejected_ranks));
    }
    if (auto st = aggregate::dequantize_add(theta_, result->values, config_.quantize.scale_bits);
        !st) {
      return st;
    }
    const Hash32 root = merkle_root_of(bytes_of(std::span<const float>(theta_)), genesis);
    if (root != block.header().state_root) {
      return reject("aggregate-state-root",
                    "the rule {} over the archived updates of ranks {} gives state root {}, the "
                    "block records {}",
                    aggregate::rule_name(config_.rule), rank_list(ranks), root.short_hex(),
                    block.header().state_root.short_hex());
    }
    ++heights_recomputed_;
    return {};
  }

  bool started() const { return started_; }
  bool archived() const { return archive_.has_value(); }
  std::uint64_t heights_recomputed() const { return heights_recomputed_; }
  std::uint64_t updates_checked() const { return updates_checked_; }
  const std::filesystem::path& updates_dir() const { return updates_dir_; }

  // Archived heights above the chain's tip: written by a run killed before their block
  // committed (a resumed run removes them). Counted, not checked.
  std::size_t uncommitted(std::uint32_t ranks, std::uint64_t tip) const {
    std::size_t count = 0;
    if (!archive_) return count;
    for (std::uint32_t r = 0; r < ranks; ++r) {
      for (const auto h : archive_->heights(r)) count += h > tip ? 1 : 0;
    }
    return count;
  }

 private:
  // The job as genesis records it (job.toml may have been edited; verify_run refuses that).
  Status start(const ledger::Genesis& genesis) {
    auto job = parse_job(genesis.fields().job_toml, "the job recorded in genesis");
    if (!job) return job.error();
    if (!job->ledger.archive_updates) return {};
    if (!data_path_.empty()) job->data.path = data_path_;
    auto config = aggregate::aggregate_config(job->aggregate);
    if (!config) return config.error();
    config_ = *config;
    for (const auto& shard : genesis.fields().shards) {
      weights_.push_back(static_cast<std::int64_t>(shard.samples));
    }
    auto theta = initial_model(*job);
    if (!theta) return theta.error();
    const Hash32 root = merkle_root_of(bytes_of(std::span<const float>(*theta)), genesis);
    if (root != genesis.fields().initial_state_root) {
      return reject("initial-model",
                    "the job's initial model ({} parameters, job.seed {}) hashes to {}, genesis "
                    "records {}: {} is not the dataset the run used, or this build initialises "
                    "models differently; aggregates cannot be recomputed",
                    theta->size(), job->job.seed, root.short_hex(),
                    genesis.fields().initial_state_root.short_hex(), job->data.path);
    }
    theta_ = std::move(*theta);
    archive_.emplace(updates_dir_);
    return {};
  }

  Status check_update(const ledger::Genesis& genesis, const ledger::Tx& tx,
                      const io::ArchivedUpdate& update) {
    const auto file = archive_->path(tx.rank(), tx.height()).string();
    if (update.chain_id != genesis.chain_id()) {
      return reject("archive-mismatch", "rank {}'s archived update {} belongs to chain {}, not {}",
                    tx.rank(), file, update.chain_id.short_hex(), genesis.chain_id().short_hex());
    }
    if (update.values.size() != theta_.size()) {
      return reject("archive-length", "rank {}'s archived update {} holds {} values, the model {}",
                    tx.rank(), file, update.values.size(), theta_.size());
    }
    const Hash32 root =
        merkle_root_of(bytes_of(std::span<const std::int32_t>(update.values)), genesis);
    if (root != tx.update_root()) {
      return reject("archive-update-root",
                    "rank {}'s archived update {} hashes to {}, but the update root its signed "
                    "transaction commits to is {}: the archived update was altered",
                    tx.rank(), file, root.short_hex(), tx.update_root().short_hex());
    }
    ++updates_checked_;
    return {};
  }

  // The aggregate as the ranks computed it (node/round.cpp, exchange_and_aggregate).
  Result<aggregate::AggregateResult> recompute(const std::vector<io::ArchivedUpdate>& archived) {
    if (config_.exchange == aggregate::Exchange::kAllreduce) {
      // The int64 sum of w_i * q_i (MPI_Allreduce there) over the ranks whose tx the block
      // holds (a jailed rank joins the collective with weight 0), divided by their total
      // genesis weight.
      std::vector<std::int64_t> sum(theta_.size());
      std::int64_t total = 0;
      for (const auto& update : archived) {
        const std::int64_t weight = weights_[update.rank];
        if (auto st = aggregate::add_weighted(sum, weight, update.values); !st) return st.error();
        total += weight;
      }
      std::vector<std::int32_t> values(theta_.size());
      if (auto st = aggregate::fedavg_from_sum(sum, total, values); !st) return st.error();
      aggregate::AggregateResult out;
      out.values = std::move(values);
      for (const auto& update : archived) out.selected_ranks.push_back(update.rank);
      return out;
    }
    std::vector<aggregate::Update> updates;
    for (const auto& update : archived) {
      updates.push_back({update.rank, weights_[update.rank], update.values});
    }
    return aggregate::aggregate(config_, updates);
  }

  std::filesystem::path updates_dir_;
  std::string data_path_;  // --data: overrides data.path to find the dataset's shape
  bool started_ = false;
  std::optional<io::UpdateArchive> archive_;  // set when the job archived its updates
  aggregate::AggregateConfig config_;
  std::vector<std::int64_t> weights_;  // (ranks) genesis shard sizes
  std::vector<float> theta_;           // (parameters) the model after the last height checked
  std::uint64_t heights_recomputed_ = 0;
  std::uint64_t updates_checked_ = 0;
};

void print_aggregate_audit(const AggregateAudit& audit, std::uint32_t ranks, std::uint64_t tip) {
  if (!audit.started()) {
    std::printf("  aggregates   not recomputed: the chain has no blocks yet\n");
    return;
  }
  if (!audit.archived()) {
    std::printf(
        "  aggregates   not recomputed: the run did not archive its updates "
        "(ledger.archive_updates = false)\n");
    return;
  }
  std::printf(
      "  aggregates   recomputed at %llu heights from %s: %llu archived updates match their "
      "signed roots, every state root reproduced\n",
      static_cast<unsigned long long>(audit.heights_recomputed()),
      audit.updates_dir().string().c_str(),
      static_cast<unsigned long long>(audit.updates_checked()));
  if (const std::size_t extra = audit.uncommitted(ranks, tip); extra > 0) {
    std::printf(
        "               %zu archived updates are for heights after the tip (a run killed "
        "before their block committed; --resume removes them)\n",
        extra);
  }
}

int run_verify(const std::string& run_dir, const std::string& data_path) {
  const auto checkpoints = find_checkpoints(std::filesystem::path(run_dir) / "checkpoints");
  std::size_t checkpoints_checked = 0;
  ledger::VerifyOptions options;
  options.proposer_rule = consensus::proposer_of;
  AggregateAudit audit(run_dir, data_path);
  options.check_block_extra = [&](const ledger::Genesis& genesis, const ledger::Block& block,
                                  const ledger::ChainState&) -> Status {
    const auto it = checkpoints.by_height.find(block.height());
    if (it != checkpoints.by_height.end()) {
      ++checkpoints_checked;
      if (auto st = check_checkpoint(it->second, genesis, block); !st) return st;
    }
    return audit.check(genesis, block);
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
    // A missing dataset or a bad flag is the user's to fix, not a verdict on the chain.
    if (!report.bad_height || report.error->kind == ErrorKind::kConfig) {
      return cli::report(*report.error);
    }
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
  print_aggregate_audit(audit, static_cast<std::uint32_t>(state.validators().size()),
                        state.height());
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
