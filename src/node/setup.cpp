// Before the first round: everything a rank holds for the run (Node), built the same way
// on every rank from the job alone, so ranks agree without talking: the data partition,
// the initial model and the rules are pure functions of the job and its seed.
#include <mpi.h>

#include <algorithm>
#include <limits>
#include <regex>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "exchange.hpp"
#include "fedchain/core/cpu_level.hpp"
#include "fedchain/core/encoding.hpp"
#include "fedchain/core/job_file.hpp"
#include "fedchain/core/log.hpp"
#include "fedchain/crypto/sha256.hpp"
#include "fedchain/data/partition.hpp"
#include "fedchain/io/checkpoint.hpp"
#include "fedchain/ledger/chain_store.hpp"
#include "node.hpp"

namespace fedchain::node {

namespace {

// The heights of the checkpoints in the run directory, newest first.
std::vector<std::uint64_t> checkpoint_heights(const io::RunDir& dir) {
  static const std::regex kName(R"(height-(\d{8})\.h5)");
  std::vector<std::uint64_t> heights;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir.checkpoints_dir(), ec)) {
    std::smatch match;
    const std::string name = entry.path().filename().string();
    if (std::regex_match(name, match, kName)) heights.push_back(std::stoull(match[1].str()));
  }
  std::sort(heights.rbegin(), heights.rend());
  return heights;
}

// A run killed after writing job.toml but before its chain, first checkpoint or metrics
// existed: nothing to continue from, and nothing that starting over could lose.
bool holds_nothing_committed(const io::RunDir& dir) {
  std::error_code ec;
  return !std::filesystem::exists(ledger::ChainStore::log_path(dir.root()), ec) &&
         ledger::ChainStore::replica_paths(dir.root()).empty() && checkpoint_heights(dir).empty() &&
         !std::filesystem::exists(dir.metrics_csv(), ec);
}

// Rank 0 creates (or checks, on resume) the run directory; the others wait for its verdict.
// `--resume` on a folder that holds no run yet, or only the job file of one killed before it
// committed anything, starts a fresh one, so that one command serves the first start and
// every restart (a requeued Slurm job); `options.resume` is then cleared on every rank. A
// folder holding another job's run is still refused.
Result<io::RunDir> open_run_dir(RunOptions& options, int rank) {
  Result<io::RunDir> dir = config_error("unset");
  int fresh = 0;
  if (rank == 0) {
    if (options.resume && io::RunDir::holds_run(options.run_dir)) {
      dir = io::RunDir::resume(options.run_dir, options.job_toml);
      fresh = dir && holds_nothing_committed(*dir) ? 1 : 0;
    } else {
      fresh = options.resume ? 1 : 0;
      dir = io::RunDir::create(options.run_dir, options.job_toml);
    }
  }
  const Status made = rank == 0 && !dir ? Status(dir.error()) : Status();
  if (auto st = agree(made, MPI_COMM_WORLD); !st) return st.error();
  if (const int rc = MPI_Bcast(&fresh, 1, MPI_INT, 0, MPI_COMM_WORLD); rc != MPI_SUCCESS) {
    return mpi_failure("MPI_Bcast (fresh run)", rc);
  }
  if (fresh != 0) options.resume = false;
  if (rank == 0) return dir;
  return io::RunDir::open(options.run_dir);
}

