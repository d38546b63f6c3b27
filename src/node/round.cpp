// One federated round, top-down (docs/architecture.md, "One round, file by file"):
//   1. train  2. quantize  3. commit  4. who takes part  5. exchange and aggregate
//   6. the next model  7. consensus  8. finish: adopt, report, store.
// Every rank runs every phase; the aggregate and the new parameters come out with the
// same bits on every rank because everything after quantization is integer arithmetic or
// single IEEE operations (aggregate/fixed_point.hpp). Each phase is a function that returns
// its result; run_round times them from outside.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "exchange.hpp"
#include "fedchain/aggregate/quantize.hpp"
#include "fedchain/core/random.hpp"
#include "fedchain/crypto/merkle.hpp"
#include "fedchain/io/checkpoint.hpp"
#include "fedchain/ledger/validation.hpp"
#include "node.hpp"

namespace fedchain::node {

namespace {

// Runs one phase and adds its wall-clock seconds to `seconds`.
template <typename Phase>
auto timed(double& seconds, Phase&& phase) {
  const auto start = std::chrono::steady_clock::now();
  auto result = phase();
  seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

struct LocalUpdate {
  std::vector<float> delta;  // theta_i - theta_h, after this rank's [faults]
  train::LocalResult trained;
};

// 1. Local training on this rank's shard from the global model theta_h.
Result<LocalUpdate> train_locally(Node& node, std::uint64_t height) {
  LocalTraining& local = node.local;
  const std::vector<float>& theta = node.global.theta;
  if (auto st = local.model->set_parameters(theta); !st) return st.error();
  // Each round starts from a fresh optimizer: a resumed run has no optimizer state to
  // restore, and must train exactly as an uninterrupted one.
  local.trainer->reset_optimizer();
  local.trainer->set_learning_rate(local.options.lr_at(static_cast<std::int64_t>(height) - 1));
  const auto seed = derive_seed(static_cast<std::uint64_t>(node.job.job.seed),
                                static_cast<std::uint64_t>(node.rank), height);
  LocalUpdate update;
  auto trained = local.trainer->train(local.data.train, local.shard, seed);
  if (!trained) return trained.error();
  update.trained = *trained;
  update.delta.resize(theta.size());
  if (auto st = local.model->get_parameters(update.delta); !st) return st.error();
  for (std::size_t j = 0; j < theta.size(); ++j) update.delta[j] -= theta[j];
  if (auto st = local.faults->on_update(height, update.delta); !st) return st.error();
  return update;
}

struct QuantizedUpdate {
  std::vector<std::int32_t> q;  // clamp(round(delta * 2^s))
  std::int64_t clipped = 0;
  bool finite = true;  // loss and every delta value finite
};

// 2. Fixed point: q_i = clamp(round(delta_i * 2^s)).
Result<QuantizedUpdate> quantize_update(const Node& node, const LocalUpdate& update,
                                        std::uint64_t height) {
  std::vector<std::int32_t> q(update.delta.size());
  auto quantized = aggregate::quantize(update.delta, q, node.aggregate.quantize);
  if (!quantized) return quantized.error();
  QuantizedUpdate out{std::move(q), quantized->clipped,
                      std::isfinite(update.trained.mean_loss) && quantized->nonfinite == 0};
  if (!out.finite) {
    spdlog::error(
        "rank {} round {}: local training went non-finite: loss {}, {} of {} update "
        "values NaN or infinite",
        node.rank, height, update.trained.mean_loss, quantized->nonfinite, out.q.size());
  }
  return out;
}

// Every rank learns which ranks' local training went non-finite this round (NaN or
// infinite loss or update, e.g. a learning rate too high). fedavg cannot leave an update
// out of its sum, so the run stops on every rank naming them; a robust rule (allgather)
// leaves them out of the round: they have no transaction in its block.
Result<std::vector<bool>> nonfinite_ranks(const Node& node, bool finite, std::uint64_t height) {
  auto listed = node.comm->ranks_with(!finite);
  if (!listed) return listed.error();
  std::vector<bool> nonfinite(static_cast<std::size_t>(node.ranks), false);
  if (listed->empty()) return nonfinite;
  const std::string names = fmt::format("{}", fmt::join(*listed, ", "));
  const auto what_to_do = fmt::format(
      "lower train.lr (now {}) or check the data, then start a new run (the job file is "
      "part of the chain)",
      node.local.options.lr_at(static_cast<std::int64_t>(height) - 1));
  const bool every = static_cast<int>(listed->size()) == node.ranks;
  if (every || node.aggregate.exchange == aggregate::Exchange::kAllreduce) {
    Error error = runtime_error(
        "round {}: local training went non-finite (NaN or infinite loss or update) on rank(s) "
        "{}; {}: {}",
        height, names,
        every ? "no rank is left to aggregate"
              : "fedavg's allreduce exchange cannot leave an update out (a robust rule, "
                "aggregate.rule = \"median\", leaves such updates out of their round)",
        what_to_do);
    error.every_rank = true;  // every rank holds the same list
    return error;
  }
  for (const int r : *listed) nonfinite[static_cast<std::size_t>(r)] = true;
  spdlog::warn("round {}: rank(s) {} went non-finite; left out of this round ({})", height, names,
               what_to_do);
  if (node.rank == 0) {
    std::printf(
        "round %llu: rank(s) %s went non-finite (NaN or infinite); left out of this round\n",
        static_cast<unsigned long long>(height), names.c_str());
    std::fflush(stdout);
  }
  return nonfinite;
}

// 3. With a chain, the commitment to this rank's update: its Merkle root in a signed
// transaction.
ledger::Tx sign_update(const Node& node, std::uint64_t height, const LocalUpdate& update,
                       std::span<const std::int32_t> q) {
  ledger::TxBuilder tx;
  tx.chain_id = node.chain->participant->genesis().chain_id();
  tx.height = height;
  tx.rank = static_cast<std::uint32_t>(node.rank);
  tx.weight = static_cast<std::uint64_t>(node.weights[static_cast<std::size_t>(node.rank)]);
  tx.update_root = update_root_of(q, node.job);
  tx.loss = update.trained.mean_loss;
  tx.samples = static_cast<std::uint64_t>(update.trained.samples_seen);
  return tx.sign(node.chain->key);
}

// Whose update counts in this round's aggregate.
struct Participation {
  std::vector<bool> counted;                   // (ranks)
  std::vector<std::optional<ledger::Tx>> txs;  // (ranks) live: each counted rank's transaction
  std::uint64_t tx_bytes_sent = 0;
};

// Every rank's signed update transaction, checked against genesis and chain state; an
// invalid one leaves its rank out of the round (logged with rank and height), as does a
// non-finite rank's.
Result<std::vector<std::optional<ledger::Tx>>> exchange_txs(const Node& node,
                                                            const ledger::Tx& mine,
                                                            const std::vector<bool>& nonfinite,
                                                            std::uint64_t height) {
  auto gathered = node.comm->gather_bytes(mine.encode());
  if (!gathered) return gathered.error();
  std::vector<std::optional<ledger::Tx>> txs;
  const auto& participant = *node.chain->participant;
  for (std::size_t r = 0; r < gathered->size(); ++r) {
    if (nonfinite[r]) {  // its rank said so: nothing of it counts, its transaction included
      txs.emplace_back();
      continue;
    }
    auto tx = ledger::Tx::decode((*gathered)[r]);
    Status valid = tx ? ledger::validate_tx(*tx, height, participant.genesis(), participant.state())
                      : Status(tx.error());
    if (valid && tx->rank() != r) valid = reject("wrong-rank", "tx names rank {}", tx->rank());
    if (!valid) {
      spdlog::warn("height {}: rank {}'s update transaction is refused: {}", height, r,
                   valid.error().message);
      txs.emplace_back();
    } else {
      txs.emplace_back(std::move(*tx));
    }
  }
  return txs;
}

// 4. Whose update counts, decided before any update moves: live, the ranks whose signed
// transaction is valid; replaying a committed round (resume), those its block recorded;
// without a chain, every rank. A non-finite rank never counts: its transaction, if any,
// is left out too.
Result<Participation> decide_participation(const Node& node, const std::optional<ledger::Tx>& mine,
                                           const std::vector<bool>& nonfinite,
                                           std::uint64_t height) {
  Participation who;
  const auto ranks = static_cast<std::size_t>(node.ranks);
  const bool replay = node.chain && !mine;
  who.counted.assign(ranks, !replay);
  who.txs.resize(ranks);
  if (replay) {
    for (const std::uint32_t r : node.chain->committed[height - 1].update_ranks) {
      who.counted.at(r) = true;
    }
  }
  if (mine) {
    auto txs = exchange_txs(node, *mine, nonfinite, height);
    if (!txs) return txs.error();
    who.txs = std::move(*txs);
    who.tx_bytes_sent = ledger::kTxEncodedBytes;
  }
  const bool allreduce = node.aggregate.exchange == aggregate::Exchange::kAllreduce;
  for (std::size_t r = 0; r < ranks; ++r) {
    if (!mine) {
      who.counted[r] = who.counted[r] && !nonfinite[r];
      continue;
    }
    who.counted[r] = who.txs[r].has_value();
    // A rank jailed by committed evidence still joins the allreduce, with weight 0: every
    // rank refuses its transaction alike (chain state says so). Any other refused
    // transaction breaks allreduce's trust in every rank.
    if (allreduce && !who.txs[r] &&
        node.chain->participant->state().is_active(static_cast<std::uint32_t>(r))) {
      return runtime_error(
          "height {}: rank {}'s update transaction is invalid, and the allreduce exchange "
          "trusts every rank (crash faults only); use aggregate.exchange = \"allgather\" "
          "with a robust rule against Byzantine ranks",
          height, r);
    }
  }
  return who;
}

// The aggregate of a round and what its block records about it.
struct RoundAggregate {
  aggregate::AggregateResult result;
  std::vector<ledger::Tx> txs;                // the counted ranks' transactions, rank order
  std::vector<std::uint32_t> rejected_ranks;  // counted ranks the rule left out
  std::uint64_t update_bytes_sent = 0;
};

std::vector<ledger::Tx> counted_txs(const Participation& who) {
  std::vector<ledger::Tx> txs;
  for (std::size_t r = 0; r < who.txs.size(); ++r) {
    if (who.counted[r] && who.txs[r]) txs.push_back(*who.txs[r]);
  }
  return txs;
}

// 5a. allreduce (fedavg, trusting every rank): one int64 sum of the counted ranks'
// weighted updates, then the average over their total weight.
Result<RoundAggregate> fedavg_by_allreduce(const Node& node, std::span<const std::int32_t> q,
                                           const Participation& who, io::MetricsRow& row) {
  const auto self = static_cast<std::size_t>(node.rank);
  auto sum = timed(row.exchange_s, [&] {
    return node.comm->weighted_sum(q, who.counted[self] ? node.weights[self] : 0);
  });
  if (!sum) return sum.error();
  return timed(row.aggregate_s, [&]() -> Result<RoundAggregate> {
    std::vector<std::uint32_t> counted_ranks;
    for (std::uint32_t r = 0; r < who.counted.size(); ++r) {
      if (who.counted[r]) counted_ranks.push_back(r);
    }
    auto averaged = aggregate::fedavg_over_sum(*sum, counted_ranks, node.weights);
    if (!averaged) return averaged.error();
    return RoundAggregate{
        std::move(*averaged), counted_txs(who), {}, q.size() * sizeof(std::int64_t)};
  });
}

// 5b. allgather (robust rules, Byzantine ranks): every rank's update; a counted rank's must
// hash to the root it signed, or it is left out. The rule may leave out more: those are
// the block's rejected ranks.
Result<RoundAggregate> robust_by_allgather(const Node& node, std::span<const std::int32_t> q,
                                           const Participation& who, std::uint64_t height,
                                           io::MetricsRow& row) {
  auto all = timed(row.exchange_s, [&] { return node.comm->gather_updates(q); });
  if (!all) return all.error();
  return timed(row.aggregate_s, [&]() -> Result<RoundAggregate> {
    const std::size_t d = q.size();
    RoundAggregate out;
    out.update_bytes_sent = d * sizeof(std::int32_t);
    std::vector<aggregate::Update> updates;
    for (int r = 0; r < node.ranks; ++r) {
      const auto at = static_cast<std::size_t>(r);
      const std::span<const std::int32_t> values(all->data() + at * d, d);
      if (!who.counted[at]) continue;
      if (const auto& tx = who.txs[at]) {
        if (update_root_of(values, node.job) != tx->update_root()) {
          spdlog::warn(
              "height {}: rank {} sent an update whose Merkle root is not the {} it signed; "
              "left out",
              height, r, tx->update_root().short_hex());
          continue;
        }
        out.txs.push_back(*tx);
      }
      updates.push_back({r, node.weights[at], values});
    }
    auto result = aggregate::aggregate(node.aggregate, updates);
    if (!result) return result.error();
    out.result = std::move(*result);
    const auto& selected = out.result.selected_ranks;
    for (const auto& tx : out.txs) {
      if (std::find(selected.begin(), selected.end(), tx.rank()) == selected.end()) {
        out.rejected_ranks.push_back(tx.rank());
      }
    }
    return out;
  });
}

// 6. theta_{h+1} = theta_h + dequantize(A) and its state root, built apart from
// node.global: the round is not finished until its block is committed.
Result<GlobalModel> next_model(Node& node, std::span<const std::int32_t> a, std::uint64_t height,
                               bool replay) {
  GlobalModel next{node.global.theta, {}, height};
  if (auto st = aggregate::dequantize_add(next.theta, a, node.aggregate.quantize.scale_bits); !st) {
    return st.error();
  }
  node.local.faults->on_new_model(height, next.theta, replay);
  next.state_root = state_root_of(next.theta, node.job);
  return next;
}

// 7a. Replaying a committed round (resume) must reproduce the root the chain committed.
Status check_replayed_root(const Node& node, const GlobalModel& next) {
  const Hash32& committed = node.chain->committed[next.height - 1].state_root;
  if (committed == next.state_root) return {};
  return runtime_error(
      "resume: replaying round {} gives state root {}, the chain committed {}: the run "
      "cannot be resumed with this binary or job (train.threads and the build must match)",
      next.height, next.state_root.short_hex(), committed.short_hex());
}

// A rank whose own state root differs from the committed one (a flipped bit in its
// memory, say) says so and takes the committed parameters from a rank that agrees:
// collective, so every rank takes part every round.
Status adopt_committed_root(const Node& node, GlobalModel& next, const Hash32& committed) {
  const bool differs = committed != next.state_root;
  auto differing = node.comm->ranks_with(differs);
  if (!differing) return differing.error();
  if (differing->empty()) return {};
  if (differs) {
    spdlog::error(
        "rank {} height {}: own state root {} differs from the committed {}; taking "
        "the committed parameters from a peer",
        node.rank, next.height, next.state_root.short_hex(), committed.short_hex());
  }
  // The lowest rank whose root is the committed one sends its parameters.
  int source = 0;
  for (const int r : *differing) source += r == source ? 1 : 0;
  if (source == node.ranks) {
    return runtime_error("height {}: no rank holds the committed state root {}", next.height,
                         committed.short_hex());
  }
  if (auto st = node.comm->broadcast(next.theta, source); !st) return st;
  next.state_root = state_root_of(next.theta, node.job);
  if (next.state_root != committed) {
    return runtime_error(
        "rank {} height {}: parameters from rank {} do not hash to the committed state root",
        node.rank, next.height, source);
  }
  return {};
}

// 7b. Consensus on the block that records this round. Returns false when a stop signal
// ended the wait on some rank: then no rank finishes the round (a rank that stopped
// waiting may not hold the block).
Result<bool> agree_on_block(Node& node, GlobalModel& next, const RoundAggregate& aggregated,
                            io::MetricsRow& row) {
  auto& chain = *node.chain;
  chain.participant->expect(
      {next.height, next.state_root, aggregated.txs, aggregated.rejected_ranks});
  auto set = chain.participant->validator_set();
  if (!set) return set.error();
  const Status ran = chain.loop->run_height(next.height, std::move(*set), std::chrono::minutes(10),
                                            node.stop_requested);
  const bool stopped = !ran && ran.error().code == net::kStopped;
  if (!ran && !stopped) return ran.error();
  auto stopped_ranks = node.comm->ranks_with(stopped);
  if (!stopped_ranks) return stopped_ranks.error();
  if (!stopped_ranks->empty()) {
    spdlog::info("height {}: a stop signal ended the wait for the block; round not finished",
                 next.height);
    return false;
  }
  const ledger::Block& block = *chain.participant->committed();
  if (auto st = adopt_committed_root(node, next, block.header().state_root); !st) {
    return st.error();
  }
  row.block_hash = block.hash().hex();
  row.proposer = block.header().proposer;
  row.commit_round = chain.participant->committed_round();
  chain.committed.push_back(ChainSide::committed_of(block));
  return true;
}

// Test loss and accuracy of the global model, each rank evaluating its slice of the test
// split.
Status evaluate(Node& node, io::MetricsRow& row) {
  const std::int64_t n = node.local.data.test.count;
  const std::int64_t begin = n * node.rank / node.ranks;
  const std::int64_t end = n * (node.rank + 1) / node.ranks;
  std::vector<std::int64_t> slice;
  for (std::int64_t i = begin; i < end; ++i) slice.push_back(i);
  double loss_sum = 0;
  double correct = 0;
  if (!slice.empty()) {
    if (auto st = node.local.model->set_parameters(node.global.theta); !st) return st;
    auto evaluation = train::evaluate(*node.local.model, node.local.data.test, slice);
    if (!evaluation) return evaluation.error();
    loss_sum = evaluation->loss * static_cast<double>(evaluation->count);
    correct = static_cast<double>(evaluation->correct);
  }
  auto sums = node.comm->sum_for_report({loss_sum, correct});
  if (!sums) return sums.error();
  row.test_loss = (*sums)[0] / static_cast<double>(n);
  row.test_acc = (*sums)[1] / static_cast<double>(n);
  return {};
}

// 8. The round's reporting: mean training loss over ranks (weighted by samples; a
// non-finite rank left out), clipping, and on evaluation rounds the test metrics.
Status report_round(Node& node, const LocalUpdate& update, const QuantizedUpdate& quantized,
                    io::MetricsRow& row) {
  const double seen = quantized.finite ? static_cast<double>(update.trained.samples_seen) : 0.0;
  auto sums = node.comm->sum_for_report({quantized.finite ? update.trained.mean_loss * seen : 0.0,
                                         seen, static_cast<double>(quantized.clipped)});
  if (!sums) return sums.error();
  row.train_loss = (*sums)[0] / std::max(1.0, (*sums)[1]);
  row.clipped = static_cast<std::int64_t>((*sums)[2]);
  row.state_root = node.global.state_root.hex();
  row.test_loss = row.test_acc = std::nan("");
  const std::uint64_t height = node.global.height;
  if (height % static_cast<std::uint64_t>(node.job.job.eval_every) == 0 ||
      height == static_cast<std::uint64_t>(node.job.job.rounds)) {
    return timed(row.eval_s, [&] { return evaluate(node, row); });
  }
  return {};
}

// 8. Store: a checkpoint every `checkpoint.every` heights and at the last.
Status store_round(const Node& node) {
  const std::uint64_t height = node.global.height;
  const auto every = static_cast<std::uint64_t>(node.job.checkpoint.every);
  if ((every > 0 && height % every == 0) ||
      height == static_cast<std::uint64_t>(node.job.job.rounds)) {
    return write_node_checkpoint(node);
  }
  return {};
}

}  // namespace

Result<std::optional<io::MetricsRow>> run_round(Node& node) {
  const auto round_start = std::chrono::steady_clock::now();
  const std::uint64_t height = node.global.height + 1;
  const bool replay = node.chain && height <= node.chain->committed.size();
  io::MetricsRow row;
  row.height = height;

  auto update = timed(row.train_s, [&] { return train_locally(node, height); });
  if (!update) return update.error();
  auto quantized = timed(row.quantize_s, [&] { return quantize_update(node, *update, height); });
  if (!quantized) return quantized.error();
  auto nonfinite =
      timed(row.quantize_s, [&] { return nonfinite_ranks(node, quantized->finite, height); });
  if (!nonfinite) return nonfinite.error();

  std::optional<ledger::Tx> mine;
  if (node.chain && !replay) {
    mine = timed(row.hash_s, [&] { return sign_update(node, height, *update, quantized->q); });
  }
  // ledger.archive_updates: q_i on disk before its transaction leaves this rank.
  if (auto st =
          timed(row.store_s, [&] { return archive_update(node, height, quantized->q, mine); });
      !st) {
    return st.error();
  }
  auto who =
      timed(row.exchange_s, [&] { return decide_participation(node, mine, *nonfinite, height); });
  if (!who) return who.error();
  auto aggregated = node.aggregate.exchange == aggregate::Exchange::kAllreduce
                        ? fedavg_by_allreduce(node, quantized->q, *who, row)
                        : robust_by_allgather(node, quantized->q, *who, height, row);
  if (!aggregated) return aggregated.error();
  row.bytes_sent = who->tx_bytes_sent + aggregated->update_bytes_sent;

  auto next = timed(row.aggregate_s,
                    [&] { return next_model(node, aggregated->result.values, height, replay); });
  if (!next) return next.error();
  if (replay) {
    if (auto st = check_replayed_root(node, *next); !st) return st.error();
  } else if (node.chain) {
    auto committed =
        timed(row.consensus_s, [&] { return agree_on_block(node, *next, *aggregated, row); });
    if (!committed) return committed.error();
    if (!*committed) return std::optional<io::MetricsRow>();
  }

  node.global = std::move(*next);
  if (auto st = report_round(node, *update, *quantized, row); !st) return st.error();
  if (auto st = timed(row.store_s, [&] { return store_round(node); }); !st) return st.error();
  row.round_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - round_start).count();
  return std::optional<io::MetricsRow>(std::move(row));
}

Status write_node_checkpoint(const Node& node) {
  if (node.global.height == 0) return {};  // nothing trained yet: genesis holds the initial model
  Status written;
  if (node.rank == 0) {
    io::CheckpointMeta meta;
    meta.height = node.global.height;
    meta.state_root = node.global.state_root;
    if (node.chain) {
      meta.chain_id = node.chain->participant->genesis().chain_id();
      meta.block_hash = node.chain->committed[node.global.height - 1].block_hash;
    }
    std::vector<io::TensorView> tensors;
    for (const auto& view : node.local.model->parameter_views()) {
      tensors.push_back({view.name, view.shape,
                         std::span<const float>(node.global.theta)
                             .subspan(static_cast<std::size_t>(view.offset),
                                      static_cast<std::size_t>(view.count))});
    }
    written = io::write_checkpoint(node.run_dir.checkpoint_path(node.global.height), meta, tensors);
  }
  return node.comm->agree(written);
}

}  // namespace fedchain::node
