// The run audit (run_audit.hpp): the primary chain with checkpoints and archived updates
// checked at each verified block, then every replica.
#include "fedchain/audit/run_audit.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "fedchain/aggregate/privacy.hpp"
#include "fedchain/aggregate/rules.hpp"
#include "fedchain/consensus/chain_validators.hpp"
#include "fedchain/core/job_file.hpp"
#include "fedchain/crypto/merkle.hpp"
#include "fedchain/data/dataset.hpp"
#include "fedchain/io/checkpoint.hpp"
#include "fedchain/io/update_archive.hpp"
#include "fedchain/ledger/dp_accountant.hpp"
#include "fedchain/train/job_setup.hpp"

namespace fedchain::audit {

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

// The dataset the run trained on: the arrays the job loads must hash to genesis's data_hash.
// A dataset that cannot be read, or other data, is the user's to fix (exit 2).
Status check_data(const Job& job, const ledger::Genesis& genesis) {
  auto dataset = data::read_dataset(job.data.path, job.data.train_limit, job.data.test_limit);
  if (!dataset) {
    return config_error(
        "checking the run's dataset (data.path = \"{}\"): {}; run verify from the folder the "
        "run was started in, or pass --data FILE",
        job.data.path, dataset.error().message);
  }
  const Hash32 hash = data::content_hash(*dataset);
  if (hash != genesis.fields().data_hash) {
    return config_error(
        "{}: its arrays (data.train_limit {}, data.test_limit {}) hash to {}, but genesis "
        "records data {}: it is not the dataset this run used; pass that file with --data FILE",
        job.data.path, job.data.train_limit, job.data.test_limit, hash.short_hex(),
        genesis.fields().data_hash.short_hex());
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
  shape.channels = info->channels;
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

std::string id_list(const std::vector<std::uint32_t>& ids) {
  return ids.empty() ? std::string("none") : fmt::format("{}", fmt::join(ids, " "));
}

// ledger.archive_updates (docs/formats.md, "Update archive"): replays the run from its
// initial model with the archived updates. At each height, every committed tx's archived
// q_k must hash to the update root the tx signs; the job's rule over those clients'
// updates, with their genesis weights, gives the aggregate A through the same aggregate/
// functions the ranks used; theta + dequantize(A) must hash to the block's state root.
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
      auto update = archive_->read(tx.client(), block.height());
      if (!update) return update.error();
      if (auto st = check_update(genesis, tx, *update); !st) return st;
      archived.push_back(std::move(*update));
    }
    auto result = recompute(archived);
    if (!result) return result.error();

    std::vector<std::uint32_t> clients;
    std::vector<std::uint32_t> rejected;
    for (const auto& tx : block.txs()) {
      clients.push_back(tx.client());
      const auto& selected = result->selected_ranks;
      if (std::find(selected.begin(), selected.end(), tx.client()) == selected.end()) {
        rejected.push_back(tx.client());
      }
    }
    if (rejected != block.header().rejected_clients) {
      return reject("aggregate-rejected-clients",
                    "the rule {} over the archived updates leaves out clients {}, the block "
                    "records {}",
                    aggregate::rule_name(config_.rule), id_list(rejected),
                    id_list(block.header().rejected_clients));
    }
    if (auto st = aggregate::dequantize_add(theta_, result->values, config_.quantize.scale_bits);
        !st) {
      return st;
    }
    const Hash32 root = merkle_root_of(bytes_of(std::span<const float>(theta_)), genesis);
    if (root != block.header().state_root) {
      return reject("aggregate-state-root",
                    "the rule {} over the archived updates of clients {} gives state root {}, the "
                    "block records {}",
                    aggregate::rule_name(config_.rule), id_list(clients), root.short_hex(),
                    block.header().state_root.short_hex());
    }
    ++heights_recomputed_;
    return {};
  }

  // What the audit found, once every block was checked; `clients` and `tip` place archived
  // heights after the chain's end.
  AggregateSummary summary(std::size_t clients, std::uint64_t tip) const {
    AggregateSummary out;
    out.updates_dir = updates_dir_;
    if (!started_) return out;
    out.kind =
        archive_ ? AggregateSummary::Kind::kRecomputed : AggregateSummary::Kind::kNotArchived;
    out.heights = heights_recomputed_;
    out.updates = updates_checked_;
    if (!archive_) return out;
    // Written by a run killed before their block committed (a resumed run removes them).
    for (std::uint32_t k = 0; k < clients; ++k) {
      for (const auto h : archive_->heights(k)) out.uncommitted += h > tip ? 1 : 0;
    }
    return out;
  }

