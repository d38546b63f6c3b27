// What one rank holds during a run, and the round-loop steps that act on it. Internal to
// node/; the entry point is fedchain/node/federation.hpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "chain.hpp"
#include "exchange.hpp"
#include "fedchain/aggregate/rules.hpp"
#include "fedchain/consensus/ed25519_signer.hpp"
#include "fedchain/consensus/state_machine.hpp"
#include "fedchain/core/job.hpp"
#include "fedchain/faults/round_faults.hpp"
#include "fedchain/io/metrics.hpp"
#include "fedchain/io/run_dir.hpp"
#include "fedchain/io/update_archive.hpp"
#include "fedchain/ledger/cohort.hpp"
#include "fedchain/net/transport.hpp"
#include "fedchain/node/federation.hpp"
#include "fedchain/train/backend.hpp"
#include "fedchain/train/job_setup.hpp"
#include "fedchain/train/trainer.hpp"
#include "privacy.hpp"

namespace fedchain::node {

// The chain side of a rank, present with consensus.protocol = "bft".
struct ChainSide {
  explicit ChainSide(crypto::SigningKey key_) : key(std::move(key_)) {}
  crypto::SigningKey key;
  std::unique_ptr<ChainParticipant> participant;
  std::unique_ptr<consensus::Ed25519Signer> signer;
  LedgerBlockHasher hasher;
  std::unique_ptr<consensus::StateMachine> machine;
  std::unique_ptr<net::Transport> transport;
  std::unique_ptr<faults::OutboundFilter> byzantine;  // faults.consensus on this rank, else null
  std::unique_ptr<net::ConsensusLoop> loop;
  // (tip) every committed block's hash and state root: a resumed run replays the rounds
  // between its checkpoint and the tip against them.
  struct Committed {
    Hash32 block_hash;
    Hash32 state_root;
    // The clients whose update the block counts (its transactions), ascending: a replayed
    // round aggregates exactly these, whatever the chain state says today (a rank jailed
    // later still counted before).
    std::vector<std::uint32_t> update_clients;
  };
  static Committed committed_of(const ledger::Block& block);
  std::vector<Committed> committed;

  // (clients) what each client's transactions on the chain add up to: RUN_DIR/clients.csv.
  struct ClientRecord {
    std::uint64_t rounds = 0;   // heights whose block holds its transaction
    std::uint64_t samples = 0;  // samples trained, summed over those
    double last_loss = std::nan("");
    std::uint64_t accepted = 0;  // transactions the rule kept (not in rejected_clients)
  };
  std::vector<ClientRecord> client_records;
  // Appends `block` to `committed` and counts its transactions in client_records.
  void record(const ledger::Block& block);

  // This rank's consensus work so far (metrics.csv reports the maxima per role and height):
  // transaction signatures checked in the exchange, and committed blocks received as a
  // follower. The signer counts vote signatures, the participant certificate signatures.
  std::uint64_t tx_signatures_checked = 0;
  std::uint64_t blocks_received = 0;
};

// The global model after `height`: the same bits on every rank. Only a finished round
// (run_round, at its end) and resume (from a checkpoint) replace it.
struct GlobalModel {
  std::vector<float> theta;  // (parameters) host memory
  Hash32 state_root;         // state_root_of(theta), kept so checkpoints need not rehash
  std::uint64_t height = 0;  // the last completed round
};

// The federation's clients, the same on every rank (genesis records them): each client's
// training samples (its aggregation weight) and the commitment to which ones, and how each
// height's cohort is drawn (ledger/cohort.hpp). Client k is hosted by rank k mod R.
struct Clients {
  std::vector<std::int64_t> samples;  // (K)
  std::vector<Hash32> commitments;    // (K) SHA-256 of each client's sample indices
  ledger::CohortRule cohort;
  std::uint64_t seed = 0;  // job.seed, which seeds every cohort draw
  std::uint32_t count() const { return static_cast<std::uint32_t>(samples.size()); }
};

// What this rank trains with: the shards of the clients it hosts, the model and optimizer,
// and the [faults] it plays on their updates. Built by setup; used by the train and
// evaluate phases.
struct LocalTraining {
  train::JobData data;
  std::map<std::uint32_t, std::vector<std::int64_t>> shards;  // hosted client -> its samples
  std::unique_ptr<train::Backend> backend;
  std::unique_ptr<train::Model> model;
  std::optional<train::LocalTrainer> trainer;  // holds a pointer to *model
  train::TrainOptions options;
  std::unique_ptr<faults::RoundFaults> faults;  // [faults] on hosted clients' updates and the model
  // Buffers that rounds reuse: fresh ones would cost their page faults and zeroing once per
  // member every round (round.cpp, train_members). member_delta holds the float delta being
  // quantized (d values, or one run of them); spare_updates, last round's q_k.
  std::vector<float> member_delta;
  std::vector<std::vector<std::int32_t>> spare_updates;
};

// One rank's part of a run. Setup (setup.cpp, chain_setup.cpp) fills every member once;
// after that a round reads them and changes only `global`, the chain's record of what it
// committed, the outputs (metrics, archive) and the buffers it reuses.
struct Node {
  Node(Job job_, int rank_, int ranks_, io::RunDir run_dir_)
      : job(std::move(job_)), rank(rank_), ranks(ranks_), run_dir(std::move(run_dir_)) {}