// The height of rank 0's last metrics row, on every rank (no limit without a metrics.csv).
// A kill between a round's checkpoint and its row leaves the row missing; resuming from
// below it replays that round and writes the row again.
std::uint64_t metrics_end(const Node& node) {
  std::uint64_t end = std::numeric_limits<std::uint64_t>::max();
  if (node.rank == 0) end = io::MetricsLog::last_height(node.run_dir.metrics_csv()).value_or(end);
  MPI_Allreduce(MPI_IN_PLACE, &end, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
  return end;
}

// Training rounds its floats by the instruction set its kernels run on: a run resumed on
// another kind of machine goes on correctly, but not bit for bit as it would have here.
void warn_other_kernels(const Node& node) {
  const auto before = io::MetricsLog::last_cell(node.run_dir.metrics_csv(), "cpu_kernels");
  const char* now = cpu_level_name(cpu_level());
  if (!before || before->empty() || *before == now) return;
  const bool can_replay = *before == cpu_level_name(CpuLevel::kX86_64_v3);
  spdlog::warn(
      "resume: the rounds so far ran on {} CPU kernels, this machine runs {}: training from "
      "here rounds differently, so the run will not match bit for bit one that was not "
      "interrupted (what the chain committed is unchanged){}",
      *before, now, can_replay ? "; FEDCHAIN_CPU_LEVEL=x86-64-v3 runs the kernels it ran on" : "");
}

// The newest checkpoint a resumed run may start from: with a chain, one at or below its
// tip (a checkpoint beyond it, as after restoring a replica one block behind, is not used:
// those rounds run again). Whatever it is, its parameters must be this run's model: they
// hash to the root it records, and with a chain, to the state root the chain committed at
// its height, in this chain (a checkpoint forged, or copied from another run, is refused).
Status resume_from_checkpoint(Node& node) {
  const std::uint64_t tip =
      node.chain ? node.chain->committed.size() : std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t rows_end = metrics_end(node);
  std::uint64_t height = 0;
  for (const std::uint64_t h : checkpoint_heights(node.run_dir)) {
    if (h <= tip && h <= rows_end) {
      height = h;
      break;
    }
    if (h <= tip) {
      spdlog::warn(
          "resume: checkpoint {} is at height {}, beyond metrics.csv's last row {}: not used; "
          "the rounds after height {} run again and write their rows",
          node.run_dir.checkpoint_path(h).string(), h, rows_end, rows_end);
      continue;
    }
    spdlog::warn(
        "resume: checkpoint {} is at height {}, beyond the chain's last block {}: not used; "
        "the rounds after height {} run again",
        node.run_dir.checkpoint_path(h).string(), h, tip, tip);
  }
  if (height == 0) {
    spdlog::info("resume: no checkpoint at or below the chain's tip; starting from round 1");
    return {};
  }
  const auto path = node.run_dir.checkpoint_path(height);
  const auto move_aside = "move it aside to resume from an older checkpoint";
  auto checkpoint = io::read_checkpoint(path);
  const auto move_damaged_aside = "move the damaged file aside to resume from an older checkpoint";
  if (!checkpoint) return config_error("{}; {}", checkpoint.error().message, move_damaged_aside);
  const io::CheckpointMeta& meta = checkpoint->meta;
  if (meta.height != height) {
    return config_error(
        "checkpoint {} holds the model of height {}, not {} as its name says: it was renamed "
        "or copied; {}",
        path.string(), meta.height, height, move_aside);
  }
  if (checkpoint->params.size() != node.global.theta.size()) {
    return config_error(
        "checkpoint {} holds {} parameters, the job's model has {}: it does not belong to "
        "this job; {}",
        path.string(), checkpoint->params.size(), node.global.theta.size(), move_aside);
  }
  const Hash32 root = state_root_of(checkpoint->params, node.job);
  if (root != meta.state_root) {
    return config_error("checkpoint {}: its parameters do not hash to its recorded state root; {}",
                        path.string(), move_damaged_aside);
  }
  if (node.chain) {
    const Hash32& chain_id = node.chain->participant->genesis().chain_id();
    const ChainSide::Committed& committed = node.chain->committed[height - 1];
    if (meta.chain_id != chain_id) {
      return config_error(
          "checkpoint {} belongs to another chain (chain id {}, this run's is {}); {}",
          path.string(), meta.chain_id.short_hex(), chain_id.short_hex(), move_aside);
    }
    if (root != committed.state_root || meta.block_hash != committed.block_hash) {
      return config_error(
          "checkpoint {}: its parameters hash to {} but the chain committed state root {} at "
          "height {}: it is not this run's model (forged, or from another run); {}",
          path.string(), root.short_hex(), committed.state_root.short_hex(), height, move_aside);
    }
  }
  node.global.theta = std::move(checkpoint->params);
  node.global.state_root = root;
  node.global.height = height;
  spdlog::info("resume: from checkpoint {} (height {})", path.string(), height);
  return {};
}

Status check_job_against_world(const Job& job, int ranks) {
  if (job.job.ranks != 0 && job.job.ranks != ranks) {
    return config_error(
        "job.ranks = {} but mpirun started {} ranks: start {} ranks (mpirun -n {}) or change "
        "job.ranks",
        job.job.ranks, ranks, job.job.ranks, job.job.ranks);
  }
  if (job.faults.flip_bit_rank >= ranks) {
    return config_error(
        "faults.flip_bit_rank = {} but the job runs {} ranks (0 to {}): the fault would never "
        "happen; name a rank below {}, or -1 for none",
        job.faults.flip_bit_rank, ranks, ranks - 1, ranks);
  }
  if (auto st = check_clients(job, ranks); !st) return st;
  if (auto st = check_privacy_job(job, ranks); !st) return st;
  if (job.consensus.protocol == "bft") return check_committee(job, ranks);
  return {};
}

// The job's clients: K (one per rank by default), each one's shard of the training set
// from data.partition (the same for any rank count: a function of K, the labels and the
// seed), and how cohorts are drawn. The shards of the clients this rank hosts are kept.
Status build_clients(Node& node, const Job& job) {
  const auto total =
      static_cast<std::uint32_t>(job.clients.total > 0 ? job.clients.total : node.ranks);
  auto sampling = ledger::cohort_sampling_from_name(job.clients.sampling);
  if (!sampling) return sampling.error();
  node.clients.cohort.per_round =
      job.clients.per_round > 0 ? static_cast<std::uint32_t>(job.clients.per_round) : total;
  node.clients.cohort.sampling = *sampling;
  node.clients.seed = static_cast<std::uint64_t>(job.job.seed);
  auto partition =
      data::partition(node.local.data.train_labels, node.local.data.train.classes, total, job.data,
                      static_cast<std::uint64_t>(job.job.seed), node.local.data.train_clients);
  if (!partition) return partition.error();
  for (std::uint32_t client = 0; client < total; ++client) {
    auto& indices = (*partition)[client];
    node.clients.samples.push_back(static_cast<std::int64_t>(indices.size()));
    Writer encoded;
    for (const auto index : indices) encoded.i64(index);
    node.clients.commitments.push_back(crypto::sha256(encoded.data()));
    if (ledger::host_rank(client, static_cast<std::uint32_t>(node.ranks)) ==
        static_cast<std::uint32_t>(node.rank)) {
      node.local.shards.emplace(client, std::move(indices));
    }
  }
  if (static_cast<int>(total) < node.ranks && node.rank == 0) {
    spdlog::warn(
        "clients.total = {} is below the {} ranks: ranks {} to {} host no client; they still "
        "vote and aggregate",
        total, node.ranks, total, node.ranks - 1);
  }
  return aggregate::check_bounds(node.aggregate, node.clients.samples);
}

// Every rank read data.path on its own machine: the copies must hold the same arrays, or the
// ranks would train on different data under one genesis. Collective; every rank returns the
// same verdict.
Status check_same_data(const Node& node) {
  const Hash32& mine = node.local.data.content_hash;
  std::vector<std::uint8_t> all(Hash32::size() * static_cast<std::size_t>(node.ranks));
  if (const int rc =
          MPI_Allgather(mine.bytes.data(), static_cast<int>(Hash32::size()), MPI_BYTE, all.data(),
                        static_cast<int>(Hash32::size()), MPI_BYTE, MPI_COMM_WORLD);
      rc != MPI_SUCCESS) {
    return mpi_failure("MPI_Allgather (dataset hashes)", rc);
  }
  std::vector<int> differ;
  for (int r = 1; r < node.ranks; ++r) {
    if (!std::equal(all.begin(), all.begin() + Hash32::size(),
                    all.begin() + static_cast<std::ptrdiff_t>(r * Hash32::size()))) {
      differ.push_back(r);
    }
  }
  if (differ.empty()) return {};
  Hash32 rank0;
  std::copy_n(all.begin(), Hash32::size(), rank0.bytes.begin());
  Error error = config_error(
      "data.path = {}: ranks {} read arrays that differ from rank 0's (content hash {}): every "
      "machine must hold the same dataset file",
      node.job.data.path, fmt::join(differ, " "), rank0.short_hex());
  error.every_rank = true;
  return error;
}

// Ranks whose training kernels differ would train a client to different bits, so the
// roots would depend on which rank hosts which client (never the agreement: every rank
// still commits the same root). Collective; every rank returns the same verdict.
Status check_training_kernels(const Node& node) {
  constexpr std::size_t kMaxKernelsName = 256;
  std::string mine = node.local.backend->kernels();
  mine.resize(std::min(mine.size(), kMaxKernelsName));
  auto all = node.comm->gather_bytes(as_bytes(mine), 1, kMaxKernelsName);
  if (!all) return all.error();
  std::vector<std::string> by_rank;
  for (const Bytes& name : *all) by_rank.emplace_back(name.begin(), name.end());
  auto warning = compare_training_kernels(by_rank, node.job.train.device);
  if (!warning) {
    Error error = warning.error();
    error.every_rank = true;
    return error;
  }
  if (!warning->empty() && node.rank == 0) spdlog::warn("{}", *warning);
  return {};
}

void log_data(const Node& node) {
  const train::JobData& data = node.local.data;
  spdlog::info("data {}: {} train and {} test samples of {}x{}x{} (H x W x C), content sha256 {}",
               node.job.data.path, data.train.count, data.test.count, data.train.height,
               data.train.width, data.train.channels, data.content_hash.hex());
  if (!data.scaling.mean.empty()) {
    spdlog::info("data.normalize: per-channel mean [{}], std [{}] of the training split",
                 fmt::join(data.scaling.mean, ", "), fmt::join(data.scaling.stddev, ", "));
  }
}

}  // namespace