 private:
  // The job as genesis records it (job.toml may have been edited; verify_run refuses that).
  Status start(const ledger::Genesis& genesis) {
    auto job = parse_job(genesis.fields().job_toml, "the job recorded in genesis");
    if (!job) return job.error();
    if (!data_path_.empty()) job->data.path = data_path_;
    // The dataset is read where the audit needs it, or where the user named one.
    if (!job->ledger.archive_updates && data_path_.empty()) return {};
    if (auto st = check_data(*job, genesis); !st) return st;
    if (!job->ledger.archive_updates) return {};
    auto config = aggregate::aggregate_config(job->aggregate);
    if (!config) return config.error();
    config_ = *config;
    config_.threads = static_cast<int>(job->train.threads);
    // privacy.dp: unit weights and the fixed denominator, the clients per round.
    dp_ = job->privacy.dp;
    denominator_ = genesis.fields().cohort.rule.per_round;
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
    const auto file = archive_->path(tx.client(), tx.height()).string();
    if (update.chain_id != genesis.chain_id()) {
      return reject("archive-mismatch",
                    "client {}'s archived update {} belongs to chain {}, not {}", tx.client(), file,
                    update.chain_id.short_hex(), genesis.chain_id().short_hex());
    }
    if (update.values.size() != theta_.size()) {
      return reject("archive-length",
                    "client {}'s archived update {} holds {} values, the model {}", tx.client(),
                    file, update.values.size(), theta_.size());
    }
    const Hash32 root =
        merkle_root_of(bytes_of(std::span<const std::int32_t>(update.values)), genesis);
    if (root != tx.update_root()) {
      return reject("archive-update-root",
                    "client {}'s archived update {} hashes to {}, but the update root its signed "
                    "transaction commits to is {}: the archived update was altered",
                    tx.client(), file, root.short_hex(), tx.update_root().short_hex());
    }
    ++updates_checked_;
    return {};
  }

  // The aggregate as the ranks computed it (node/round.cpp, exchange_and_aggregate).
  Result<aggregate::AggregateResult> recompute(const std::vector<io::ArchivedUpdate>& archived) {
    if (config_.exchange == aggregate::Exchange::kAllreduce) {
      // The int64 sum of w_k * q_k (per-rank partial sums and an MPI_Allreduce there) over
      // the clients whose tx the block holds: integers, so the grouping does not matter.
      std::vector<std::int64_t> sum(theta_.size());
      std::vector<std::uint32_t> counted;
      for (const auto& update : archived) {
        const std::int64_t weight = dp_ ? 1 : weights_[update.client];
        if (auto st = aggregate::add_weighted(sum, weight, update.values); !st) return st.error();
        counted.push_back(update.client);
      }
      if (dp_) return aggregate::private_fedavg_over_sum(sum, counted, denominator_);
      return aggregate::fedavg_over_sum(sum, counted, weights_);
    }
    std::vector<aggregate::Update> updates;
    for (const auto& update : archived) {
      updates.push_back({update.client, weights_[update.client], update.values});
    }
    return aggregate::aggregate(config_, updates);
  }

  std::filesystem::path updates_dir_;
  std::string data_path_;  // --data: overrides data.path to find the dataset's shape
  bool started_ = false;
  std::optional<io::UpdateArchive> archive_;  // set when the job archived its updates
  aggregate::AggregateConfig config_;
  std::vector<std::int64_t> weights_;  // (clients) genesis shard sizes
  bool dp_ = false;                    // privacy.dp: DP-FedAvg's average
  std::int64_t denominator_ = 1;       // privacy.dp: clients per round
  std::vector<float> theta_;           // (parameters) the model after the last height checked
  std::uint64_t heights_recomputed_ = 0;
  std::uint64_t updates_checked_ = 0;
};

std::string shown_path(const std::filesystem::path& run_dir, const std::filesystem::path& path) {
  const auto relative = path.lexically_relative(run_dir);
  return relative.empty() ? path.string() : relative.string();
}

// The first height at which two chains that both hold it differ (0: genesis), if any.
std::optional<std::uint64_t> first_difference(const ledger::ChainStore& a,
                                              const ledger::ChainStore& b) {
  if (a.genesis().hash() != b.genesis().hash()) return 0;
  const std::uint64_t common = std::min(a.height(), b.height());
  for (std::uint64_t h = 1; h <= common; ++h) {
    if (a.at(h).block.hash() != b.at(h).block.hash()) return h;
  }
  return std::nullopt;
}

