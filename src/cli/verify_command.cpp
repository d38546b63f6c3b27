// `fedchain verify RUN_DIR`: the audit of invariant 6 (docs/architecture.md). Re-checks every
// record, hash link, signature, certificate quorum and the genesis, with the proposer rotation of
// consensus/, then every checkpoint against its block and, where the run archived its
// updates (ledger.archive_updates), recomputes every aggregate and state root from them.
// Then each replica (ledger.replicas) is verified on its own and compared with the primary.
// Prints a one-line verdict and a summary; exit 0 when everything holds, 3 naming the
// first bad height otherwise. Both audits plug into VerifyOptions::check_block_extra.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
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

// ledger.replicas (docs/formats.md, "Replicas"): one replica file, verified on its own.
// Its certificates are the precommits its own rank collected, so it is never compared byte
// for byte; what must agree with the primary is genesis and the block at every height.
struct ReplicaCheck {
  std::filesystem::path path;
  std::string shown;                        // the path relative to RUN_DIR, for summary lines
  std::optional<ledger::ChainStore> store;  // the file as read, when it reads cleanly
  std::optional<std::uint64_t> bad_height;  // where it fails; unset with an unreadable file
  std::optional<Error> error;               // why it fails

  bool ok() const { return !error.has_value(); }
  std::uint64_t height() const { return store ? store->height() : 0; }
  void fail(std::uint64_t height, Error why) {
    bad_height = height;
    error = std::move(why);
  }
};

std::string shown_path(const std::filesystem::path& run_dir, const std::filesystem::path& path) {
  const auto relative = path.lexically_relative(run_dir);
  return relative.empty() ? path.string() : relative.string();
}

// Reads a replica read-only and replays it from genesis like the primary (proposer rotation
// included); checkpoints and archived updates belong to the primary and are not re-checked.
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
  ledger::VerifyOptions options;
  options.proposer_rule = consensus::proposer_of;
  const ledger::VerifyReport report = ledger::verify_chain(*store, options);
  if (!report.ok()) {
    check.fail(*report.bad_height, *report.error);
    return check;
  }
  check.store.emplace(std::move(*store));
  return check;
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

// The replica a resumed run restores from: the longest that verifies, the lowest rank
// among equals (node/chain_setup.cpp, blocks_beyond_primary).
ReplicaCheck* longest_verified(std::vector<ReplicaCheck>& replicas) {
  ReplicaCheck* longest = nullptr;
  for (auto& replica : replicas) {
    if (replica.ok() && (longest == nullptr || replica.height() > longest->height())) {
      longest = &replica;
    }
  }
  return longest;
}

