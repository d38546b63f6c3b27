// Every job-file key: its type, its allowed values and one line of documentation.
// Adding a key: add the field to fedchain/core/job.hpp, one line below, and a row in
// docs/job-file.md (a test checks that the doc lists every key).
#include "job_schema.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace fedchain {

namespace {

// Names one field of one section of Job: j.*section.*field.
template <typename Section, typename T>
struct Field {
  Section Job::*section;
  T Section::*field;
  T& operator()(Job& job) const { return job.*section.*field; }
  const T& operator()(const Job& job) const { return job.*section.*field; }
};

std::string short_name(const std::string& key) {
  return key.substr(key.find('.') + 1);
}

std::string node_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date or time";
  }
}

template <typename Section>
JobKeySpec integer_key(std::string key, std::int64_t Section::*member, Section Job::*section,
                       std::int64_t min, std::int64_t max, std::string doc) {
  const Field<Section, std::int64_t> field{section, member};
  std::string allowed = max == std::numeric_limits<std::int64_t>::max()
                            ? fmt::format(">= {}", min)
                            : fmt::format("{} to {}", min, max);
  const auto name = short_name(key);
  return {key,
          "integer",
          allowed,
          std::move(doc),
          [=](const toml::node& node, Job& job) -> std::string {
            const auto value = node.value_exact<std::int64_t>();
            if (!value) return fmt::format("expected an integer, got {}", node_type_name(node));
            if (*value < min || *value > max) {
              return fmt::format("{} is out of range: allowed {}", *value, allowed);
            }
            field(job) = *value;
            return "";
          },
          [=](const Job& job, toml::table& t) { t.insert_or_assign(name, field(job)); }};
}

template <typename Section>
JobKeySpec float_key(std::string key, double Section::*member, Section Job::*section, double min,
                     double max, bool min_exclusive, std::string doc) {
  const Field<Section, double> field{section, member};
  std::string allowed = std::isinf(max)
                            ? fmt::format("{} {}", min_exclusive ? ">" : ">=", min)
                            : fmt::format("{} {} and < {}", min_exclusive ? ">" : ">=", min, max);
  const auto name = short_name(key);
  return {key,
          "float",
          allowed,
          std::move(doc),
          [=](const toml::node& node, Job& job) -> std::string {
            // Integers are accepted where a float is expected (lr = 1).
            const auto value = node.value<double>();
            if (!value || node.is_boolean() || node.is_string()) {
              return fmt::format("expected a number, got {}", node_type_name(node));
            }
            const bool low = min_exclusive ? !(*value > min) : !(*value >= min);
            if (low || !(*value < max) || std::isnan(*value)) {
              return fmt::format("{} is out of range: allowed {}", *value, allowed);
            }
            field(job) = *value;
            return "";
          },
          [=](const Job& job, toml::table& t) { t.insert_or_assign(name, field(job)); }};
}

template <typename Section>
JobKeySpec bool_key(std::string key, bool Section::*member, Section Job::*section,
                    std::string doc) {
  const Field<Section, bool> field{section, member};
  const auto name = short_name(key);
  return {key,
          "boolean",
          "true | false",
          std::move(doc),
          [=](const toml::node& node, Job& job) -> std::string {
            const auto value = node.value_exact<bool>();
            if (!value) return fmt::format("expected true or false, got {}", node_type_name(node));
            field(job) = *value;
            return "";
          },
          [=](const Job& job, toml::table& t) { t.insert_or_assign(name, field(job)); }};
}

// A string; when `choices` is not empty, one of them.
template <typename Section>
JobKeySpec string_key(std::string key, std::string Section::*member, Section Job::*section,
                      std::vector<std::string> choices, std::string doc) {
  const Field<Section, std::string> field{section, member};
  std::string allowed = choices.empty() ? "any text" : fmt::format("{}", fmt::join(choices, " | "));
  const auto name = short_name(key);
  return {key,
          "string",
          allowed,
          std::move(doc),
          [=](const toml::node& node, Job& job) -> std::string {
            const auto value = node.value_exact<std::string>();
            if (!value) return fmt::format("expected a string, got {}", node_type_name(node));
            if (!choices.empty() &&
                std::find(choices.begin(), choices.end(), *value) == choices.end()) {
              return fmt::format("'{}' is not one of {}", *value, allowed);
            }
            field(job) = *value;
            return "";
          },
          [=](const Job& job, toml::table& t) { t.insert_or_assign(name, field(job)); }};
}