// Fails `replica` where it differs from `reference` (the primary, or the replica a resumed
// run would restore from): then it is not a copy of this run's chain.
void compare_replica(ReplicaCheck& replica, const ledger::ChainStore& reference,
                     const std::string& reference_shown) {
  if (!replica.ok()) return;
  const auto height = first_difference(*replica.store, reference);
  if (!height) return;
  const auto hash_at = [](const ledger::ChainStore& store, std::uint64_t h) {
    return h == 0 ? store.genesis().hash() : store.at(h).block.hash();
  };
  replica.fail(
      *height,
      reject("replica-mismatch",
             "{} {} is not the {} that {} holds there ({}): this file is not a copy of "
             "the run's chain",
             *height == 0 ? "genesis" : "block", hash_at(*replica.store, *height).short_hex(),
             *height == 0 ? "genesis" : "block", reference_shown,
             hash_at(reference, *height).short_hex()));
}

// Each replica against the primary; those ahead of it also against the longest, since the
// heights past the primary's end that a resumed run restores come from that one.
void compare_with_primary(std::vector<ReplicaCheck>& replicas, const ledger::ChainStore& primary) {
  const std::string primary_shown = "chain/blocks.log";
  for (auto& replica : replicas) compare_replica(replica, primary, primary_shown);
  const ReplicaCheck* longest = longest_verified(replicas);
  if (longest == nullptr || longest->height() <= primary.height()) return;
  for (auto& replica : replicas) {
    if (&replica != longest) compare_replica(replica, *longest->store, longest->shown);
  }
}

// The primary is missing or damaged: each replica against the one to restore from.
void compare_with_longest(RunReport& report) {
  const ReplicaCheck* longest = longest_verified(report.replicas);
  if (longest == nullptr) return;
  report.restore_from = static_cast<std::size_t>(longest - report.replicas.data());
  for (auto& replica : report.replicas) {
    if (&replica != longest) compare_replica(replica, *longest->store, longest->shown);
  }
  report.replicas_disagree =
      std::any_of(report.replicas.begin(), report.replicas.end(), [](const auto& replica) {
        return !replica.ok() && replica.error->code == "replica-mismatch";
      });
}

}  // namespace

// Reads a replica read-only and replays it from genesis like the primary (proposer rotation
// included); checkpoints and archived updates belong to the primary and are not re-checked.
ledger::VerifyReport replay_replica(const ledger::ChainStore& replica) {
  ledger::VerifyOptions options;
  options.proposer_rule = consensus::proposer_of;
  return ledger::verify_chain(replica, options);
}

ReplicaCheck verify_replica(const std::filesystem::path& run_dir,
                            const std::filesystem::path& path) {
  ReplicaCheck check{path, shown_path(run_dir, path), std::nullopt, std::nullopt, std::nullopt};
  ledger::ChainDamage damage;
  auto store = ledger::ChainStore::open_file(path, ledger::OpenMode::kReadOnly, &damage);
  if (!store) {
    if (store.error().kind == ErrorKind::kVerification) check.bad_height = damage.height;
    check.error = store.error();
    return check;
  }
  const ledger::VerifyReport report = replay_replica(*store);
  if (!report.ok()) {
    check.fail(*report.bad_height, *report.error);
    return check;
  }
  check.store.emplace(std::move(*store));
  return check;
}

const ReplicaCheck* longest_verified(const std::vector<ReplicaCheck>& replicas) {
  const ReplicaCheck* longest = nullptr;
  for (const auto& replica : replicas) {
    if (replica.ok() && (longest == nullptr || replica.height() > longest->height())) {
      longest = &replica;
    }
  }
  return longest;
}

bool RunReport::ok() const {
  return chain.ok() &&
         std::all_of(replicas.begin(), replicas.end(), [](const auto& r) { return r.ok(); });
}

const Error* RunReport::unplaced_error() const {
  if (!chain.ok()) {
    return !chain.bad_height || chain.error->kind == ErrorKind::kConfig ? &*chain.error : nullptr;
  }
  for (const auto& replica : replicas) {
    if (!replica.ok() && !replica.bad_height) return &*replica.error;
  }
  return nullptr;
}