  Job job;
  int rank = 0;
  int ranks = 1;
  io::RunDir run_dir;
  std::unique_ptr<Collectives> comm;  // every collective of the round, over all ranks
  aggregate::AggregateConfig aggregate;
  Clients clients;

  LocalTraining local;
  GlobalModel global;
  std::unique_ptr<ChainSide> chain;      // null with consensus.protocol = "none"
  std::unique_ptr<RankPrivacy> privacy;  // null without privacy.dp and secure_aggregation

  std::optional<io::MetricsLog> metrics;     // rank 0 only
  std::optional<io::UpdateArchive> archive;  // with ledger.archive_updates: hosted clients' q
  // Asked while waiting in consensus: true once a stop signal reached any rank a few
  // seconds ago (federation.cpp). Unset: never stop there.
  std::function<bool()> stop_requested;
};

// Merkle root of a model's parameter bytes: the state root.
Hash32 state_root_of(std::span<const float> theta, const Job& job);
// Merkle root of a quantized update's bytes: what its transaction signs.
Hash32 update_root_of(std::span<const std::int32_t> q, const Job& job);

// consensus.protocol = "bft": keys, genesis (or the chain being resumed), consensus.
Status start_chain(Node& node, const RunOptions& options);

// Everything of `node` that can fail on one rank alone (rules, data and shard, model,
// faults), from the job; node.comm must be set. start_node agrees on it across ranks.
Status build_node(Node& node, const Job& job);

// What differing training kernels across ranks (train::Backend::kernels(), in rank order)
// mean for a job: an error when some ranks train on a GPU and others on the CPU, else a
// warning to show ("" when every rank runs the same kernels).
Result<std::string> compare_training_kernels(std::span<const std::string> by_rank,
                                             const std::string& device);

// Everything before the first round: checks, run directory, data and shard, model, rules.
// Collective. On resume, theta and height come from the newest checkpoint.
Result<std::unique_ptr<Node>> start_node(const Job& job, const RunOptions& options);

// ledger.archive_updates (archive.cpp): opens this rank's part of RUN_DIR/updates and
// removes what a killed run archived for heights the chain never committed. Collective.
Status open_update_archive(Node& node);

// One cohort member this rank hosts, in one round: what its training gave.
struct MemberUpdate {
  std::uint32_t client = 0;
  std::vector<float> delta;     // theta_k - theta_h, kept only while alie pools deltas
  std::vector<std::int32_t> q;  // clamp(round(delta * 2^s))
  train::LocalResult trained;
  std::int64_t clipped = 0;
  bool finite = true;            // loss and every delta value finite
  std::optional<ledger::Tx> tx;  // its signed commitment, live with a chain
};

// 2-3. Every cohort member this rank hosts (`members`, of a cohort of `cohort_size`), one
// after another: trained from node.global, [faults] played on its delta, quantized to q_k.
// Each q_k is written into a buffer of an earlier round (keep_update_buffers). Seconds go to
// row's train and quantize columns. Part of run_round; bench/clients times it alone.
Result<std::vector<MemberUpdate>> train_members(Node& node, std::uint64_t height,
                                                std::span<const std::uint32_t> members,
                                                std::size_t cohort_size, io::MetricsRow& row);
// Once a round is done with its members' q_k: their buffers go to node.local.spare_updates
// for the next train_members.
void keep_update_buffers(Node& node, std::span<MemberUpdate> updates);

// The update root each finite member's transaction signs, in order (secure_aggregation.cpp):
// the Merkle root of q_k, or under privacy.secure_aggregation of its masked update
// w_k q_k + m_k (u64 words), the members' masks m_k adding up to the rank's masks for
// `height`, so the masked updates add up to the masked partial sum.
std::vector<Hash32> update_roots_to_sign(const Node& node, std::uint64_t height,
                                         std::span<const MemberUpdate> members);

// Keeps the hosted members' q for `height` in the archive, durably, before their
// transactions leave the rank (a replayed round, without transactions, keeps the files
// already there). Collective when archiving.
Status archive_updates(const Node& node, std::uint64_t height,
                       std::span<const MemberUpdate> members);

// The clients that train in the round after the model whose state root is
// `previous_root`, ascending (ledger/cohort.hpp).
std::vector<std::uint32_t> cohort_of(const Node& node, const Hash32& previous_root);

// Runs round `height` = node.global.height + 1 and, once its block is committed (or its
// replay reproduces the committed root), makes its model node.global. Returns the round's
// metrics row; nullopt when a stop signal ended the wait for the block on some rank: then
// no rank finishes the round, node.global is unchanged, and the run stops.
Result<std::optional<io::MetricsRow>> run_round(Node& node);

// Rank 0 writes RUN_DIR/clients.csv from the chain's record of each client (with a chain;
// without one nothing records other ranks' clients). Atomic, at checkpoints and the end.
Status write_clients_csv(const Node& node);

// Writes RUN_DIR/checkpoints/height-H.h5 for node.global (rank 0 writes, all wait).
Status write_node_checkpoint(const Node& node);

}  // namespace fedchain::node