template <typename Section>
JobKeySpec integer_list_key(std::string key, std::vector<std::int64_t> Section::*member,
                            Section Job::*section, std::int64_t min, std::string doc) {
  const Field<Section, std::vector<std::int64_t>> field{section, member};
  std::string allowed = fmt::format("each >= {}", min);
  const auto name = short_name(key);
  return {key,
          "integer list",
          allowed,
          std::move(doc),
          [=](const toml::node& node, Job& job) -> std::string {
            const auto* array = node.as_array();
            if (array == nullptr) {
              return fmt::format("expected an array of integers, got {}", node_type_name(node));
            }
            std::vector<std::int64_t> values;
            for (const auto& element : *array) {
              const auto value = element.value_exact<std::int64_t>();
              if (!value) return "every element must be an integer";
              if (*value < min)
                return fmt::format("element {} is out of range: {}", *value, allowed);
              values.push_back(*value);
            }
            field(job) = std::move(values);
            return "";
          },
          [=](const Job& job, toml::table& t) {
            toml::array array;
            for (auto v : field(job)) array.push_back(v);
            t.insert_or_assign(name, std::move(array));
          }};
}

constexpr auto kNoMax = std::numeric_limits<std::int64_t>::max();
constexpr auto kInf = std::numeric_limits<double>::infinity();

// data.partition. "shards" is label_shards' name from before clients were apart from ranks:
// it is read as label_shards (the same partition), so old job files and the job.toml of old
// run directories still load, and the resolved job spells it the new way.
JobKeySpec partition_key() {
  auto spec = string_key("data.partition", &DataSection::partition, &Job::data,
                         {"iid", "dirichlet", "label_shards", "quantity", "natural", "shards"},
                         "How training samples are split over the clients (docs/data.md); "
                         "shards: the old name of label_shards");
  spec.read = [read = spec.read](const toml::node& node, Job& job) {
    auto problem = read(node, job);
    if (problem.empty() && job.data.partition == "shards") job.data.partition = "label_shards";
    return problem;
  };
  return spec;
}

// data.classes_per_rank, the old name of data.classes_per_client: read into the same field
// and never written, so the resolved job spells it the new way.
JobKeySpec classes_per_rank_key() {
  auto spec = integer_key("data.classes_per_rank", &DataSection::classes_per_client, &Job::data, 1,
                          1000, "The old name of data.classes_per_client");
  spec.read = [read = spec.read](const toml::node& node, Job& job) {
    // A section's keys are read in sorted order, so a data.classes_per_client beside this key
    // has been read already: the job is refused when the two disagree. A classes_per_client
    // equal to the default cannot be told from an absent one, so that pair reads as this key
    // alone.
    const std::int64_t before = job.data.classes_per_client;
    auto problem = read(node, job);
    if (problem.empty() && before != DataSection{}.classes_per_client &&
        before != job.data.classes_per_client) {
      problem = fmt::format(
          "the old name of data.classes_per_client, which the job also sets, to {} (here {}): "
          "give only data.classes_per_client",
          before, job.data.classes_per_client);
    }
    return problem;
  };
  spec.write = [](const Job&, toml::table&) {};
  return spec;
}

// model.layers: an array of inline tables, one per layer. Each table's keys are checked
// against its type: unknown, missing and out-of-range keys name the entry (index and type).
// Shapes need the data, so Model::size_of checks them.
struct LayerKeys {
  std::vector<std::string> required;
  std::vector<std::string> optional;
};

const std::map<std::string, LayerKeys>& layer_keys() {
  static const std::map<std::string, LayerKeys> keys{
      {"conv2d", {{"out", "kernel"}, {"stride", "padding"}}},
      {"maxpool", {{"kernel"}, {"stride"}}},
      {"avgpool", {{"kernel"}, {"stride"}}},
      {"relu", {}},
      {"flatten", {}},
      {"dense", {{"out"}, {}}},
      {"dropout", {{"rate"}, {}}},
      {"groupnorm", {{"groups"}, {}}},
  };
  return keys;
}

