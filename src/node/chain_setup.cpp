// The chain side of setup (consensus.protocol = "bft"): keys, genesis or the existing chain,
// chain state, and the consensus machinery over MPI. Rank 0 writes the primary chain file
// and the ranks that ledger.replicas names write replicas; every rank holds genesis and
// chain state in memory.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "exchange.hpp"
#include "fedchain/audit/run_audit.hpp"
#include "fedchain/consensus/chain_validators.hpp"
#include "fedchain/core/job_file.hpp"
#include "fedchain/crypto/key_file.hpp"
#include "fedchain/crypto/merkle.hpp"
#include "fedchain/crypto/sha256.hpp"
#include "fedchain/faults/consensus_faults.hpp"
#include "fedchain/ledger/validation.hpp"
#include "node.hpp"

namespace fedchain::node {

namespace {

ledger::AggregationRule rule_record(const aggregate::AggregateConfig& config) {
  ledger::AggregationRule rule;
  rule.name = aggregate::rule_name(config.rule);
  // Parameters strictly ascending by name (genesis encoding).
  switch (config.rule) {
    case aggregate::Rule::kTrimmedMean:
      rule.params.push_back({"trim_beta", config.trim_beta});
      break;
    case aggregate::Rule::kKrum:
      rule.params.push_back({"krum_f", static_cast<double>(config.krum_f)});
      break;
    case aggregate::Rule::kMultiKrum:
      rule.params.push_back({"krum_f", static_cast<double>(config.krum_f)});
      rule.params.push_back({"multi_krum_m", static_cast<double>(config.multi_krum_m)});
      break;
    default:
      break;
  }
  return rule;
}

std::uint64_t agreed_time_ms() {
  std::uint64_t now =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  MPI_Bcast(&now, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);  // genesis time: rank 0's clock
  return now;
}

Result<ledger::Genesis> make_genesis(const Node& node, const RunOptions& options,
                                     const std::vector<PublicKey>& keys, std::uint64_t time_ms) {
  ledger::GenesisBuilder g;
  g.job_toml = options.job_toml;
  g.time_ms = time_ms;
  const auto& stake = node.job.consensus.stake;
  for (std::uint32_t r = 0; r < keys.size(); ++r) {
    g.validators.push_back({r, keys[r], stake.empty() ? 1 : static_cast<std::uint64_t>(stake[r])});
  }
  g.model = {node.local.model->summary().substr(0, node.local.model->summary().find('\n')),
             static_cast<std::uint64_t>(node.global.theta.size())};
  g.initial_state_root = node.global.state_root;
  for (std::uint32_t k = 0; k < node.clients.count(); ++k) {
    g.shards.push_back(
        {static_cast<std::uint64_t>(node.clients.samples[k]), node.clients.commitments[k]});
  }
  g.cohort = {node.clients.seed, node.clients.cohort};
  g.rule = rule_record(node.aggregate);
  g.quantization = {static_cast<std::uint32_t>(node.job.aggregate.scale_bits),
                    node.job.aggregate.clip};
  g.merkle_chunk_bytes = static_cast<std::uint32_t>(node.job.ledger.merkle_chunk_bytes);
  g.committee = {static_cast<std::uint32_t>(committee_size(node.job, node.ranks)),
                 static_cast<std::uint64_t>(node.job.consensus.epoch)};
  g.data_hash = node.local.data.content_hash;
  return g.build();
}

// ledger.replicas: whether this rank writes a copy of the chain besides rank 0's primary.
// Collective under "per-node": every rank takes part in splitting the world by node.
bool writes_replica(const Node& node) {
  const std::string& replicas = node.job.ledger.replicas;
  bool first_on_node = false;
  if (replicas == "per-node") {
    MPI_Comm local = MPI_COMM_NULL;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, node.rank, MPI_INFO_NULL, &local);
    int local_rank = 0;
    MPI_Comm_rank(local, &local_rank);
    MPI_Comm_free(&local);
    first_on_node = local_rank == 0;
  }
  return node.rank != 0 && (replicas == "all" || first_on_node);
}

// The chain files a rank holds: the primary, which rank 0 appends to and every other rank
// reads, and on a replica writer its own copy.
struct ChainFiles {
  ledger::ChainStore primary;
  std::optional<ledger::ChainStore> replica;
};

// A replica must hold the primary's blocks at every height both hold. Certificates may
// differ: each rank certifies a commit with the precommits it collected.
Status check_replica_matches(const ledger::ChainStore& replica, const ledger::ChainStore& primary) {
  const auto refuse = [&](std::uint64_t height) {
    return config_error(
        "{} differs from {} at height {}: it is not a copy of this run's chain; move it aside "
        "and resume (a new replica is written from the primary)",
        replica.name(), primary.name(), height);
  };
  if (replica.genesis().hash() != primary.genesis().hash()) return refuse(0);
  const std::uint64_t common = std::min(replica.height(), primary.height());
  for (std::uint64_t h = 1; h <= common; ++h) {
    if (replica.at(h).block.hash() != primary.at(h).block.hash()) return refuse(h);
  }
  return {};
}

// The blocks some replica holds beyond the primary's end: rank 0 was stopped after the
// commit but before its append reached the disk. Every replica verified on open, so the
// longest (lowest rank among equals) sends them: audit::longest_verified's rule, the one
// `fedchain verify` names too. Every rank re-validates each block against the chain
// state, certificate and proposer included.
Result<std::vector<ledger::StoredBlock>> blocks_beyond_primary(const Node& node,
                                                               const ChainFiles& files) {
  const std::uint64_t mine = files.replica ? files.replica->height() : 0;
  std::vector<std::uint64_t> heights(static_cast<std::size_t>(node.ranks));
  MPI_Allgather(&mine, 1, MPI_UINT64_T, heights.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
  const std::uint64_t primary_height = files.primary.height();
  const auto longest = std::max_element(heights.begin(), heights.end());
  if (*longest <= primary_height) return std::vector<ledger::StoredBlock>{};
  const int source = static_cast<int>(longest - heights.begin());

  std::vector<Bytes> records;
  if (node.rank == source) {
    for (std::uint64_t h = primary_height + 1; h <= *longest; ++h) {
      const auto& stored = files.replica->at(h);
      records.push_back(ledger::encode_block_record(stored.block, stored.certificate));
    }
  }
  std::vector<ledger::StoredBlock> restored;
  ledger::ChainState state = ledger::ChainState::from_genesis(files.primary.genesis());
  for (const auto& stored : files.primary.blocks()) state = state.apply(stored.block);
  const auto replica_name =
      ledger::ChainStore::replica_path(node.run_dir.root(), static_cast<std::uint32_t>(source));
  for (std::uint64_t h = primary_height + 1; h <= *longest; ++h) {
    Bytes record = node.rank == source ? records[h - primary_height - 1] : Bytes{};
    std::uint64_t size = record.size();
    MPI_Bcast(&size, 1, MPI_UINT64_T, source, MPI_COMM_WORLD);
    record.resize(size);
    MPI_Bcast(record.data(), static_cast<int>(size), MPI_BYTE, source, MPI_COMM_WORLD);
    auto stored = ledger::decode_block_record(record);
    Status valid =
        stored ? ledger::validate_commit(stored->block, stored->certificate,
                                         files.primary.genesis(), state, consensus::proposer_of)
               : Status(stored.error());
    if (!valid) {
      return config_error(
          "{} holds height {} beyond the end of {}, but that block does not verify: {}; move "
          "the replica aside to resume from the primary",
          replica_name.string(), h, files.primary.name(), valid.error().message);
    }
    state = state.apply(stored->block);
    restored.push_back(std::move(*stored));
  }
  if (node.rank == 0) {
    spdlog::warn("{} ended at height {}; heights {} to {} restored from {}", files.primary.name(),
                 primary_height, primary_height + 1, *longest, replica_name.string());
  }
  return restored;
}

// A replica writer's file made to hold every block of the primary: created from genesis
// when missing, appended to when behind, refused when it differs.
Status bring_replica_up(const std::filesystem::path& path,
                        std::optional<ledger::ChainStore>& replica,
                        const ledger::ChainStore& primary) {
  if (!replica) {
    auto created = ledger::ChainStore::create_file(path, primary.genesis());
    if (!created) return created.error();
    replica.emplace(std::move(*created));
  }
  // Again after a restore: a replica as long as the one restored from must hold its blocks.
  if (auto st = check_replica_matches(*replica, primary); !st) return st;
  if (replica->height() < primary.height()) {
    spdlog::info("{}: appending heights {} to {} from {}", path.string(), replica->height() + 1,
                 primary.height(), primary.name());
  }
  for (std::uint64_t h = replica->height() + 1; h <= primary.height(); ++h) {
    if (auto st = replica->append(primary.at(h).block, primary.at(h).certificate); !st) return st;
  }
  return {};
}

// A new run: rank 0 creates the primary and each replica writer its replica, all from the
// one genesis every rank builds alike.
Result<ChainFiles> create_chain(const Node& node, const RunOptions& options,
                                const std::vector<PublicKey>& keys, bool replica_writer) {
  const auto root = node.run_dir.root();
  const std::uint64_t time_ms = agreed_time_ms();
  auto genesis = make_genesis(node, options, keys, time_ms);
  if (!genesis) return genesis.error();
  Result<ledger::ChainStore> own = runtime_error("unset");
  Status created;
  if (node.rank == 0) {
    own = ledger::ChainStore::create(root, *genesis);
  } else if (replica_writer) {
    own = ledger::ChainStore::create_file(
        ledger::ChainStore::replica_path(root, static_cast<std::uint32_t>(node.rank)), *genesis);
  }
  if ((node.rank == 0 || replica_writer) && !own) created = own.error();
  if (auto st = agree(created, MPI_COMM_WORLD); !st) return st.error();
  if (node.rank == 0) return ChainFiles{std::move(*own), std::nullopt};
  auto primary = ledger::ChainStore::open(root, ledger::OpenMode::kReadOnly);
  if (!primary) return primary.error();
  if (!replica_writer) return ChainFiles{std::move(*primary), std::nullopt};
  return ChainFiles{std::move(*primary), std::move(*own)};
}

// Before anything is written to a chain file that `--resume` found: it must be the chain
// this run directory's job made (blocks.log copied from another job's run is refused).
Status check_chain_is_this_jobs(const std::filesystem::path& root, const std::string& job_toml) {
  auto found = ledger::ChainStore::open(root, ledger::OpenMode::kReadOnly);
  if (!found) return found.error();
  const Hash32 chain_id = crypto::sha256(as_bytes(job_toml));
  if (found->genesis().chain_id() != chain_id) {
    return config_error(
        "{} belongs to another job: its genesis has chain id {}, but this run directory's "
        "job.toml gives chain id {}; --resume continues only the chain its job made: put this "
        "run's chain back (a replica, `fedchain verify` names it), or start the job in a new "
        "--run-dir",
        found->name(), found->genesis().chain_id().short_hex(), chain_id.short_hex());
  }
  return {};
}

// What to do when the primary chain file does not open on resume.
Error chain_file_refused(const std::filesystem::path& root, Error error) {
  const auto replicas = ledger::ChainStore::replica_paths(root);
  if (error.kind == ErrorKind::kVerification) {
    error.message += replicas.empty()
                         ? "; the run cannot resume from a damaged chain: restore chain/blocks.log "
                           "from a backup (nothing was changed)"
                         : fmt::format(
                               "; the run cannot resume from a damaged chain: `fedchain "
                               "verify {}` names the replica to restore it from "
                               "(nothing was changed)",
                               root.string());
  }
  return error;
}

// A resumed run: rank 0 repairs the primary (a torn tail is cut off) and each replica
// writer its replica; replicas are checked against the primary, blocks only a replica
// holds are restored to the primary, and replicas behind it are brought up to it.
Result<ChainFiles> reopen_chain(const Node& node, const RunOptions& options, bool replica_writer) {
  const auto root = node.run_dir.root();
  const auto replica_path =
      ledger::ChainStore::replica_path(root, static_cast<std::uint32_t>(node.rank));
  Result<ledger::ChainStore> own = runtime_error("unset");
  Status opened;
  if (node.rank == 0) {
    const auto replicas = ledger::ChainStore::replica_paths(root);
    if (!std::filesystem::exists(ledger::ChainStore::log_path(root)) && !replicas.empty()) {
      opened = config_error(
          "{} is missing but {} replica(s) of it exist: copy the longest that verifies "
          "(`fedchain verify {}` names it) to {} and resume",
          ledger::ChainStore::log_path(root).string(), replicas.size(), root.string(),
          ledger::ChainStore::log_path(root).string());
    } else if (opened = check_chain_is_this_jobs(root, options.job_toml); opened) {
      own = ledger::ChainStore::open(root, ledger::OpenMode::kRepair);
      if (!own) opened = own.error();
    }
    if (!opened) opened = chain_file_refused(root, opened.error());
  } else if (replica_writer && std::filesystem::exists(replica_path)) {
    own = ledger::ChainStore::open_file(replica_path, ledger::OpenMode::kRepair);
    // Verified whole (signatures, quorums, proposers), as `fedchain verify` does: only a
    // replica that verifies may lend the primary a block.
    if (own) {
      if (auto replayed = audit::replay_replica(*own); !replayed.ok()) own = *replayed.error;
    }
    if (!own) {
      Error damaged = own.error();
      damaged.message +=
          "; it is a replica: move it aside and resume, and a new one is "
          "written from the primary";
      opened = damaged;
    }
  }
  if (auto st = agree(opened, MPI_COMM_WORLD); !st) return st.error();

  const auto read_primary = [&]() -> Result<ChainFiles> {
    std::optional<ledger::ChainStore> replica;
    if (node.rank != 0 && own) replica.emplace(std::move(*own));
    if (node.rank == 0) return ChainFiles{std::move(*own), std::nullopt};
    auto primary = ledger::ChainStore::open(root, ledger::OpenMode::kReadOnly);
    if (!primary) return primary.error();
    return ChainFiles{std::move(*primary), std::move(replica)};
  };
  auto files = read_primary();
  Status matched = files ? Status{} : Status(files.error());
  if (files && files->replica) matched = check_replica_matches(*files->replica, files->primary);
  if (auto st = agree(matched, MPI_COMM_WORLD); !st) return st.error();

  auto restored = blocks_beyond_primary(node, *files);
  Status appended = restored ? Status{} : Status(restored.error());
  if (restored && node.rank == 0) {
    for (const auto& stored : *restored) {
      if (appended = files->primary.append(stored.block, stored.certificate); !appended) break;
    }
  }
  if (auto st = agree(appended, MPI_COMM_WORLD); !st) return st.error();
  if (!restored->empty() && node.rank != 0) {
    auto primary = ledger::ChainStore::open(root, ledger::OpenMode::kReadOnly);
    if (!primary) return primary.error();
    files->primary = std::move(*primary);
  }

  Status caught_up;
  if (replica_writer) caught_up = bring_replica_up(replica_path, files->replica, files->primary);
  if (auto st = agree(caught_up, MPI_COMM_WORLD); !st) return st.error();
  return files;
}

}  // namespace

Hash32 state_root_of(std::span<const float> theta, const Job& job) {
  return crypto::merkle_root(bytes_of(theta),
                             static_cast<std::size_t>(job.ledger.merkle_chunk_bytes),
                             static_cast<int>(job.train.threads));
}

Hash32 update_root_of(std::span<const std::int32_t> q, const Job& job) {
  return crypto::merkle_root(bytes_of(q), static_cast<std::size_t>(job.ledger.merkle_chunk_bytes),
                             static_cast<int>(job.train.threads));
}

ChainSide::Committed ChainSide::committed_of(const ledger::Block& block) {
  Committed committed{block.hash(), block.header().state_root, {}};
  for (const auto& tx : block.txs()) committed.update_clients.push_back(tx.client());
  return committed;
}

void ChainSide::record(const ledger::Block& block) {
  committed.push_back(committed_of(block));
  const auto& rejected = block.header().rejected_clients;
  for (const auto& tx : block.txs()) {
    if (tx.client() >= client_records.size()) continue;  // validated: cannot happen
    ClientRecord& client = client_records[tx.client()];
    client.rounds += 1;
    client.samples += tx.samples();
    client.last_loss = tx.loss();
    client.accepted += std::binary_search(rejected.begin(), rejected.end(), tx.client()) ? 0 : 1;
  }
}

namespace {

struct RankKeys {
  crypto::SigningKey mine;
  std::vector<PublicKey> all;  // (ranks)
};

// This rank's signing key and every rank's public key, agreed before the collectives that
// follow, so a rank missing its key fails every rank.
Result<RankKeys> load_keys(const Node& node) {
  const crypto::KeySource source{node.job.keys.dir, node.job.keys.derive_from_seed,
                                 node.job.job.seed};
  auto key = crypto::load_rank_key(source, static_cast<std::uint32_t>(node.rank));
  auto keys = crypto::load_public_keys(source, static_cast<std::uint32_t>(node.ranks));
  Status loaded;
  if (!key) {
    loaded = key.error();
  } else if (!keys) {
    loaded = keys.error();
  } else if ((*keys)[static_cast<std::size_t>(node.rank)] != key->public_key()) {
    loaded = config_error("keys.dir '{}': rank {}'s private key does not match its public key",
                          node.job.keys.dir, node.rank);
  }
  if (auto st = agree(loaded, MPI_COMM_WORLD); !st) return st.error();
  return RankKeys{std::move(*key), std::move(*keys)};
}

// The chain read from disk is this job's, as this build runs it: one validator per rank,
// the job's keys, and the job's initial model (read before any checkpoint replaces it).
Status check_chain_fits_job(const Node& node, const ledger::Genesis& genesis,
                            std::span<const PublicKey> keys) {
  if (genesis.validator_count() != static_cast<std::uint32_t>(node.ranks)) {
    return config_error("the chain in {} has {} validators but mpirun started {} ranks",
                        node.run_dir.root().string(), genesis.validator_count(), node.ranks);
  }
  // A key swapped after the start would sign votes no other rank accepts.
  for (std::uint32_t r = 0; r < genesis.validator_count(); ++r) {
    if (genesis.fields().validators[r].key != keys[r]) {
      return config_error(
          "rank {}'s public key in the job's keys is not the one the chain's genesis holds: "
          "resume with the keys the run started with (keys.dir)",
          r);
    }
  }
  if (genesis.fields().data_hash != node.local.data.content_hash) {
    return config_error(
        "data.path = {}: the arrays this job loads from it (data.train_limit {}, "
        "data.test_limit {}) hash to {}, but the chain's genesis records data {}: it is not "
        "the dataset the run started with; resume with that file (`fedchain data show FILE` "
        "prints a file's content hash)",
        node.job.data.path, node.job.data.train_limit, node.job.data.test_limit,
        node.local.data.content_hash.short_hex(), genesis.fields().data_hash.short_hex());
  }
  if (genesis.fields().initial_state_root != node.global.state_root) {
    return runtime_error(
        "rank {}: the job's initial model hashes to {}, but genesis records {}: this build "
        "or job does not make the model the chain started from",
        node.rank, node.global.state_root.short_hex(),
        genesis.fields().initial_state_root.short_hex());
  }
  return {};
}

// The vote's parts over the participant: signer, state machine, transport, this rank's
// faults.consensus filter, and the loop that drives them.
Status start_consensus(const Node& node, ChainSide& chain, const RankKeys& keys) {
  chain.signer = std::make_unique<consensus::Ed25519Signer>(keys.mine, keys.all);
  consensus::Config config;
  config.chain_id = chain.participant->genesis().chain_id();
  config.self = static_cast<std::uint32_t>(node.rank);
  chain.machine = std::make_unique<consensus::StateMachine>(config, *chain.signer, chain.hasher);
  auto transport = net::Transport::create(consensus::kDefaultMaxBlockBytes + 4096);
  if (!transport) return transport.error();
  chain.transport = std::move(*transport);
  auto byzantine =
      faults::make_byzantine_filter(node.job.faults, static_cast<std::uint32_t>(node.rank),
                                    static_cast<std::uint32_t>(node.ranks), keys.mine,
                                    static_cast<std::uint64_t>(node.job.job.seed));
  if (!byzantine) return byzantine.error();
  chain.byzantine = std::move(*byzantine);
  if (chain.byzantine) {
    spdlog::warn("faults.consensus = '{}': this rank misbehaves in the vote (experiment)",
                 node.job.faults.consensus);
  }
  chain.loop = std::make_unique<net::ConsensusLoop>(*chain.machine, *chain.transport,
                                                    *chain.participant, chain.byzantine.get());
  return {};
}

}  // namespace

Status start_chain(Node& node, const RunOptions& options) {
  // The same job and world on every rank, so every rank refuses alike.
  if (auto st = check_consensus_faults(node.job, node.ranks); !st) return st;
  auto keys = load_keys(node);
  if (!keys) return keys.error();
  const bool replica_writer = writes_replica(node);
  auto files = options.resume ? reopen_chain(node, options, replica_writer)
                              : create_chain(node, options, keys->all, replica_writer);
  if (!files) return files.error();
  const ledger::Genesis genesis = files->primary.genesis();
  if (auto st = check_chain_fits_job(node, genesis, keys->all); !st) return st;

  auto chain = std::make_unique<ChainSide>(keys->mine);
  chain->client_records.resize(genesis.fields().shards.size());
  ledger::ChainState state = ledger::ChainState::from_genesis(genesis);
  for (const auto& stored : files->primary.blocks()) {
    state = state.apply(stored.block);
    chain->record(stored.block);
  }
  // The file this rank appends each committed block to: the primary on rank 0, its
  // replica on a replica writer.
  std::optional<ledger::ChainStore> writer;
  if (node.rank == 0) {
    writer.emplace(std::move(files->primary));
  } else if (files->replica) {
    writer.emplace(std::move(*files->replica));
  }
  chain->participant = std::make_unique<ChainParticipant>(
      genesis, std::move(state), std::move(writer), static_cast<std::uint32_t>(node.rank));
  if (auto st = start_consensus(node, *chain, *keys); !st) return st;
  node.chain = std::move(chain);
  return {};
}

}  // namespace fedchain::node