Result<std::string> compare_training_kernels(std::span<const std::string> by_rank,
                                             const std::string& device) {
  const std::vector<RankGroup> groups = group_ranks(by_rank);
  if (groups.size() <= 1) return std::string();
  std::vector<std::string> described;
  bool one_kind_of_device = true;
  const auto kind = [](const std::string& name) { return name.substr(0, name.find(' ')); };
  for (const auto& [name, ranks] : groups) {
    described.push_back(
        fmt::format("rank{} {} \"{}\"", ranks.size() > 1 ? "s" : "", fmt::join(ranks, " "), name));
    one_kind_of_device = one_kind_of_device && kind(name) == kind(groups.front().value);
  }
  const std::string who = fmt::format("{}", fmt::join(described, "; "));
  if (!one_kind_of_device) {
    return config_error(
        "train.device = \"{}\": the ranks train on different kinds of device ({}); a client's "
        "update would depend on the rank hosting it, and the state roots on the rank count. Set "
        "train.device = \"cpu\" or \"cuda\" for the whole job (docs/training.md, \"Ranks with "
        "different kernels\")",
        device, who);
  }
  return fmt::format(
      "the ranks train with different kernels ({}): every rank still commits the same roots, "
      "but a client's update depends on the rank hosting it, so these roots differ from a run "
      "on one kind of machine. For CPUs, FEDCHAIN_CPU_LEVEL=x86-64-v3 on every rank makes them "
      "agree (docs/training.md, \"Ranks with different kernels\")",
      who);
}