Outcome RunReport::outcome() const {
  if (unplaced_error() != nullptr) {
    // A lost primary is the user's to restore, from the replica the report names.
    const bool lost = !chain.ok() && !primary_exists && !replicas.empty();
    return lost ? Outcome::kPrimaryMissing : Outcome::kError;
  }
  if (!chain.ok()) return Outcome::kChainFails;
  return ok() ? Outcome::kVerifies : Outcome::kReplicaFails;
}

namespace {

// [privacy] of the job genesis records, and the epsilon spent after `height` rounds:
// recomputed from genesis alone (the job's keys, the cohort rule, the clients), beside the
// value the chain state voted on at that height (`state`, when a block verified).
std::optional<PrivacySummary> privacy_of(const ledger::Genesis& genesis, std::uint64_t height,
                                         const std::optional<ledger::ChainState>& state) {
  auto job = parse_job(genesis.fields().job_toml, "the job recorded in genesis");
  if (!job || (!job->privacy.dp && !job->privacy.secure_aggregation)) return std::nullopt;
  PrivacySummary out;
  out.section = job->privacy;
  out.heights = height;
  if (job->privacy.dp) {
    out.sampling_rate = ledger::sampling_rate(genesis.fields().cohort.rule.per_round,
                                              genesis.fields().shards.size());
    const ledger::RdpAccountant accountant(out.sampling_rate, job->privacy.noise_multiplier);
    const auto spent = accountant.spent(height, job->privacy.delta);
    out.epsilon_micro = ledger::epsilon_micro(spent.epsilon);
    out.epsilon = ledger::epsilon_of_micro(out.epsilon_micro);
    out.order = spent.order;
    if (state && state->height() == height && state->privacy()) {
      out.chain_epsilon_micro = state->privacy()->epsilon_micro;
    }
  }
  return out;
}

}  // namespace

RunReport audit_run(const std::filesystem::path& run_dir, const AuditOptions& options) {
  RunReport report;
  std::optional<ledger::Genesis> genesis_seen;
  const auto checkpoints = find_checkpoints(run_dir / "checkpoints");
  AggregateAudit aggregates(run_dir, options.data_path);
  bool extra_failed = false;
  ledger::VerifyOptions verify;
  verify.proposer_rule = consensus::proposer_of;
  verify.check_block_extra = [&](const ledger::Genesis& genesis, const ledger::Block& block,
                                 const ledger::ChainState&) -> Status {
    if (!genesis_seen) genesis_seen = genesis;
    Status checked;
    const auto it = checkpoints.by_height.find(block.height());
    if (it != checkpoints.by_height.end()) {
      ++report.checkpoints_checked;
      checked = check_checkpoint(it->second, genesis, block);
    }
    if (checked) checked = aggregates.check(genesis, block);
    extra_failed = !checked;
    return checked;
  };
  report.chain = ledger::verify_run(run_dir, verify);
  ledger::VerifyReport& chain = report.chain;
  report.chain_file_failed =
      !chain.ok() && chain.bad_height && !extra_failed && chain.error->code != "job-mismatch";
  report.primary_exists = std::filesystem::exists(ledger::ChainStore::log_path(run_dir));
  report.initial_checkpoint = checkpoints.by_height.count(0) > 0;
  if (chain.ok() && !checkpoints.unreadable.empty()) {
    chain.error = reject("bad-checkpoint", "{}", checkpoints.unreadable.front());
  }
  if (chain.ok() && !checkpoints.by_height.empty() &&
      checkpoints.by_height.rbegin()->first > chain.height) {
    chain.bad_height = checkpoints.by_height.rbegin()->first;
    chain.error = reject("orphan-checkpoint",
                         "{} is for a height the chain does not have (it ends at height {})",
                         checkpoints.by_height.rbegin()->second.string(), chain.height);
  }
  report.aggregates =
      aggregates.summary(chain.final_state ? chain.final_state->client_count() : 0, chain.height);
  if (genesis_seen) {
    report.privacy = privacy_of(*genesis_seen, chain.blocks_verified, chain.final_state);
  }

  for (const auto& path : ledger::ChainStore::replica_paths(run_dir)) {
    report.replicas.push_back(verify_replica(run_dir, path));
  }
  if (chain.ok()) {
    if (!report.replicas.empty()) {
      auto primary = ledger::ChainStore::open(run_dir, ledger::OpenMode::kReadOnly);
      if (primary) compare_with_primary(report.replicas, *primary);
    }
  } else {
    compare_with_longest(report);
  }
  return report;
}

}  // namespace fedchain::audit