// Reads one key of a layer entry into `layer`; returns what is wrong, or "".
std::string read_layer_key(const std::string& key, const toml::node& node, LayerSection& layer) {
  if (key == "rate") {
    const auto value = node.value<double>();
    if (!value || node.is_boolean() || node.is_string()) {
      return fmt::format("expected a number, got {}", node_type_name(node));
    }
    if (!(*value >= 0.0 && *value < 1.0)) return fmt::format("{} is outside [0, 1)", *value);
    layer.rate = *value;
    return "";
  }
  const auto value = node.value_exact<std::int64_t>();
  if (!value) return fmt::format("expected an integer, got {}", node_type_name(node));
  // Bounds keep every shape product far inside int64.
  const std::int64_t min = key == "padding" ? 0 : 1;
  const std::int64_t max = key == "out" || key == "groups" ? 65536 : 1024;
  if (*value < min || *value > max) {
    return fmt::format("{} is out of range: allowed {} to {}", *value, min, max);
  }
  std::int64_t LayerSection::*field = key == "out"      ? &LayerSection::out
                                      : key == "kernel" ? &LayerSection::kernel
                                      : key == "stride" ? &LayerSection::stride
                                      : key == "groups" ? &LayerSection::groups
                                                        : &LayerSection::padding;
  layer.*field = *value;
  return "";
}

std::string read_layer(const toml::node& node, std::size_t index, LayerSection& layer) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    return fmt::format("[{}]: expected a table such as {{ type = \"relu\" }}, got {}", index,
                       node_type_name(node));
  }
  const auto type = (*table)["type"].value_exact<std::string>();
  std::string names;
  for (const auto& [name, keys] : layer_keys()) names += (names.empty() ? "" : ", ") + name;
  if (!type) return fmt::format("[{}]: needs key 'type', one of {}", index, names);
  const auto known = layer_keys().find(*type);
  if (known == layer_keys().end()) {
    return fmt::format("[{}] ({}): unknown type: expected one of {}", index, *type, names);
  }
  layer.type = *type;
  const LayerKeys& keys = known->second;
  for (auto&& [name_key, value] : *table) {
    const std::string name(name_key.str());
    if (name == "type") continue;
    const auto& req = keys.required;
    const auto& opt = keys.optional;
    if (std::find(req.begin(), req.end(), name) == req.end() &&
        std::find(opt.begin(), opt.end(), name) == opt.end()) {
      std::vector<std::string> all = req;
      all.insert(all.end(), opt.begin(), opt.end());
      return fmt::format(
          "[{}] ({}): unknown key '{}'; a {} takes {}", index, *type, name, *type,
          all.empty() ? std::string("no other key") : fmt::format("{}", fmt::join(all, ", ")));
    }
    if (auto problem = read_layer_key(name, value, layer); !problem.empty()) {
      return fmt::format("[{}] ({}): key '{}': {}", index, *type, name, problem);
    }
  }
  for (const std::string& name : keys.required) {
    if (!table->contains(name)) {
      return fmt::format("[{}] ({}): needs key '{}'", index, *type, name);
    }
  }
  return "";
}

JobKeySpec layers_key() {
  return {"model.layers",
          "table list",
          "e.g. [{ type = \"dense\", out = 10 }]",
          "The layer stack (docs/training.md, \"Layers\"); implies arch = \"custom\"",
          [](const toml::node& node, Job& job) -> std::string {
            const auto* array = node.as_array();
            if (array == nullptr) {
              return fmt::format("expected an array of tables, got {}", node_type_name(node));
            }
            if (array->empty()) return "lists no layer";
            std::vector<LayerSection> layers(array->size());
            for (std::size_t i = 0; i < array->size(); ++i) {
              if (auto problem = read_layer(*array->get(i), i, layers[i]); !problem.empty()) {
                return "layer " + problem;
              }
            }
            job.model.layers = std::move(layers);
            job.model.arch = "custom";
            return "";
          },
          [](const Job& job, toml::table& t) {
            if (job.model.layers.empty()) return;  // preset jobs resolve as before
            toml::array array;
            for (const LayerSection& layer : job.model.layers) {
              toml::table entry;
              entry.insert("type", layer.type);
              for (const auto& [name, value] :
                   {std::pair{"out", layer.out}, std::pair{"kernel", layer.kernel},
                    std::pair{"stride", layer.stride}, std::pair{"padding", layer.padding},
                    std::pair{"groups", layer.groups}}) {
                if (value > 0) entry.insert(name, value);
              }
              if (layer.type == "dropout") entry.insert("rate", layer.rate);
              entry.is_inline(true);
              array.push_back(std::move(entry));
            }
            t.insert_or_assign("layers", std::move(array));
          }};
}

