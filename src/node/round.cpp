// One federated round, phase by phase (docs/architecture.md, "One round, file by file"):
//   train -> quantize -> exchange -> aggregate -> new parameters and state root -> store.
// Every rank runs every phase; the aggregate and the new parameters come out with the
// same bits on every rank because everything after quantization is integer arithmetic or
// single IEEE operations (aggregate/fixed_point.hpp).
#include <mpi.h>

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

// Local training from theta_h; returns this rank's delta = theta_i - theta_h.
Result<std::vector<float>> train_locally(Node& node, std::uint64_t height,
                                         train::LocalResult& result) {
  if (auto st = node.model->set_parameters(node.theta); !st) return st.error();
  // Each round starts from a fresh optimizer: a resumed run has no optimizer state to
  // restore, and must train exactly as an uninterrupted one.
  node.trainer->reset_optimizer();
  node.trainer->set_learning_rate(node.train_options.lr_at(static_cast<std::int64_t>(height) - 1));
  const auto seed = derive_seed(static_cast<std::uint64_t>(node.job.job.seed),
                                static_cast<std::uint64_t>(node.rank), height);
  auto trained = node.trainer->train(node.data.train, node.shard, seed);
  if (!trained) return trained.error();
  result = *trained;
  std::vector<float> delta(node.theta.size());
  if (auto st = node.model->get_parameters(delta); !st) return st.error();
  for (std::size_t j = 0; j < delta.size(); ++j) delta[j] -= node.theta[j];
  return delta;
}

struct Exchanged {
  aggregate::AggregateResult aggregate;
  std::uint64_t bytes_sent = 0;
  std::vector<ledger::Tx> txs;                // the valid update transactions, rank order
  std::vector<std::uint32_t> rejected_ranks;  // valid txs the rule left out
};

