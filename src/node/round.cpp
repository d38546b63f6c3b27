// One federated round, phase by phase (DESIGN.md, "One round"):
//   train -> quantize -> exchange -> aggregate -> new parameters and state root -> store.
// Every rank runs every phase; the aggregate and the new parameters come out with the
// same bits on every rank because everything after quantization is integer arithmetic or
// single IEEE operations (aggregate/fixed_point.hpp).
#include <mpi.h>

#include <chrono>
#include <cmath>

#include <spdlog/spdlog.h>

#include "exchange.hpp"
#include "fedchain/aggregate/quantize.hpp"
#include "fedchain/crypto/merkle.hpp"
#include "fedchain/io/checkpoint.hpp"
#include "fedchain/train/random.hpp"
#include "node.hpp"

namespace fedchain::node {

namespace {

class Stopwatch {
 public:
  // Seconds since the last lap (or construction).
  double lap() {
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    return seconds;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

ByteView bytes_of(std::span<const float> values) {
  return {reinterpret_cast<const std::uint8_t*>(values.data()), values.size_bytes()};
}

// Local training from theta_h; returns this rank's delta = theta_i - theta_h.
Result<std::vector<float>> train_locally(Node& node, std::uint64_t height,
                                         train::LocalResult& result) {
  if (auto st = node.model->set_parameters(node.theta); !st) return st.error();
  // Each round starts from a fresh optimizer: a resumed run has no optimizer state to
  // restore, and must train exactly as an uninterrupted one.
  node.trainer->reset_optimizer();
  node.trainer->set_learning_rate(node.train_options.lr_at(static_cast<std::int64_t>(height) - 1));
  const auto seed = train::derive_seed(static_cast<std::uint64_t>(node.job.job.seed),
                                       static_cast<std::uint64_t>(node.rank), height);
  auto trained = node.trainer->train(node.data.train, node.shard, seed);
  if (!trained) return trained.error();
  result = *trained;
  std::vector<float> delta(node.theta.size());
  if (auto st = node.model->get_parameters(delta); !st) return st.error();
  for (std::size_t j = 0; j < delta.size(); ++j) delta[j] -= node.theta[j];
  return delta;
}

// Byzantine ranks replace their delta ([faults]); alie's attackers pool their honest deltas
// over a communicator of their own.
Status apply_faults(Node& node, std::uint64_t height, std::vector<float>& delta) {
  const bool byzantine = aggregate::is_byzantine(node.attack, node.rank);
  std::vector<std::vector<float>> pooled;
  std::vector<std::span<const float>> colluders;
  if (node.attack.attack == aggregate::Attack::kAlie) {
    // Collective over every rank (MPI_Comm_split), so honest ranks take part too.
    MPI_Comm attackers;
    MPI_Comm_split(MPI_COMM_WORLD, byzantine ? 1 : MPI_UNDEFINED, node.rank, &attackers);
    if (byzantine) {
      auto all = allgather_fixed(bytes_of(delta), attackers);
      MPI_Comm_free(&attackers);
      if (!all) return all.error();
      for (const auto& bytes : *all) {
        auto& values = pooled.emplace_back(delta.size());
        std::memcpy(values.data(), bytes.data(), bytes.size());
      }
      for (const auto& values : pooled) colluders.emplace_back(values);
    }
  }
  if (!byzantine) return {};
  const aggregate::AttackContext context{node.rank, static_cast<std::int64_t>(height), node.ranks,
                                         colluders};
  return aggregate::apply_attack(node.attack, context, delta);
}

struct Exchanged {
  aggregate::AggregateResult aggregate;
  std::uint64_t bytes_sent = 0;
};

// The exchange and aggregate phases for one quantized update per rank.
Result<Exchanged> exchange_and_aggregate(Node& node, std::span<const std::int32_t> q,
                                         Stopwatch& clock, RoundReport& report) {
  Exchanged out;
  const std::size_t d = q.size();
  if (node.aggregate.exchange == aggregate::Exchange::kAllreduce) {
    auto sum = allreduce_weighted_sum(q, node.weights[static_cast<std::size_t>(node.rank)],
                                      MPI_COMM_WORLD);
    if (!sum) return sum.error();
    out.bytes_sent = d * sizeof(std::int64_t);
    report.exchange_s = clock.lap();
    std::int64_t total = 0;
    for (auto w : node.weights) total += w;
    out.aggregate.values.resize(d);
    if (auto st = aggregate::fedavg_from_sum(*sum, total, out.aggregate.values); !st) {
      return st.error();
    }
    for (int r = 0; r < node.ranks; ++r) out.aggregate.selected_ranks.push_back(r);
  } else {
    auto all = allgather_updates(q, MPI_COMM_WORLD);
    if (!all) return all.error();
    out.bytes_sent = d * sizeof(std::int32_t);
    report.exchange_s = clock.lap();
    std::vector<aggregate::Update> updates;
    for (int r = 0; r < node.ranks; ++r) {
      updates.push_back(
          {r, node.weights[static_cast<std::size_t>(r)],
           std::span<const std::int32_t>(all->data() + static_cast<std::size_t>(r) * d, d)});
    }
    auto result = aggregate::aggregate(node.aggregate, updates);
    if (!result) return result.error();
    out.aggregate = std::move(*result);
  }
  return out;
}

// Test loss and accuracy of node.theta, each rank evaluating its slice of the test split.
Status evaluate(Node& node, RoundReport& report) {
  const std::int64_t n = node.data.test.count;
  const std::int64_t begin = n * node.rank / node.ranks;
  const std::int64_t end = n * (node.rank + 1) / node.ranks;
  std::vector<std::int64_t> slice;
  for (std::int64_t i = begin; i < end; ++i) slice.push_back(i);
  double loss_sum = 0;
  double correct = 0;
  if (!slice.empty()) {
    if (auto st = node.model->set_parameters(node.theta); !st) return st;
    auto evaluation = train::evaluate(*node.model, node.data.test, slice);
    if (!evaluation) return evaluation.error();
    loss_sum = evaluation->loss * static_cast<double>(evaluation->count);
    correct = static_cast<double>(evaluation->correct);
  }
  auto sums = allreduce_sum({loss_sum, correct}, MPI_COMM_WORLD);
  if (!sums) return sums.error();
  report.test_loss = (*sums)[0] / static_cast<double>(n);
  report.test_acc = (*sums)[1] / static_cast<double>(n);
  return {};
}

}  // namespace

Result<RoundReport> run_round(Node& node) {
  const std::uint64_t height = node.height + 1;
  RoundReport report;
  report.height = height;
  Stopwatch clock;
  Stopwatch round_clock;

  // 1. Local training on this rank's shard, from the global model theta_h.
  train::LocalResult local;
  auto delta = train_locally(node, height, local);
  if (!delta) return delta.error();
  if (auto st = apply_faults(node, height, *delta); !st) return st.error();
  report.train_s = clock.lap();

  // 2. Fixed point: q_i = clamp(round(delta_i * 2^s)).
  std::vector<std::int32_t> q(delta->size());
  auto quantized = aggregate::quantize(*delta, q, node.aggregate.quantize);
  if (!quantized) return quantized.error();
  report.quantize_s = clock.lap();

  // 3. Exchange and 4. aggregate, by the configured rule.
  auto exchanged = exchange_and_aggregate(node, q, clock, report);
  if (!exchanged) return exchanged.error();
  report.bytes_sent = exchanged->bytes_sent;

  // 5. theta_{h+1} = theta_h + dequantize(A); its Merkle root is the state root.
  if (auto st = aggregate::dequantize_add(node.theta, exchanged->aggregate.values,
                                          node.aggregate.quantize.scale_bits);
      !st) {
    return st.error();
  }
  const Hash32 state_root =
      crypto::merkle_root(bytes_of(node.theta), crypto::kDefaultMerkleChunkBytes,
                          static_cast<int>(node.job.train.threads));
  report.state_root = state_root.hex();
  report.aggregate_s = clock.lap();
  node.height = height;

  // Reporting: mean training loss over ranks (weighted by samples), clipping, evaluation.
  auto sums = allreduce_sum(
      {local.mean_loss * static_cast<double>(local.samples_seen),
       static_cast<double>(local.samples_seen), static_cast<double>(quantized->clipped)},
      MPI_COMM_WORLD);
  if (!sums) return sums.error();
  report.train_loss = (*sums)[0] / std::max(1.0, (*sums)[1]);
  report.clipped = static_cast<std::int64_t>((*sums)[2]);
  report.test_loss = report.test_acc = std::nan("");
  const auto rounds = static_cast<std::uint64_t>(node.job.job.rounds);
  if (height % static_cast<std::uint64_t>(node.job.job.eval_every) == 0 || height == rounds) {
    if (auto st = evaluate(node, report); !st) return st.error();
  }
  report.eval_s = clock.lap();

  // 6. Store: checkpoint every k heights.
  const auto every = static_cast<std::uint64_t>(node.job.checkpoint.every);
  if ((every > 0 && height % every == 0) || height == rounds) {
    if (auto st = write_node_checkpoint(node); !st) return st.error();
  }
  report.store_s = clock.lap();
  report.round_s = round_clock.lap();
  return report;
}

Status write_node_checkpoint(const Node& node) {
  Status written;
  if (node.rank == 0) {
    io::CheckpointMeta meta;
    meta.height = node.height;
    meta.state_root = crypto::merkle_root(bytes_of(node.theta), crypto::kDefaultMerkleChunkBytes,
                                          static_cast<int>(node.job.train.threads));
    std::vector<io::TensorView> tensors;
    for (const auto& view : node.model->parameter_views()) {
      tensors.push_back({view.name, view.shape,
                         std::span<const float>(node.theta)
                             .subspan(static_cast<std::size_t>(view.offset),
                                      static_cast<std::size_t>(view.count))});
    }
    written = io::write_checkpoint(node.run_dir.checkpoint_path(node.height), meta, tensors);
  }
  return agree(written, MPI_COMM_WORLD);
}

}  // namespace fedchain::node