std::vector<JobKeySpec> make_schema() {
  using J = JobSection;
  using D = DataSection;
  using M = ModelSection;
  using T = TrainSection;
  using A = AggregateSection;
  using F = FaultsSection;
  using L = LedgerSection;
  using K = KeysSection;
  return {
      string_key("job.name", &J::name, &Job::job, {}, "Name shown in logs and inspect output"),
      integer_key("job.rounds", &J::rounds, &Job::job, 1, 1000000,
                  "Federated rounds to run; each commits one block"),
      integer_key("job.seed", &J::seed, &Job::job, 0, kNoMax,
                  "Seed for initialisation, partitioning and batch order"),
      integer_key("job.ranks", &J::ranks, &Job::job, 0, 65536,
                  "Expected number of MPI ranks; 0 accepts any"),
      integer_key("job.eval_every", &J::eval_every, &Job::job, 1, 1000000,
                  "Evaluate on the test split every N rounds, and after the last"),
      integer_key("job.stall_timeout_s", &J::stall_timeout_s, &Job::job, 0, 86400,
                  "Seconds a rank waits for the others (a collective, the vote) before it "
                  "ends the job, naming the ranks that do not answer (a lost node); 0: no "
                  "limit"),

      string_key("data.path", &D::path, &Job::data, {},
                 "HDF5 dataset written by `fedchain data prepare` or `fedchain data import`"),
      partition_key(),
      float_key("data.alpha", &D::alpha, &Job::data, 0.0, kInf, true,
                "Dirichlet concentration of each class over the clients (dirichlet) or of the "
                "clients' sizes (quantity); smaller is more skewed"),
      integer_key("data.classes_per_client", &D::classes_per_client, &Job::data, 1, 1000,
                  "Classes each client holds (partition = label_shards)"),
      classes_per_rank_key(),
      integer_key("data.train_limit", &D::train_limit, &Job::data, 0, kNoMax,
                  "Use only the first N training samples; 0 uses all"),
      integer_key("data.test_limit", &D::test_limit, &Job::data, 0, kNoMax,
                  "Use only the first N test samples; 0 uses all"),
      bool_key("data.normalize", &D::normalize, &Job::data,
               "Standardise each channel with the training split's mean and deviation"),
      string_key("data.augment", &D::augment, &Job::data, {"none", "crop_flip"},
                 "Training augmentation: crop_flip takes a random 4-pixel-padded crop and a "
                 "random horizontal flip of each training sample, seeded by job seed, client "
                 "and round"),

      integer_key("clients.total", &ClientsSection::total, &Job::clients, 0, 100000,
                  "Clients that hold data and train (K); 0: one per rank"),
      integer_key("clients.per_round", &ClientsSection::per_round, &Job::clients, 0, 65536,
                  "Clients sampled to train each round (C); 0: every client"),
      string_key("clients.sampling", &ClientsSection::sampling, &Job::clients,
                 {"uniform", "by_samples"},
                 "How a round's cohort is drawn: uniform, or in proportion to clients' samples"),

      string_key("model.arch", &M::arch, &Job::model,
                 {"logreg", "mlp", "cnn", "lenet", "mnist-cnn", "cifar-cnn", "custom"},
                 "Model architecture (docs/training.md); custom: the stack in model.layers"),
      integer_list_key("model.hidden", &M::hidden, &Job::model, 1,
                       "Hidden layer widths for arch = mlp"),
      layers_key(),

      integer_key("train.local_epochs", &T::local_epochs, &Job::train, 0, 10000,
                  "Local epochs over the rank's shard per round"),
      integer_key("train.local_steps", &T::local_steps, &Job::train, 0, kNoMax,
                  "If > 0, this many minibatch steps per round instead of epochs"),
      integer_key("train.batch_size", &T::batch_size, &Job::train, 1, 1 << 20, "Minibatch size"),
      float_key("train.lr", &T::lr, &Job::train, 0.0, kInf, true, "Learning rate"),
      float_key("train.lr_decay", &T::lr_decay, &Job::train, 0.0, kInf, true,
                "Learning-rate multiplier applied after every epoch (centralized) or round"),
      string_key("train.optimizer", &T::optimizer, &Job::train, {"sgd", "adam"}, "Local optimizer"),
      float_key("train.momentum", &T::momentum, &Job::train, 0.0, 1.0, false, "SGD momentum"),
      float_key("train.weight_decay", &T::weight_decay, &Job::train, 0.0, kInf, false,
                "L2 weight decay"),
      float_key("train.prox_mu", &T::prox_mu, &Job::train, 0.0, kInf, false,
                "FedProx proximal term mu/2 * ||theta - theta_global||^2; 0 is off"),
      integer_key("train.threads", &T::threads, &Job::train, 1, 1024,
                  "CPU threads per rank: training on the CPU, and hashing updates and the model"),
      string_key("train.device", &T::device, &Job::train, {"auto", "cpu", "cuda"},
                 "Training backend: cpu; cuda (the GPU backend; a config error naming why where "
                 "the build has no CUDA or no GPU answers); auto takes the rank's GPU where one "
                 "passes its launch self-test and trains the job's model as the CPU does, the "
                 "CPU otherwise (the log says why)"),

      string_key("aggregate.rule", &A::rule, &Job::aggregate,
                 {"fedavg", "median", "trimmed_mean", "krum", "multi_krum"},
                 "Aggregation rule over the quantized updates (docs/aggregation.md)"),
      string_key("aggregate.exchange", &A::exchange, &Job::aggregate,
                 {"auto", "allreduce", "allgather"},
                 "How updates travel; auto: allreduce for fedavg, allgather otherwise"),
      string_key("aggregate.transport", &A::transport, &Job::aggregate, {"mpi", "nccl"},
                 "What carries the update sums and gathers: mpi, or nccl on each rank's GPU "
                 "(the same bits; a config error naming why where the build has no NCCL or a "
                 "rank no GPU)"),
      integer_key("aggregate.scale_bits", &A::scale_bits, &Job::aggregate, 0, 30,
                  "Fixed-point scale s: q = round(delta * 2^s)"),
      float_key("aggregate.clip", &A::clip, &Job::aggregate, 0.0, kInf, true,
                "Each delta coordinate is clipped to [-clip, clip] before quantizing"),
      float_key("aggregate.trim_beta", &A::trim_beta, &Job::aggregate, 0.0, 0.5, false,
                "trimmed_mean: fraction of updates cut from each end per coordinate"),
      integer_key("aggregate.krum_f", &A::krum_f, &Job::aggregate, 0, 65536,
                  "krum, multi_krum: Byzantine updates tolerated; needs n >= 2f + 3"),
      integer_key("aggregate.multi_krum_m", &A::multi_krum_m, &Job::aggregate, 0, 65536,
                  "multi_krum: updates selected and averaged; 0 takes n - krum_f"),

      integer_list_key("faults.byzantine", &F::byzantine, &Job::faults, 0,
                       "Ranks that attack (experiments only)"),
      string_key("faults.attack", &F::attack, &Job::faults,
                 {kAttackNames.begin(), kAttackNames.end()},
                 "What the byzantine ranks do to their update (docs/aggregation.md)"),
      float_key("faults.sign_flip_scale", &F::sign_flip_scale, &Job::faults, 0.0, kInf, true,
                "sign_flip: the update sent is -scale * delta"),
      float_key("faults.gaussian_sigma", &F::gaussian_sigma, &Job::faults, 0.0, kInf, true,
                "gaussian: the update sent is N(0, sigma^2) noise per coordinate"),
      float_key("faults.scaling_factor", &F::scaling_factor, &Job::faults, 0.0, kInf, true,
                "scaling: the update sent is factor * delta"),
      float_key("faults.alie_z", &F::alie_z, &Job::faults, 0.0, kInf, false,
                "alie: the update sent is mean - z * std; 0 takes z_max(n, f) of Baruch et al."),
      integer_key("faults.flip_bit_rank", &F::flip_bit_rank, &Job::faults, -1, 65535,
                  "Rank that flips a bit of its new model (a memory fault); -1: none"),
      integer_key("faults.flip_bit_height", &F::flip_bit_height, &Job::faults, 1, kNoMax,
                  "Height at which faults.flip_bit_rank flips the bit"),
      string_key("faults.consensus", &F::consensus, &Job::faults,
                 {kConsensusFaultNames.begin(), kConsensusFaultNames.end()},
                 "What the byzantine ranks do in the vote (docs/consensus.md)"),
      string_key("consensus.protocol", &ConsensusSection::protocol, &Job::consensus,
                 {"bft", "none"},
                 "bft: every round is a block agreed by vote; none: no chain (baseline)"),
      integer_key("consensus.committee", &ConsensusSection::committee, &Job::consensus, 0, 65536,
                  "Validators that vote, elected by stake each epoch; the other ranks follow "
                  "and check certificates (docs/consensus.md); 0: every rank up to 16, then 16"),
      integer_key("consensus.epoch", &ConsensusSection::epoch, &Job::consensus, 1, kNoMax,
                  "Heights between committee elections"),
      integer_list_key("consensus.stake", &ConsensusSection::stake, &Job::consensus, 0,
                       "Stake per rank (one entry per rank, fixed in genesis): the chance of "
                       "election and the voting power; empty: 1 each"),
      integer_key("checkpoint.every", &CheckpointSection::every, &Job::checkpoint, 0, 1000000,
                  "Write a checkpoint every N heights and at the end; 0: at the end only"),

      integer_key("ledger.merkle_chunk_bytes", &L::merkle_chunk_bytes, &Job::ledger, 1, 1 << 30,
                  "Bytes per Merkle leaf chunk for update and model commitments (in genesis)"),
      bool_key("ledger.archive_updates", &L::archive_updates, &Job::ledger,
               "Keep every committed quantized update so `fedchain verify` can recompute "
               "each aggregate and state root"),
      string_key("ledger.replicas", &L::replicas, &Job::ledger, {"primary", "per-node", "all"},
                 "Which ranks write a copy of the chain besides rank 0's chain/blocks.log: "
                 "primary: none; per-node: the first rank on every other node; all: every "
                 "rank. Copies go to chain/replicas/rank-R/blocks.log"),

      bool_key("privacy.dp", &PrivacySection::dp, &Job::privacy,
               "Client-level differential privacy (DP-FedAvg): each client's update clipped to "
               "privacy.clip in L2, discrete Gaussian noise on the sum, epsilon accounted "
               "(docs/privacy.md)"),
      float_key("privacy.clip", &PrivacySection::clip, &Job::privacy, 0.0, kInf, true,
                "L2 norm each client's update is clipped to (privacy.dp)"),
      float_key("privacy.noise_multiplier", &PrivacySection::noise_multiplier, &Job::privacy, 0.0,
                kInf, false,
                "Standard deviation of the noise on the sum of updates, in units of "
                "privacy.clip (privacy.dp)"),
      float_key("privacy.delta", &PrivacySection::delta, &Job::privacy, 0.0, 1.0, true,
                "The delta of the (epsilon, delta) guarantee reported (privacy.dp)"),
      float_key("privacy.target_epsilon", &PrivacySection::target_epsilon, &Job::privacy, 0.0, kInf,
                false,
                "Refuse at start a job whose epsilon would pass this within job.rounds, naming "
                "the round; 0: no budget (privacy.dp)"),
      bool_key("privacy.secure_aggregation", &PrivacySection::secure_aggregation, &Job::privacy,
               "Pairwise masks on each rank's partial sum, cancelling in the allreduce: no "
               "rank sees another's (fedavg over allreduce only; docs/privacy.md)"),

      string_key("keys.dir", &K::dir, &Job::keys, {},
                 "Directory of rank keys written by `fedchain keygen`"),
      bool_key("keys.derive_from_seed", &K::derive_from_seed, &Job::keys,
               "Derive rank keys from job.seed instead: demos and tests only, insecure"),
  };
}

}  // namespace

const std::vector<JobKeySpec>& job_schema() {
  static const std::vector<JobKeySpec> schema = make_schema();
  return schema;
}

}  // namespace fedchain
