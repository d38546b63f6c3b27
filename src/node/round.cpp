// One federated round, top-down (docs/architecture.md, "One round, file by file"):
//   1. cohort  2. train  3. quantize  4. commit  5. who takes part  6. exchange and aggregate
//   7. the next model  8. consensus  9. finish: adopt, report, store.
// Every rank runs every phase for the cohort members it hosts; the aggregate and the new
// parameters come out with the same bits on every rank, whatever the rank count, because
// everything after quantization is integer arithmetic over clients or single IEEE
// operations (aggregate/fixed_point.hpp). Each phase is a function that returns its result;
// run_round times them from outside.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <type_traits>

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "agreement.hpp"
#include "exchange.hpp"
#include "fedchain/aggregate/quantize.hpp"
#include "fedchain/core/durable_file.hpp"
#include "fedchain/core/random.hpp"
#include "fedchain/crypto/merkle.hpp"
#include "fedchain/io/checkpoint.hpp"
#include "node.hpp"

namespace fedchain::node {

namespace {

// Runs one phase and adds its wall-clock seconds to `seconds`.
template <typename Phase>
auto timed(double& seconds, Phase&& phase) {
  const auto start = std::chrono::steady_clock::now();
  const auto stop = [&] {
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  if constexpr (std::is_void_v<decltype(phase())>) {
    phase();
    stop();
  } else {
    auto result = phase();
    stop();
    return result;
  }
}

// Whether rank `rank` hosts `client` (client k on rank k mod R): what a rank sends about a
// client counts only from its host.
bool is_host(const Node& node, std::uint32_t client, std::size_t rank) {
  return ledger::host_rank(client, static_cast<std::uint32_t>(node.ranks)) == rank;
}

// 2. Local training of one hosted cohort member from the global model theta_h, with a
// fresh optimizer (a resumed run has no optimizer state to restore) and its own seed (job
// seed, client, round): a client trains the same bits on any rank. The model then holds
// theta_k. `model_holds_theta`: the member before left theta_h in the model
// (quantize_from_parameters), so there is nothing to upload.
Status train_member(Node& node, std::uint64_t height, std::uint32_t client, bool model_holds_theta,
                    train::LocalResult& trained) {
  LocalTraining& local = node.local;
  if (!model_holds_theta) {
    if (auto st = local.model->set_parameters(node.global.theta); !st) return st;
  }
  local.trainer->reset_optimizer();
  local.trainer->set_learning_rate(local.options.lr_at(static_cast<std::int64_t>(height) - 1));
  const auto seed = derive_seed(static_cast<std::uint64_t>(node.job.job.seed), client, height);
  auto result = local.trainer->train(local.data.train, local.shards.at(client), seed);
  if (!result) return result.error();
  trained = *result;
  return {};
}

// Whether a member was trained to a usable update: its loss and every value finite.
void check_finite(std::uint64_t height, MemberUpdate& update, std::int64_t nonfinite,
                  std::size_t d) {
  update.finite = std::isfinite(update.trained.mean_loss) && nonfinite == 0;
  if (!update.finite) {
    spdlog::error(
        "client {} round {}: local training went non-finite: loss {}, {} of {} update values "
        "NaN or infinite",
        update.client, height, update.trained.mean_loss, nonfinite, d);
  }
}

// 3. Fixed point: q_k = clamp(round(delta_k * 2^s)).
Status quantize_member(const Node& node, std::uint64_t height, MemberUpdate& update,
                       std::span<float> delta) {
  clip_update(node, delta);  // privacy.dp: the L2 clip
  update.q.resize(delta.size());
  auto quantized = aggregate::quantize(delta, update.q, node.aggregate.quantize);
  if (!quantized) return quantized.error();
  update.clipped = quantized->clipped;
  check_finite(height, update, quantized->nonfinite, delta.size());
  update.clipped += add_noise_share(node, height, update.client, update.q);  // privacy.dp
  return {};
}

// 2-3 in one pass where nothing needs a member's whole float delta (no DP clip, which needs
// its norm first, and no attack on its update): q_k straight from the trained parameters,
// with the same bits as take-then-quantize (the same subtraction and the same rule per
// value), and theta_h put back in the model, so the next member starts without an upload
// of its own. On the CPU one pass reads the parameters and theta once and writes q_k
// (aggregate::take_quantized_difference); on a device, a run of kQuantizeRun values at a
// time comes to the host and is quantized while it is in cache.
Status quantize_from_parameters(Node& node, std::uint64_t height, MemberUpdate& update) {
  const std::vector<float>& theta = node.global.theta;
  update.q.resize(theta.size());
  if (const std::span<float> trained = node.local.model->host_parameters(); !trained.empty()) {
    auto quantized =
        aggregate::take_quantized_difference(trained, theta, update.q, node.aggregate.quantize);
    if (!quantized) return quantized.error();
    update.clipped = quantized->clipped;
    check_finite(height, update, quantized->nonfinite, theta.size());
    return {};
  }
  constexpr std::size_t kQuantizeRun = 16384;
  std::vector<float>& run = node.local.member_delta;
  run.resize(std::min(kQuantizeRun, theta.size()));
  std::int64_t nonfinite = 0;
  update.clipped = 0;
  for (std::size_t first = 0; first < theta.size(); first += kQuantizeRun) {
    const std::size_t n = std::min(kQuantizeRun, theta.size() - first);
    const std::span<float> delta(run.data(), n);
    if (auto st = node.local.model->take_parameter_difference(
            std::span<const float>(theta).subspan(first, n), delta,
            static_cast<std::int64_t>(first));
        !st) {
      return st;
    }
    auto quantized =
        aggregate::quantize(delta, std::span(update.q).subspan(first, n), node.aggregate.quantize);
    if (!quantized) return quantized.error();
    update.clipped += quantized->clipped;
    nonfinite += quantized->nonfinite;
  }
  check_finite(height, update, nonfinite, theta.size());
  return {};
}

}  // namespace

// Where no attack pools deltas across clients, a member is attacked and quantized as soon as
// it is trained, and one float buffer serves every member: a client costs its training and
// a pass or two over theta, not d more floats of memory; with neither an attack on it nor
// DP, it is quantized straight from its parameters (quantize_from_parameters).
// alie pools every colluder's delta, so there each member keeps its delta until all are
// trained.
Result<std::vector<MemberUpdate>> train_members(Node& node, std::uint64_t height,
                                                std::span<const std::uint32_t> members,
                                                std::size_t cohort_size, io::MetricsRow& row) {
  faults::RoundFaults& faults = *node.local.faults;
  const bool pooled = faults.pools_deltas();
  const bool clipped_by_dp = node.privacy && node.privacy->dp;
  std::vector<MemberUpdate> updates;
  std::vector<float>& delta = node.local.member_delta;
  auto& spares = node.local.spare_updates;
  bool model_holds_theta = false;
  for (const std::uint32_t client : members) {
    MemberUpdate& update = updates.emplace_back();
    update.client = client;
    if (!spares.empty()) {
      update.q = std::move(spares.back());
      spares.pop_back();
    }
    if (auto st = timed(
            row.train_s,
            [&] { return train_member(node, height, client, model_holds_theta, update.trained); });
        !st) {
      return st.error();
    }
    if (!pooled && !clipped_by_dp && !faults.alters_update(client)) {
      if (auto st =
              timed(row.quantize_s, [&] { return quantize_from_parameters(node, height, update); });
          !st) {
        return st.error();
      }
      model_holds_theta = true;
      continue;
    }
    model_holds_theta = false;
    std::vector<float>& trained_delta = pooled ? update.delta : delta;
    if (auto st = timed(row.train_s,
                        [&] {
                          trained_delta.resize(node.global.theta.size());
                          return node.local.model->get_parameter_difference(node.global.theta,
                                                                            trained_delta);
                        });
        !st) {
      return st.error();
    }
    if (pooled) continue;
    faults::ClientDelta attacked{client, delta};
    if (auto st = timed(row.train_s,
                        [&] {
                          return faults.on_updates(height, {&attacked, 1}, cohort_size);
                        });
        !st) {
      return st.error();
    }
    if (auto st =
            timed(row.quantize_s, [&] { return quantize_member(node, height, update, delta); });
        !st) {
      return st.error();
    }
  }
  if (!pooled) return updates;
  std::vector<faults::ClientDelta> deltas;
  for (auto& update : updates) deltas.push_back({update.client, update.delta});
  if (auto st = timed(row.train_s, [&] { return faults.on_updates(height, deltas, cohort_size); });
      !st) {
    return st.error();
  }
  for (auto& update : updates) {
    if (auto st = timed(row.quantize_s,
                        [&] { return quantize_member(node, height, update, update.delta); });
        !st) {
      return st.error();
    }
    update.delta = {};
  }
  return updates;
}

void keep_update_buffers(Node& node, std::span<MemberUpdate> updates) {
  for (auto& update : updates) node.local.spare_updates.push_back(std::move(update.q));
}

namespace {

// Every rank learns which cohort members' training went non-finite this round (NaN or
// infinite loss or update, e.g. a learning rate too high). fedavg cannot leave an update
// out of its sum, so the run stops on every rank naming them; a robust rule (allgather)
// leaves them out of the round: they have no transaction in its block.
Result<std::vector<std::uint32_t>> nonfinite_clients(const Node& node, std::uint64_t height,
                                                     std::span<const MemberUpdate> updates,
                                                     std::span<const std::uint32_t> cohort) {
  std::vector<std::uint32_t> mine;
  for (const auto& update : updates) {
    if (!update.finite) mine.push_back(update.client);
  }
  auto by_rank = node.comm->gather_ids(mine, cohort.size());
  if (!by_rank) return by_rank.error();
  // A rank speaks only for the cohort members it hosts.
  std::vector<std::uint32_t> listed;
  for (std::size_t r = 0; r < by_rank->size(); ++r) {
    for (const std::uint32_t c : (*by_rank)[r]) {
      if (is_host(node, c, r) && std::binary_search(cohort.begin(), cohort.end(), c)) {
        listed.push_back(c);
      }
    }
  }
  std::sort(listed.begin(), listed.end());
  listed.erase(std::unique(listed.begin(), listed.end()), listed.end());
  if (listed.empty()) return listed;
  const std::string names = fmt::format("{}", fmt::join(listed, ", "));
  const auto what_to_do = fmt::format(
      "lower train.lr (now {}) or check the data, then start a new run (the job file is "
      "part of the chain)",
      node.local.options.lr_at(static_cast<std::int64_t>(height) - 1));
  const bool every = listed.size() == cohort.size();
  if (every || node.aggregate.exchange == aggregate::Exchange::kAllreduce) {
    Error error = runtime_error(
        "round {}: local training went non-finite (NaN or infinite loss or update) on "
        "client(s) {}; {}: {}",
        height, names,
        every ? "no client is left to aggregate"
              : "fedavg's allreduce exchange cannot leave an update out (a robust rule, "
                "aggregate.rule = \"median\", leaves such updates out of their round)",
        what_to_do);
    error.every_rank = true;  // every rank holds the same list
    return error;
  }
  spdlog::warn("round {}: client(s) {} went non-finite; left out of this round ({})", height, names,
               what_to_do);
  if (node.rank == 0) {
    std::printf(
        "round %llu: client(s) %s went non-finite (NaN or infinite); left out of this round\n",
        static_cast<unsigned long long>(height), names.c_str());
    std::fflush(stdout);
  }
  return listed;
}

// 4. With a chain, each member's commitment to its update: its Merkle root in a
// transaction the hosting rank signs.
void sign_updates(const Node& node, std::uint64_t height, std::span<MemberUpdate> updates) {
  const std::vector<Hash32> roots = update_roots_to_sign(node, height, updates);
  std::size_t signed_count = 0;
  for (auto& update : updates) {
    if (!update.finite) continue;  // it has no transaction: nothing of it counts
    ledger::TxBuilder tx;
    tx.chain_id = node.chain->participant->genesis().chain_id();
    tx.height = height;
    tx.client = update.client;
    tx.rank = static_cast<std::uint32_t>(node.rank);
    tx.weight = static_cast<std::uint64_t>(node.clients.samples[update.client]);
    tx.update_root = roots[signed_count++];
    tx.loss = update.trained.mean_loss;
    tx.samples = static_cast<std::uint64_t>(update.trained.samples_seen);
    update.tx = tx.sign(node.chain->key);
  }
}

// 6a. allreduce (fedavg, trusting every rank): each rank sums w_k * q_k over the counted
// members it hosts, one int64 allreduce adds the ranks' partial sums (exact, so the order
// does not matter), then the average over the counted clients' total weight.
Result<RoundAggregate> fedavg_by_allreduce(const Node& node, std::uint64_t height,
                                           std::span<const MemberUpdate> updates, Participation who,
                                           io::MetricsRow& row) {
  const std::size_t d = node.global.theta.size();
  auto sum = timed(row.exchange_s, [&]() -> Result<std::vector<std::int64_t>> {
    std::vector<std::int64_t> partial(d, 0);
    for (const auto& update : updates) {
      if (!std::binary_search(who.counted.begin(), who.counted.end(), update.client)) continue;
      // The same arithmetic `fedchain verify` recomputes the sum with from the archive.
      const auto weight = aggregation_weight(node, update.client);
      if (auto st = aggregate::add_weighted(partial, weight, update.q); !st) return st.error();
    }
    return sum_over_ranks(node, height, partial);  // masked with secure aggregation
  });
  if (!sum) return sum.error();
  return timed(row.aggregate_s, [&]() -> Result<RoundAggregate> {
    auto averaged = average_of_sum(node, *sum, who.counted);
    if (!averaged) return averaged.error();
    return RoundAggregate{std::move(*averaged), std::move(who.txs), {}, d * sizeof(std::int64_t)};
  });
}

// 6b. allgather (robust rules, Byzantine ranks): every counted member's update, taken only
// from its host and only once; with a chain it must hash to the root its transaction
// signed, or it is left out. The rule may leave out more: those are the block's rejected
// clients.
Result<RoundAggregate> robust_by_allgather(const Node& node, std::span<const MemberUpdate> updates,
                                           const Participation& who, std::uint64_t height,
                                           io::MetricsRow& row) {
  const std::size_t d = node.global.theta.size();
  std::vector<std::uint32_t> sent_clients;
  std::vector<std::int32_t> sent_values;
  for (const auto& update : updates) {
    if (!std::binary_search(who.counted.begin(), who.counted.end(), update.client)) continue;
    sent_clients.push_back(update.client);
    sent_values.insert(sent_values.end(), update.q.begin(), update.q.end());
  }
  auto all = timed(row.exchange_s, [&] {
    return node.comm->gather_updates(sent_clients, sent_values, d, who.counted.size());
  });
  if (!all) return all.error();
  return timed(row.aggregate_s, [&]() -> Result<RoundAggregate> {
    // (counted) each counted client's update from its host; a host that sent two loses both.
    std::vector<const std::int32_t*> from_host(who.counted.size(), nullptr);
    std::vector<bool> conflicting(who.counted.size(), false);
    for (std::size_t i = 0; i < all->clients.size(); ++i) {
      const std::uint32_t client = all->clients[i];
      const auto at = std::lower_bound(who.counted.begin(), who.counted.end(), client);
      if (at == who.counted.end() || *at != client) continue;  // not counted
      if (!is_host(node, client, static_cast<std::size_t>(all->senders[i]))) continue;
      const auto k = static_cast<std::size_t>(at - who.counted.begin());
      conflicting[k] = conflicting[k] || from_host[k] != nullptr;
      from_host[k] = all->values.data() + i * d;
    }
    RoundAggregate out;
    out.update_bytes_sent = sent_values.size() * sizeof(std::int32_t);
    std::vector<aggregate::Update> client_updates;
    for (std::size_t k = 0; k < who.counted.size(); ++k) {
      const std::uint32_t client = who.counted[k];
      if (from_host[k] == nullptr || conflicting[k]) {
        spdlog::warn("height {}: no single update for client {} came from its host; left out",
                     height, client);
        continue;
      }
      const std::span<const std::int32_t> values(from_host[k], d);
      if (!who.txs.empty()) {
        const ledger::Tx& tx = who.txs[k];
        if (update_root_of(values, node.job) != tx.update_root()) {
          spdlog::warn(
              "height {}: client {}'s update from rank {} does not hash to the root {} it "
              "signed; left out",
              height, client, tx.rank(), tx.update_root().short_hex());
          continue;
        }
        out.txs.push_back(tx);
      }
      client_updates.push_back({client, node.clients.samples[client], values});
    }
    auto result = aggregate::aggregate(node.aggregate, client_updates);
    if (!result) return result.error();
    out.result = std::move(*result);
    const auto& selected = out.result.selected_ranks;
    for (const auto& tx : out.txs) {
      if (std::find(selected.begin(), selected.end(), tx.client()) == selected.end()) {
        out.rejected_clients.push_back(tx.client());
      }
    }
    return out;
  });
}

// 6. The exchange and the aggregate, by the job's exchange mode.
Result<RoundAggregate> exchange_and_aggregate(const Node& node, std::uint64_t height,
                                              std::span<const MemberUpdate> updates,
                                              Participation who, io::MetricsRow& row) {
  if (node.aggregate.exchange == aggregate::Exchange::kAllreduce) {
    return fedavg_by_allreduce(node, height, updates, std::move(who), row);
  }
  return robust_by_allgather(node, updates, who, height, row);
}

// 7. theta_{h+1} = theta_h + dequantize(A) and its state root, built apart from
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

// 9. The round's reporting: the cohort, samples trained, mean training loss over the
// counted members (weighted by samples; a non-finite one left out), clipping, and on
// evaluation rounds the test metrics.
Status report_round(Node& node, std::span<const MemberUpdate> updates, std::size_t cohort_size,
                    io::MetricsRow& row) {
  double loss_sum = 0;
  double seen = 0;
  double clipped = 0;
  for (const auto& update : updates) {
    clipped += static_cast<double>(update.clipped);
    if (!update.finite) continue;
    const auto samples = static_cast<double>(update.trained.samples_seen);
    loss_sum += update.trained.mean_loss * samples;
    seen += samples;
  }
  auto sums = node.comm->sum_for_report({loss_sum, seen, clipped});
  if (!sums) return sums.error();
  row.train_loss = (*sums)[0] / std::max(1.0, (*sums)[1]);
  row.samples_trained = static_cast<std::int64_t>((*sums)[1]);
  row.clipped = static_cast<std::int64_t>((*sums)[2]);
  row.cohort = static_cast<std::int64_t>(cohort_size);
  row.state_root = node.global.state_root.hex();
  row.test_loss = row.test_acc = std::nan("");
  const std::uint64_t height = node.global.height;
  if (height % static_cast<std::uint64_t>(node.job.job.eval_every) == 0 ||
      height == static_cast<std::uint64_t>(node.job.job.rounds)) {
    return timed(row.eval_s, [&] { return evaluate(node, row); });
  }
  return {};
}

// 9. Store: a checkpoint and the clients' table every `checkpoint.every` heights and at the
// last.
Status store_round(const Node& node) {
  const std::uint64_t height = node.global.height;
  const auto every = static_cast<std::uint64_t>(node.job.checkpoint.every);
  if ((every > 0 && height % every == 0) ||
      height == static_cast<std::uint64_t>(node.job.job.rounds)) {
    if (auto st = write_node_checkpoint(node); !st) return st;
    return write_clients_csv(node);
  }
  return {};
}

}  // namespace

std::vector<std::uint32_t> cohort_of(const Node& node, const Hash32& previous_root) {
  std::vector<std::uint64_t> samples(node.clients.samples.begin(), node.clients.samples.end());
  return ledger::draw_cohort(node.clients.cohort, samples,
                             ledger::cohort_seed(node.clients.seed, previous_root));
}

Result<std::optional<io::MetricsRow>> run_round(Node& node) {
  const auto round_start = std::chrono::steady_clock::now();
  const std::uint64_t height = node.global.height + 1;
  const bool replay = node.chain && height <= node.chain->committed.size();
  io::MetricsRow row;
  row.height = height;
  const bool live_chain = node.chain && !replay;
  const RoundRole role = live_chain ? round_role(node) : RoundRole{};
  const auto work_before =
      live_chain ? consensus_work(node) : std::pair<std::uint64_t, std::uint64_t>{};

  const std::vector<std::uint32_t> cohort = cohort_of(node, node.global.state_root);
  std::vector<std::uint32_t> members;
  for (const std::uint32_t c : cohort) {
    if (node.local.shards.count(c) != 0) members.push_back(c);
  }
  auto updates = train_members(node, height, members, cohort.size(), row);
  if (!updates) return updates.error();
  auto nonfinite =
      timed(row.quantize_s, [&] { return nonfinite_clients(node, height, *updates, cohort); });
  if (!nonfinite) return nonfinite.error();
  if (node.chain && !replay) timed(row.hash_s, [&] { sign_updates(node, height, *updates); });
  // ledger.archive_updates: every q_k on disk before its transaction leaves this rank.
  if (auto st = timed(row.store_s, [&] { return archive_updates(node, height, *updates); }); !st) {
    return st.error();
  }
  auto who = timed(row.exchange_s, [&] {
    return decide_participation(node, height, *updates, cohort, *nonfinite, replay, role);
  });
  if (!who) return who.error();
  const std::uint64_t tx_bytes = who->tx_bytes_sent;
  auto aggregated = exchange_and_aggregate(node, height, *updates, std::move(*who), row);
  if (!aggregated) return aggregated.error();
  row.bytes_sent = tx_bytes + aggregated->update_bytes_sent;
  row.epsilon = epsilon_after(node, height);

  auto next = timed(row.aggregate_s,
                    [&] { return next_model(node, aggregated->result.values, height, replay); });
  if (!next) return next.error();
  if (replay) {
    if (auto st = check_replayed_root(node, *next); !st) return st.error();
  } else if (node.chain) {
    auto committed =
        timed(row.consensus_s, [&] { return agree_on_block(node, role, *next, *aggregated, row); });
    if (!committed) return committed.error();
    if (!*committed) return std::optional<io::MetricsRow>();
    if (auto st = report_consensus_work(node, role.votes, work_before, row); !st) {
      return st.error();
    }
  }

  node.global = std::move(*next);
  if (auto st = report_round(node, *updates, cohort.size(), row); !st) return st.error();
  keep_update_buffers(node, *updates);
  if (auto st = timed(row.store_s, [&] { return store_round(node); }); !st) return st.error();
  row.round_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - round_start).count();
  return std::optional<io::MetricsRow>(std::move(row));
}

Status write_clients_csv(const Node& node) {
  Status written;
  if (node.rank == 0 && node.chain) {
    std::string csv = "client,samples,rounds,samples_trained,last_loss,updates_accepted\n";
    const auto& records = node.chain->client_records;
    for (std::size_t k = 0; k < records.size(); ++k) {
      const auto& r = records[k];
      csv += fmt::format(
          "{},{},{},{},{},{}\n", k, node.clients.samples[k], r.rounds, r.samples,
          std::isnan(r.last_loss) ? std::string() : fmt::format("{:.6g}", r.last_loss), r.accepted);
    }
    written = write_file_atomically(node.run_dir.clients_csv(), as_bytes(csv));
  }
  return node.comm->agree(written);
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