Status build_node(Node& node, const Job& job) {
  auto aggregate = aggregate::aggregate_config(job.aggregate);
  if (!aggregate) return aggregate.error();
  node.aggregate = *aggregate;
  node.aggregate.threads = static_cast<int>(job.train.threads);
  auto data = train::load_job_data(job);
  if (!data) return data.error();
  node.local.data = std::move(*data);
  if (auto st = build_clients(node, job); !st) return st;
  auto attack = aggregate::attack_config(job.faults, job.job.seed, node.clients.count());
  if (!attack) return attack.error();
  node.local.faults = faults::make_round_faults(
      job.faults, std::move(*attack), node.rank,
      [&collectives = *node.comm](std::span<const std::span<const float>> mine, std::size_t length,
                                  std::size_t max_per_rank) {
        return collectives.pool_colluding(mine, length, max_per_rank);
      });
  node.local.faults->on_training_labels(node.local.data.train.labels, node.local.data.train.classes,
                                        node.local.shards);

  auto backend = train::make_job_backend(job, node.local.data.train);
  if (!backend) return backend.error();
  if (!backend->note.empty()) spdlog::info("{}", backend->note);
  node.local.backend = std::move(backend->backend);
  auto model = train::make_job_model(*node.local.backend, job, node.local.data.train);
  if (!model) return model.error();
  node.local.model = std::make_unique<train::Model>(std::move(*model));
  node.local.options = train::train_options(job.train);
  auto augment = train::augment_from_name(job.data.augment);
  if (!augment) return augment.error();
  auto trainer = train::LocalTrainer::create(*node.local.model, node.local.options, *augment);
  if (!trainer) return trainer.error();
  node.local.trainer.emplace(std::move(*trainer));
  node.global.theta.resize(static_cast<std::size_t>(node.local.model->parameter_count()));
  if (auto st = node.local.model->get_parameters(node.global.theta); !st) return st;
  node.global.state_root = state_root_of(node.global.theta, job);
  return {};
}