// With a chain: every rank's signed update transaction, checked against genesis and chain
// state; an invalid one leaves its rank out of the round (logged with rank and height).
Result<std::vector<std::optional<ledger::Tx>>> exchange_txs(Node& node, const ledger::Tx& mine,
                                                            const std::vector<bool>& nonfinite,
                                                            std::uint64_t height) {
  auto gathered = allgather_fixed(mine.encode(), MPI_COMM_WORLD);
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

// The exchange and aggregate phases for one quantized update per rank. Which ranks count:
// live, those whose transaction is valid (my_tx set); replaying a committed round, those
// its block recorded (`replayed`); without a chain, all. A rank whose update is not finite
// (`nonfinite`, allgather only) never counts: it has no transaction in the block.
Result<Exchanged> exchange_and_aggregate(Node& node, std::span<const std::int32_t> q,
                                         const std::optional<ledger::Tx>& my_tx,
                                         const std::vector<bool>& nonfinite,
                                         const ChainSide::Committed* replayed, std::uint64_t height,
                                         Stopwatch& clock, RoundReport& report) {
  Exchanged out;
  const std::size_t d = q.size();
  // Whose update counts, before this round's transactions are checked below.
  std::vector<bool> counted(static_cast<std::size_t>(node.ranks), replayed == nullptr);
  if (replayed) {
    for (const std::uint32_t r : replayed->update_ranks) counted.at(r) = true;
  }
  for (std::size_t r = 0; r < counted.size(); ++r) counted[r] = counted[r] && !nonfinite[r];
  std::vector<std::optional<ledger::Tx>> txs(static_cast<std::size_t>(node.ranks));
  if (my_tx) {
    auto exchanged = exchange_txs(node, *my_tx, nonfinite, height);
    if (!exchanged) return exchanged.error();
    txs = std::move(*exchanged);
    out.bytes_sent += ledger::kTxEncodedBytes;
  }
  if (node.aggregate.exchange == aggregate::Exchange::kAllreduce) {
    // A rank jailed by committed evidence still joins the collective, with weight 0: every
    // rank refuses its transaction (chain state says so, alike everywhere), so its update
    // stays out of the average too.
    if (my_tx) {
      const auto& state = node.chain->participant->state();
      for (std::size_t r = 0; r < txs.size(); ++r) {
        if (!txs[r] && !state.is_active(static_cast<std::uint32_t>(r))) {
          counted[r] = false;
          continue;
        }
        if (!txs[r]) {
          return runtime_error(
              "height {}: rank {}'s update transaction is invalid, and the allreduce exchange "
              "trusts every rank (crash faults only); use aggregate.exchange = \"allgather\" "
              "with a robust rule against Byzantine ranks",
              height, r);
        }
        out.txs.push_back(*txs[r]);
      }
    }
    const auto self = static_cast<std::size_t>(node.rank);
    auto sum = allreduce_weighted_sum(q, counted[self] ? node.weights[self] : 0, MPI_COMM_WORLD);
    if (!sum) return sum.error();
    out.bytes_sent += d * sizeof(std::int64_t);
    report.exchange_s = clock.lap();
    std::vector<std::uint32_t> counted_ranks;
    for (std::uint32_t r = 0; r < counted.size(); ++r) {
      if (counted[r]) counted_ranks.push_back(r);
    }
    auto averaged = aggregate::fedavg_over_sum(*sum, counted_ranks, node.weights);
    if (!averaged) return averaged.error();
    out.aggregate = std::move(*averaged);
    return out;
  }

  auto all = allgather_updates(q, MPI_COMM_WORLD);
  if (!all) return all.error();
  out.bytes_sent += d * sizeof(std::int32_t);
  report.exchange_s = clock.lap();
  std::vector<aggregate::Update> updates;
  for (int r = 0; r < node.ranks; ++r) {
    const std::span<const std::int32_t> values(all->data() + static_cast<std::size_t>(r) * d, d);
    auto& tx = txs[static_cast<std::size_t>(r)];
    if (my_tx) {
      if (!tx) continue;
      // Allgather's Byzantine model: what a rank sent must be what it signed.
      const Hash32 root = update_root_of(values, node.job);
      if (root != tx->update_root()) {
        spdlog::warn(
            "height {}: rank {} sent an update whose Merkle root {} is not the {} it "
            "signed; left out",
            height, r, root.short_hex(), tx->update_root().short_hex());
        continue;
      }
      out.txs.push_back(*tx);
    } else if (!counted[static_cast<std::size_t>(r)]) {
      continue;
    }
    updates.push_back({r, node.weights[static_cast<std::size_t>(r)], values});
  }
  auto result = aggregate::aggregate(node.aggregate, updates);
  if (!result) return result.error();
  out.aggregate = std::move(*result);
  for (const auto& tx : out.txs) {
    const auto& selected = out.aggregate.selected_ranks;
    if (std::find(selected.begin(), selected.end(), tx.rank()) == selected.end()) {
      out.rejected_ranks.push_back(tx.rank());
    }
  }
  return out;
}

// Consensus on the round's block. A rank whose own state root differs from the committed
// one (a flipped bit in its memory, say) says so and takes the committed parameters from
// a rank that agrees: collective, so every rank takes part every round.
Status agree_on_block(Node& node, const Hash32& own_root, const Exchanged& exchanged,
                      std::uint64_t height, RoundReport& report) {
  auto& chain = *node.chain;
  chain.participant->expect({height, own_root, exchanged.txs, exchanged.rejected_ranks});
  auto set = chain.participant->validator_set();
  if (!set) return set.error();
  const Status ran = chain.loop->run_height(height, std::move(*set), std::chrono::minutes(10),
                                            node.stop_requested);
  const bool stopped = !ran && ran.error().code == net::kStopped;
  if (!ran && !stopped) return ran;
  // A rank that stopped waiting may not hold the block, so no rank finishes the round.
  auto any_stopped = any_rank(stopped, MPI_COMM_WORLD);
  if (!any_stopped) return any_stopped.error();
  if (*any_stopped) {
    spdlog::info("height {}: a stop signal ended the wait for the block; round not finished",
                 height);
    report.stopped = true;
    return {};
  }
  const ledger::Block& block = *chain.participant->committed();
  report.block_hash = block.hash().hex();
  report.proposer = block.header().proposer;
  report.commit_round = chain.participant->committed_round();
  const Hash32& committed = block.header().state_root;
  const bool differs = committed != own_root;
  auto any_differs = any_rank(differs, MPI_COMM_WORLD);
  if (!any_differs) return any_differs.error();
  if (!*any_differs) return {};
  if (differs) {
    spdlog::error(
        "rank {} height {}: own state root {} differs from the committed {}; taking "
        "the committed parameters from a peer",
        node.rank, height, own_root.short_hex(), committed.short_hex());
  }
  const int candidate = differs ? node.ranks : node.rank;
  int source = node.ranks;
  if (int rc = MPI_Allreduce(&candidate, &source, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
      rc != MPI_SUCCESS) {
    return mpi_failure("MPI_Allreduce (a rank holding the committed root)", rc);
  }
  if (source == node.ranks) {
    return runtime_error("height {}: no rank holds the committed state root {}", height,
                         committed.short_hex());
  }
  const int rc = MPI_Bcast(node.theta.data(), static_cast<int>(node.theta.size()), MPI_FLOAT,
                           source, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return mpi_failure("MPI_Bcast (committed parameters)", rc);
  node.state_root = state_root_of(node.theta, node.job);
  if (node.state_root != committed) {
    return runtime_error(
        "rank {} height {}: parameters from rank {} do not hash to the "
        "committed state root",
        node.rank, height, source);
  }
  return {};
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

// Every rank learns which ranks' local training went non-finite this round (NaN or
// infinite loss or update, e.g. a learning rate too high). fedavg cannot leave an update
// out of its sum, so the run stops on every rank naming them; a robust rule (allgather)
// leaves them out of the round: they have no transaction in its block.
Result<std::vector<bool>> nonfinite_ranks(const Node& node, bool finite, std::uint64_t height) {
  auto listed = ranks_with(!finite, MPI_COMM_WORLD);
  if (!listed) return listed.error();
  std::vector<bool> nonfinite(static_cast<std::size_t>(node.ranks), false);
  if (listed->empty()) return nonfinite;
  const std::string names = fmt::format("{}", fmt::join(*listed, ", "));
  const auto what_to_do = fmt::format(
      "lower train.lr (now {}) or check the data, then start a new run (the job file is "
      "part of the chain)",
      node.train_options.lr_at(static_cast<std::int64_t>(height) - 1));
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
  if (auto st = node.round_faults->on_update(height, *delta); !st) return st.error();
  report.train_s = clock.lap();

  // 2. Fixed point: q_i = clamp(round(delta_i * 2^s)).
  std::vector<std::int32_t> q(delta->size());
  auto quantized = aggregate::quantize(*delta, q, node.aggregate.quantize);
  if (!quantized) return quantized.error();
  const bool finite = std::isfinite(local.mean_loss) && quantized->nonfinite == 0;
  if (!finite) {
    spdlog::error(
        "rank {} round {}: local training went non-finite: loss {}, {} of {} update "
        "values NaN or infinite",
        node.rank, height, local.mean_loss, quantized->nonfinite, q.size());
  }
  auto nonfinite = nonfinite_ranks(node, finite, height);
  if (!nonfinite) return nonfinite.error();
  report.quantize_s = clock.lap();

  // 3. With a chain, commit to the update: its Merkle root in a signed transaction. On
  // resume, rounds the chain already holds are replayed without a new block.
  const bool replay = node.chain && height <= node.chain->committed.size();
  std::optional<ledger::Tx> my_tx;
  if (node.chain && !replay) {
    ledger::TxBuilder tx;
    tx.chain_id = node.chain->participant->genesis().chain_id();
    tx.height = height;
    tx.rank = static_cast<std::uint32_t>(node.rank);
    tx.weight = static_cast<std::uint64_t>(node.weights[static_cast<std::size_t>(node.rank)]);
    tx.update_root = update_root_of(q, node.job);
    tx.loss = local.mean_loss;
    tx.samples = static_cast<std::uint64_t>(local.samples_seen);
    my_tx = tx.sign(node.chain->key);
    report.hash_s = clock.lap();
  }
  // ledger.archive_updates: q_i on disk before its transaction leaves this rank.
  if (auto st = archive_update(node, height, q, my_tx); !st) return st.error();
  const double archive_s = clock.lap();

  // 4. Exchange and aggregate, by the configured rule.
  const ChainSide::Committed* replayed = replay ? &node.chain->committed[height - 1] : nullptr;
  auto exchanged =
      exchange_and_aggregate(node, q, my_tx, *nonfinite, replayed, height, clock, report);
  if (!exchanged) return exchanged.error();
  report.bytes_sent = exchanged->bytes_sent;

  // 5. theta_{h+1} = theta_h + dequantize(A); its Merkle root is the state root. A stop
  // while waiting for the block abandons the round, and the model goes back to theta_h.
  std::vector<float> theta_before;
  const Hash32 root_before = node.state_root;
  if (node.chain && !replay) theta_before = node.theta;
  if (auto st = aggregate::dequantize_add(node.theta, exchanged->aggregate.values,
                                          node.aggregate.quantize.scale_bits);
      !st) {
    return st.error();
  }
  node.round_faults->on_new_model(height, node.theta, replay);
  const Hash32 state_root = state_root_of(node.theta, node.job);
  node.state_root = state_root;
  report.state_root = state_root.hex();
  report.aggregate_s = clock.lap();

  // 6. Consensus on the block that records this round; a replayed round must reproduce
  // the state root the chain committed.
  if (replay) {
    const Hash32& committed = node.chain->committed[height - 1].state_root;
    if (committed != state_root) {
      return runtime_error(
          "resume: replaying round {} gives state root {}, the chain committed {}: the run "
          "cannot be resumed with this binary or job (train.threads and the build must match)",
          height, state_root.short_hex(), committed.short_hex());
    }
  } else if (node.chain) {
    if (auto st = agree_on_block(node, state_root, *exchanged, height, report); !st) {
      return st.error();
    }
    if (report.stopped) {
      node.theta = std::move(theta_before);
      node.state_root = root_before;
      return report;
    }
    const ledger::Block& block = *node.chain->participant->committed();
    report.state_root = block.header().state_root.hex();
    node.chain->committed.push_back(ChainSide::committed_of(block));
  }
  report.consensus_s = clock.lap();
  node.height = height;

  // Reporting: mean training loss over ranks (weighted by samples; a non-finite rank left
  // out), clipping, evaluation.
  const double seen = finite ? static_cast<double>(local.samples_seen) : 0.0;
  auto sums = allreduce_sum(
      {finite ? local.mean_loss * seen : 0.0, seen, static_cast<double>(quantized->clipped)},
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
  report.store_s = archive_s + clock.lap();
  report.round_s = round_clock.lap();
  return report;
}

Status write_node_checkpoint(const Node& node) {
  if (node.height == 0) return {};  // nothing trained yet: genesis holds the initial model
  Status written;
  if (node.rank == 0) {
    io::CheckpointMeta meta;
    meta.height = node.height;
    meta.state_root = node.state_root;
    if (node.chain) {
      meta.chain_id = node.chain->participant->genesis().chain_id();
      meta.block_hash = node.chain->committed[node.height - 1].block_hash;
    }
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