// Each replica against the primary; those ahead of it also against the longest, since the
// heights past the primary's end that a resumed run restores come from that one.
void compare_with_primary(std::vector<ReplicaCheck>& replicas, const ledger::ChainStore& primary) {
  const std::string primary_shown = "chain/blocks.log";
  for (auto& replica : replicas) compare_replica(replica, primary, primary_shown);
  ReplicaCheck* longest = longest_verified(replicas);
  if (longest == nullptr || longest->height() <= primary.height()) return;
  for (auto& replica : replicas) {
    if (&replica != longest) compare_replica(replica, *longest->store, longest->shown);
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
// chain/blocks.log (the same advice a resumed run gives when the primary is missing).
void print_restore_advice(std::vector<ReplicaCheck>& replicas, bool primary_exists) {
  ReplicaCheck* longest = longest_verified(replicas);
  if (longest != nullptr) {
    for (auto& replica : replicas) {
      if (&replica != longest) compare_replica(replica, *longest->store, longest->shown);
    }
  }
  for (const auto& replica : replicas) print_replica(replica, std::nullopt, true);
  const bool disagree = std::any_of(replicas.begin(), replicas.end(), [](const auto& replica) {
    return !replica.ok() && replica.error->code == "replica-mismatch";
  });
  if (longest == nullptr) {
    std::printf("  restore      no replica verifies: none can replace chain/blocks.log\n");
  } else if (disagree) {
    std::printf(
        "  restore      the replicas that verify disagree (above): compare them before copying "
        "one over chain/blocks.log\n");
  } else {
    std::printf(
        "  restore      %scopy %s (height %llu, the longest replica that verifies) to "
        "chain/blocks.log, then resume\n",
        primary_exists ? "move chain/blocks.log aside, " : "", longest->shown.c_str(),
        static_cast<unsigned long long>(longest->height()));
  }
}

int run_verify(const std::string& run_dir, const std::string& data_path) {
  const auto checkpoints = find_checkpoints(std::filesystem::path(run_dir) / "checkpoints");
  std::size_t checkpoints_checked = 0;
  ledger::VerifyOptions options;
  options.proposer_rule = consensus::proposer_of;
  AggregateAudit audit(run_dir, data_path);
  bool extra_failed = false;
  options.check_block_extra = [&](const ledger::Genesis& genesis, const ledger::Block& block,
                                  const ledger::ChainState&) -> Status {
    Status checked;
    const auto it = checkpoints.by_height.find(block.height());
    if (it != checkpoints.by_height.end()) {
      ++checkpoints_checked;
      checked = check_checkpoint(it->second, genesis, block);
    }
    if (checked) checked = audit.check(genesis, block);
    extra_failed = !checked;
    return checked;
  };
  ledger::VerifyReport report = ledger::verify_run(run_dir, options);
  // The chain file itself failed (not a checkpoint, an archived update or job.toml): a
  // replica may stand in for it.
  const bool chain_failed =
      !report.ok() && report.bad_height && !extra_failed && report.error->code != "job-mismatch";
  const auto replica_files = ledger::ChainStore::replica_paths(run_dir);
  const auto verify_replicas = [&] {
    std::vector<ReplicaCheck> replicas;
    for (const auto& path : replica_files) replicas.push_back(verify_replica(run_dir, path));
    return replicas;
  };
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
      const auto primary_path = ledger::ChainStore::log_path(run_dir);
      if (std::filesystem::exists(primary_path) || replica_files.empty()) {
        return cli::report(*report.error);
      }
      const int exit_code = cli::report(config_error(
          "{} is missing but {} replica(s) of it exist: copy the longest that verifies (listed "
          "below) to {} and resume",
          primary_path.string(), replica_files.size(), primary_path.string()));
      auto replicas = verify_replicas();
      print_restore_advice(replicas, false);
      return exit_code;
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
    if (chain_failed && !replica_files.empty()) {
      auto replicas = verify_replicas();
      print_restore_advice(replicas, true);
    }
    return 3;
  }
  auto replicas = verify_replicas();
  std::uint64_t primary_height = report.height;
  if (!replicas.empty()) {
    auto primary = ledger::ChainStore::open(run_dir, ledger::OpenMode::kReadOnly);
    if (!primary) return cli::report(primary.error());
    primary_height = primary->height();
    compare_with_primary(replicas, *primary);
  }
  for (const auto& replica : replicas) {
    if (!replica.ok() && !replica.bad_height) return cli::report(*replica.error);
  }
  if (std::any_of(replicas.begin(), replicas.end(), [](const auto& r) { return !r.ok(); })) {
    for (const auto& replica : replicas) {
      if (replica.ok()) continue;
      std::printf("FAILED: %s: height %llu: %s [%s]\n", replica.path.string().c_str(),
                  static_cast<unsigned long long>(*replica.bad_height),
                  replica.error->message.c_str(), replica.error->code.c_str());
    }
    std::printf("  primary      chain/blocks.log verifies: height %llu\n",
                static_cast<unsigned long long>(primary_height));
    for (const auto& replica : replicas) print_replica(replica, primary_height, false);
    std::printf(
        "  move each replica that fails aside, then resume: a rank that writes replicas starts "
        "a new copy from chain/blocks.log\n");
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
  if (replicas.empty()) {
    std::printf(
        "  replicas     none: only chain/blocks.log holds the chain (ledger.replicas = \"all\", "
        "or \"per-node\" over several nodes, has other ranks write copies)\n");
  }
  for (const auto& replica : replicas) print_replica(replica, primary_height, true);
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