Result<std::unique_ptr<Node>> start_node(const Job& job, const RunOptions& requested) {
  int rank = 0;
  int ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  // Every rank sees the same job, so every rank finds the same problem: no agreement needed.
  if (auto st = check_job_against_world(job, ranks); !st) {
    Error alike = st.error();
    alike.every_rank = true;
    return alike;
  }

  // Before the run directory: a job refused for want of a GPU leaves nothing behind.
  std::unique_ptr<Collectives> collectives;
  if (job.aggregate.transport == "nccl") {
    auto nccl = make_nccl_collectives();
    if (!nccl) return nccl.error();
    collectives = std::move(*nccl);
  } else {
    collectives = make_mpi_collectives();
  }

  RunOptions options = requested;
  auto dir = open_run_dir(options, rank);
  if (!dir) return dir.error();
  auto node = std::make_unique<Node>(job, rank, ranks, std::move(*dir));
  node->comm = std::move(collectives);
  if (auto st = log::init({node->rank, node->run_dir.root(), options.log_level}); !st) {
    return st.error();
  }
  if (requested.resume && !options.resume) {
    spdlog::info("--resume: {} holds no committed round yet; starting a fresh run",
                 node->run_dir.root().string());
  }
  if (auto st = agree(build_node(*node, job), MPI_COMM_WORLD); !st) return st.error();
  if (auto st = check_same_data(*node); !st) return st.error();
  if (auto st = check_training_kernels(*node); !st) return st.error();
  if (node->rank == 0) log_data(*node);
  if (job.consensus.protocol == "bft") {
    // start_chain agrees on its own failures before each collective it enters.
    if (auto st = agree(start_chain(*node, options), MPI_COMM_WORLD); !st) return st.error();
  }
  if (auto st = start_privacy(*node); !st) return st.error();
  // After the chain is read: the checkpoint must match what it committed.
  if (options.resume) {
    if (auto st = agree(resume_from_checkpoint(*node), MPI_COMM_WORLD); !st) return st.error();
  }

  if (node->rank == 0) {
    if (options.resume) warn_other_kernels(*node);
    auto metrics =
        options.resume
            ? io::MetricsLog::resume(node->run_dir.metrics_csv(), node->run_dir.metrics_jsonl(),
                                     node->global.height, job.privacy.dp)
            : io::MetricsLog::create(node->run_dir.metrics_csv(), node->run_dir.metrics_jsonl(),
                                     job.privacy.dp);
    if (!metrics) return metrics.error();
    node->metrics.emplace(std::move(*metrics));
  }
  if (auto st = node->run_dir.announce_holder(); !st) return st.error();
  std::size_t hosted_samples = 0;
  for (const auto& [client, samples] : node->local.shards) hosted_samples += samples.size();
  spdlog::info(
      "{} ranks, {} clients ({} per round, {} here with {} samples), model {} ({} parameters), "
      "rule {} over {}, backend {}, aggregation kernels {}",
      node->ranks, node->clients.count(), node->clients.cohort.per_round, node->local.shards.size(),
      hosted_samples, job.model.arch, node->global.theta.size(),
      aggregate::rule_name(node->aggregate.rule), job.aggregate.transport,
      node->local.backend->name(), cpu_level_name(cpu_level()));
  return node;
}

}  // namespace fedchain::node
