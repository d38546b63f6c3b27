// The job: everything a run is configured by, as plain values with defaults. A job file
// (TOML, see docs/job-file.md) and `--set key=value` overrides fill it in through the
// schema in job_schema.cpp, which is the one list of keys, types, ranges and docs.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fedchain {

struct JobSection {
  std::string name = "fedchain";
  std::int64_t rounds = 10;     // federated rounds = block heights after genesis
  std::int64_t seed = 42;       // seeds initialisation, partitioning and batch order
  std::int64_t ranks = 0;       // expected MPI ranks; 0 takes whatever mpirun starts
  std::int64_t eval_every = 1;  // evaluate on the test split every N rounds (and the last)
  // A wait for other ranks (a collective, the vote) that lasts this long ends the job,
  // naming the ranks that do not answer (node/stall_watchdog.hpp); 0: wait for ever.
  std::int64_t stall_timeout_s = 600;
};

struct DataSection {
  std::string path = "data/fashion-mnist.h5";
  std::string partition = "iid";        // iid | dirichlet | label_shards | quantity | natural
  double alpha = 0.5;                   // dirichlet, quantity: Dirichlet concentration
  std::int64_t classes_per_client = 2;  // label_shards: classes each client holds
  std::int64_t train_limit = 0;         // use only the first N training samples (0: all)
  std::int64_t test_limit = 0;          // use only the first N test samples (0: all)
  bool normalize = false;               // standardise each channel with the train split's mean/std
  std::string augment = "none";         // none | crop_flip: per-batch training augmentation
};

// One entry of model.layers as the job file spells it (docs/training.md, "Layers"); 0 in a
// field means the key was not given.
struct LayerSection {
  std::string type;  // conv2d | maxpool | avgpool | relu | flatten | dense | dropout | groupnorm
  std::int64_t out = 0;
  std::int64_t kernel = 0;
  std::int64_t stride = 0;
  std::int64_t padding = 0;
  std::int64_t groups = 0;
  double rate = 0.0;
};

struct ModelSection {
  // logreg | mlp | cnn | lenet | mnist-cnn | cifar-cnn | custom (implied by layers)
  std::string arch = "mlp";
  std::vector<std::int64_t> hidden{200, 200};  // mlp hidden layer widths
  std::vector<LayerSection> layers;            // arch = custom: the layer stack
};

struct TrainSection {
  std::int64_t local_epochs = 1;
  std::int64_t local_steps = 0;  // > 0: this many minibatch steps instead of epochs
  std::int64_t batch_size = 32;
  double lr = 0.05;
  double lr_decay = 1.0;          // lr multiplier per epoch (centralized) or per round (federated)
  std::string optimizer = "sgd";  // sgd | adam
  double momentum = 0.0;
  double weight_decay = 0.0;
  double prox_mu = 0.0;         // FedProx proximal term weight
  std::int64_t threads = 1;     // CPU threads per rank
  std::string device = "auto";  // auto | cpu | cuda
};

struct AggregateSection {
  std::string rule = "fedavg";    // fedavg | median | trimmed_mean | krum | multi_krum
  std::string exchange = "auto";  // auto | allreduce | allgather
  std::string transport = "mpi";  // mpi | nccl: what carries the update sums and gathers
  std::int64_t scale_bits = 20;   // fixed point: q = round(delta * 2^scale_bits)
  double clip = 8.0;              // |delta| is clipped to this before quantizing
  double trim_beta = 0.1;         // trimmed_mean: fraction cut from each end
  std::int64_t krum_f = 1;        // krum, multi_krum: Byzantine updates tolerated
  std::int64_t multi_krum_m = 0;  // multi_krum: updates averaged; 0 takes n - krum_f
};

