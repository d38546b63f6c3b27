// DP-FedAvg on a rank (privacy.hpp, docs/privacy.md): the hooks the round calls, the
// mechanism set up from the job and its clients, and the budget check at start.
#include "privacy.hpp"

#include <cmath>

#include <spdlog/spdlog.h>

#include "fedchain/crypto/key_file.hpp"
#include "node.hpp"

namespace fedchain::node {

namespace {

// Clients per round (C) and clients (K) as the job sets them on `ranks` ranks.
std::pair<std::int64_t, std::int64_t> client_counts(const Job& job, int ranks) {
  const std::int64_t total = job.clients.total > 0 ? job.clients.total : ranks;
  const std::int64_t per_round = job.clients.per_round > 0 ? job.clients.per_round : total;
  return {per_round, total};
}

// q as the chain state computes it from genesis (ledger::ChainState), so that the metrics'
// epsilon is the voted one.
ledger::RdpAccountant accountant_of(const Job& job, int ranks) {
  const auto [per_round, total] = client_counts(job, ranks);
  return ledger::RdpAccountant(ledger::sampling_rate(static_cast<std::uint64_t>(per_round),
                                                     static_cast<std::uint64_t>(total)),
                               job.privacy.noise_multiplier);
}

}  // namespace

Status check_privacy_job(const Job& job, int ranks) {
  const auto& privacy = job.privacy;
  if (!privacy.dp) return {};
  // The noise against the clip bound, without the rounding term (the parameter count is
  // not known yet): start_privacy checks again with it.
  auto quantize = aggregate::make_quantize_params(job.aggregate.scale_bits, job.aggregate.clip);
  if (!quantize) return quantize.error();
  const auto [per_round, total] = client_counts(job, ranks);
  if (auto params = aggregate::make_dp_params(privacy, per_round, total, *quantize, 0); !params) {
    return params.error();
  }
  if (privacy.target_epsilon <= 0) return {};
  const auto accountant = accountant_of(job, ranks);
  const auto rounds = static_cast<std::uint64_t>(job.job.rounds);
  const std::uint64_t past =
      accountant.first_step_past(privacy.target_epsilon, privacy.delta, rounds);
  if (past == 0) return {};
  return config_error(
      "privacy.target_epsilon = {}: epsilon passes it at round {} ({:.4g} at delta {}), before "
      "job.rounds = {} end; lower job.rounds below {}, or raise privacy.noise_multiplier, or "
      "lower clients.per_round",
      privacy.target_epsilon, past, accountant.spent(past, privacy.delta).epsilon, privacy.delta,
      rounds, past);
}

Status start_privacy(Node& node) {
  const PrivacySection& section = node.job.privacy;
  if (!section.dp && !section.secure_aggregation) return {};
  auto privacy = std::make_unique<RankPrivacy>();
  const crypto::KeySource source{node.job.keys.dir, node.job.keys.derive_from_seed,
                                 node.job.job.seed};
  auto key = crypto::load_rank_key(source, static_cast<std::uint32_t>(node.rank));
  Status ready = key ? Status{} : Status(key.error());
  if (key) privacy->rank_secret = key->seed();
  if (ready && section.dp) {
    const auto [per_round, total] = client_counts(node.job, node.ranks);
    auto params = aggregate::make_dp_params(section, per_round, total, node.aggregate.quantize,
                                            node.global.theta.size());
    if (params) {
      privacy->dp = *params;
      privacy->accountant.emplace(accountant_of(node.job, node.ranks));
    } else {
      ready = params.error();
    }
  }
  if (auto st = node.comm->agree(ready); !st) return st;
  if (section.secure_aggregation) {
    auto pair_keys = agree_pair_keys(node, *key);
    if (!pair_keys) return pair_keys.error();
    privacy->pair_keys = std::move(*pair_keys);
  }
  if (privacy->dp && node.rank == 0) {
    spdlog::info(
        "privacy.dp: clip {}, noise multiplier {}, q = {}, denominator {}, noise share {:.4g} "
        "units per client; epsilon after {} rounds {:.4g} at delta {}",
        privacy->dp->clip, privacy->dp->noise_multiplier, privacy->dp->sampling_rate,
        privacy->dp->denominator, std::sqrt(static_cast<double>(privacy->dp->share_variance)),
        node.job.job.rounds,
        privacy->accountant->spent(static_cast<std::uint64_t>(node.job.job.rounds), section.delta)
            .epsilon,
        section.delta);
  }
  node.privacy = std::move(privacy);
  return {};
}

void clip_update(const Node& node, std::span<float> delta) {
  if (node.privacy && node.privacy->dp) aggregate::clip_l2(delta, node.privacy->dp->clip);
}

std::int64_t add_noise_share(const Node& node, std::uint64_t height, std::uint32_t client,
                             std::span<std::int32_t> q) {
  if (!node.privacy || !node.privacy->dp) return 0;
  const auto key = aggregate::noise_key(
      node.privacy->rank_secret, static_cast<std::uint64_t>(node.job.job.seed), client, height);
  return aggregate::add_noise_share(q, *node.privacy->dp, node.aggregate.quantize.clip_bound, key,
                                    static_cast<int>(node.job.train.threads));
}

std::int64_t aggregation_weight(const Node& node, std::uint32_t client) {
  return node.privacy && node.privacy->dp ? 1 : node.clients.samples[client];
}

Result<std::vector<std::int64_t>> sum_over_ranks(const Node& node, std::uint64_t height,
                                                 std::span<std::int64_t> partial) {
  if (!node.privacy || node.privacy->pair_keys.empty()) return node.comm->sum(partial);
  std::vector<std::uint64_t> masked(partial.begin(), partial.end());
  add_masks(node.privacy->pair_keys, static_cast<std::size_t>(node.rank), height, masked);
  auto total = node.comm->sum_modular(masked);
  if (!total) return total.error();
  // The true sum fits in int64 (aggregate::check_bounds), so its residue modulo 2^64 is it.
  return std::vector<std::int64_t>(total->begin(), total->end());
}

Result<aggregate::AggregateResult> average_of_sum(const Node& node,
                                                  std::span<const std::int64_t> sum,
                                                  std::span<const std::uint32_t> counted) {
  if (node.privacy && node.privacy->dp) {
    return aggregate::private_fedavg_over_sum(sum, counted, node.privacy->dp->denominator);
  }
  return aggregate::fedavg_over_sum(sum, counted, node.clients.samples);
}

double epsilon_after(const Node& node, std::uint64_t height) {
  if (!node.privacy || !node.privacy->dp) return std::nan("");
  return ledger::epsilon_of_micro(ledger::epsilon_micro(
      node.privacy->accountant->spent(height, node.privacy->dp->delta).epsilon));
}

}  // namespace fedchain::node
