// The chain side of setup (consensus.protocol = "bft"): keys, genesis or the existing chain,
// chain state, and the consensus machinery over MPI. Rank 0 writes the chain file; every
// rank holds genesis and chain state in memory.
#include <mpi.h>

#include <chrono>

#include <spdlog/spdlog.h>

#include "exchange.hpp"
#include "fedchain/core/job_file.hpp"
#include "fedchain/crypto/key_file.hpp"
#include "fedchain/crypto/merkle.hpp"
#include "fedchain/crypto/sha256.hpp"
#include "fedchain/net/byzantine.hpp"
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
  for (std::uint32_t r = 0; r < keys.size(); ++r) g.validators.push_back({r, keys[r], 1});
  g.model = {node.model->summary().substr(0, node.model->summary().find('\n')),
             static_cast<std::uint64_t>(node.theta.size())};
  g.initial_state_root = node.state_root;
  for (std::size_t r = 0; r < node.weights.size(); ++r) {
    g.shards.push_back({static_cast<std::uint64_t>(node.weights[r]), node.shard_commitments[r]});
  }
  g.rule = rule_record(node.aggregate);
  g.quantization = {static_cast<std::uint32_t>(node.job.aggregate.scale_bits),
                    node.job.aggregate.clip};
  g.merkle_chunk_bytes = static_cast<std::uint32_t>(node.job.ledger.merkle_chunk_bytes);
  return g.build();
}

// Rank 0 creates or repairs the chain file; then every rank reads it.
Result<ledger::ChainStore> open_chain(const Node& node, const RunOptions& options,
                                      const std::vector<PublicKey>& keys) {
  const auto root = node.run_dir.root();
  if (!options.resume) {
    const std::uint64_t time_ms = agreed_time_ms();
    auto genesis = make_genesis(node, options, keys, time_ms);
    if (!genesis) return genesis.error();
    Result<ledger::ChainStore> store = runtime_error("unset");
    Status created;
    if (node.rank == 0) {
      store = ledger::ChainStore::create(root, *genesis);
      if (!store) created = store.error();
    }
    if (auto st = agree(created, MPI_COMM_WORLD); !st) return st.error();
    if (node.rank == 0) return store;
    return ledger::ChainStore::open(root, ledger::OpenMode::kReadOnly);
  }
  Result<ledger::ChainStore> store = runtime_error("unset");
  Status opened;
  if (node.rank == 0) {
    store = ledger::ChainStore::open(root, ledger::OpenMode::kRepair);
    if (!store) opened = store.error();
  }
  if (auto st = agree(opened, MPI_COMM_WORLD); !st) return st.error();
  if (node.rank == 0) return store;
  return ledger::ChainStore::open(root, ledger::OpenMode::kReadOnly);
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
  for (const auto& tx : block.txs()) committed.update_ranks.push_back(tx.rank());
  return committed;
}

Status start_chain(Node& node, const RunOptions& options) {
  // The same job and world on every rank, so every rank refuses alike.
  if (auto st = check_consensus_faults(node.job, node.ranks); !st) return st;
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
  // Agreed before the collectives below, so a rank missing its key fails every rank.
  if (auto st = agree(loaded, MPI_COMM_WORLD); !st) return st;

  auto store = open_chain(node, options, *keys);
  if (!store) return store.error();
  if (store->genesis().validator_count() != static_cast<std::uint32_t>(node.ranks)) {
    return config_error("the chain in {} has {} validators but mpirun started {} ranks",
                        node.run_dir.root().string(), store->genesis().validator_count(),
                        node.ranks);
  }
  auto chain = std::make_unique<ChainSide>(*key);
  ledger::ChainState state = ledger::ChainState::from_genesis(store->genesis());
  for (const auto& stored : store->blocks()) {
    state = state.apply(stored.block);
    chain->committed.push_back(ChainSide::committed_of(stored.block));
  }
  if (!options.resume && store->genesis().fields().initial_state_root != node.state_root) {
    return runtime_error("rank {}: initial model differs from genesis", node.rank);
  }
  const ledger::Genesis genesis = store->genesis();
  std::optional<ledger::ChainStore> writer;
  if (node.rank == 0) writer.emplace(std::move(*store));
  chain->participant = std::make_unique<ChainParticipant>(
      genesis, std::move(state), std::move(writer), static_cast<std::uint32_t>(node.rank));

  chain->signer = std::make_unique<consensus::Ed25519Signer>(*key, *keys);
  consensus::Config config;
  config.chain_id = genesis.chain_id();
  config.self = static_cast<std::uint32_t>(node.rank);
  chain->machine = std::make_unique<consensus::StateMachine>(config, *chain->signer, chain->hasher);
  auto transport = net::Transport::create(consensus::kDefaultMaxBlockBytes + 4096);
  if (!transport) return transport.error();
  chain->transport = std::move(*transport);
  auto byzantine = net::make_byzantine_filter(
      node.job.faults, static_cast<std::uint32_t>(node.rank),
      static_cast<std::uint32_t>(node.ranks), *key, static_cast<std::uint64_t>(node.job.job.seed));
  if (!byzantine) return byzantine.error();
  chain->byzantine = std::move(*byzantine);
  if (chain->byzantine) {
    spdlog::warn("faults.consensus = '{}': this rank misbehaves in the vote (experiment)",
                 node.job.faults.consensus);
  }
  chain->loop = std::make_unique<net::ConsensusLoop>(*chain->machine, *chain->transport,
                                                     *chain->participant, chain->byzantine.get());
  node.chain = std::move(chain);
  return {};
}

}  // namespace fedchain::node