struct FaultsSection {
  std::vector<std::int64_t> byzantine{};  // ranks that attack
  // What the byzantine ranks do to their update (docs/aggregation.md): one of kAttackNames
  std::string attack = "none";
  double sign_flip_scale = 1.0;  // sign_flip: delta -> -scale * delta
  double gaussian_sigma = 0.1;   // gaussian: delta -> N(0, sigma^2) per coordinate
  double scaling_factor = 10.0;  // scaling: delta -> factor * delta
  double alie_z = 0.0;           // alie: mean - z * std; 0 takes Baruch et al.'s z_max(n, f)
  // A memory fault for experiments: rank flip_bit_rank flips one bit of its new model at
  // height flip_bit_height, then must notice and recover the committed model.
  std::int64_t flip_bit_rank = -1;  // -1: none
  std::int64_t flip_bit_height = 1;
  // What the byzantine ranks do in the vote (docs/consensus.md, "Byzantine behaviours"):
  // one of kConsensusFaultNames
  std::string consensus = "none";
};

// The values of faults.attack, the one list of the update attacks: the schema takes its
// choices from it, and aggregate::Attack (aggregate/attacks.hpp) is declared in its order.
inline constexpr std::array<std::string_view, 7> kAttackNames = {
    "none", "sign_flip", "gaussian", "scaling", "alie", "label_flip", "zero"};

// The values of faults.consensus, the one list of the vote's Byzantine behaviours: the
// schema takes its choices from it, and faults::ConsensusFault (faults/consensus_faults.hpp)
// is declared in its order. It lives here, in the lowest module, because the schema does.
inline constexpr std::array<std::string_view, 9> kConsensusFaultNames = {
    "none",         "equivocate",       "double_vote",      "withhold_votes",
    "invalid_vote", "wrong_state_root", "forge_signatures", "replay",
    "silent"};

// Clients apart from ranks (docs/clients.md): a client holds data and trains; a rank hosts
// clients and runs the chain. The defaults keep one client per rank, every client every
// round.
struct ClientsSection {
  std::int64_t total = 0;            // K clients; 0: one per rank
  std::int64_t per_round = 0;        // C clients in each round's cohort; 0: all K
  std::string sampling = "uniform";  // uniform | by_samples
};

struct ConsensusSection {
  std::string protocol = "bft";     // bft | none (no chain: the plain-allreduce baseline)
  std::int64_t committee = 0;       // c validators vote; 0: every rank up to 16, then 16
  std::int64_t epoch = 100;         // heights between committee elections
  std::vector<std::int64_t> stake;  // per rank, fixed in genesis; empty: 1 each
};

struct CheckpointSection {
  std::int64_t every = 10;  // write a checkpoint every N heights (and at the end); 0: end only
};

struct LedgerSection {
  std::int64_t merkle_chunk_bytes = 65536;  // chunk size of every Merkle tree; goes into genesis
  bool archive_updates = false;       // keep every committed q_i so `fedchain verify` can recompute
  std::string replicas = "per-node";  // which ranks besides rank 0 write a chain file
};

struct KeysSection {
  std::string dir;                // directory written by `fedchain keygen`
  bool derive_from_seed = false;  // derive keys from job.seed: demos and tests only
};

// Privacy (docs/privacy.md): client-level differential privacy (DP-FedAvg with distributed
// discrete Gaussian noise and an RDP accountant) and pairwise-masked secure aggregation.
struct PrivacySection {
  bool dp = false;                  // clip each client's update, add noise, account epsilon
  double clip = 1.0;                // L2 norm each client's update is clipped to
  double noise_multiplier = 1.0;    // noise std on the sum = noise_multiplier * clip
  double delta = 1e-5;              // the delta of the reported (epsilon, delta)
  double target_epsilon = 0.0;      // refuse a job whose epsilon would pass it; 0: no budget
  bool secure_aggregation = false;  // pairwise masks on each rank's partial sum (fedavg)
};

struct Job {
  JobSection job;
  DataSection data;
  ClientsSection clients;
  ModelSection model;
  TrainSection train;
  AggregateSection aggregate;
  FaultsSection faults;
  LedgerSection ledger;
  KeysSection keys;
  ConsensusSection consensus;
  CheckpointSection checkpoint;
  PrivacySection privacy;
};

}  // namespace fedchain
