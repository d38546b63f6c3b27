// The [privacy] side of a rank (docs/privacy.md): DP-FedAvg's clipping, noise shares and
// fixed-denominator average (privacy.cpp), and secure aggregation's pairwise masks
// (secure_aggregation.cpp). The round calls the hooks below; each does nothing the job did
// not ask for, so a job without [privacy] runs as before.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "fedchain/aggregate/privacy.hpp"
#include "fedchain/aggregate/rules.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/job.hpp"
#include "fedchain/crypto/ed25519.hpp"
#include "fedchain/crypto/secret_stream.hpp"
#include "fedchain/ledger/dp_accountant.hpp"

namespace fedchain::node {

struct Node;

// Set up by start_privacy when privacy.dp or privacy.secure_aggregation is on.
struct RankPrivacy {
  crypto::KeySeed rank_secret{};                    // this rank's signing key seed
  std::optional<aggregate::DpParams> dp;            // privacy.dp
  std::optional<ledger::RdpAccountant> accountant;  // privacy.dp
  // privacy.secure_aggregation: (ranks) the mask key this rank shares with each other rank
  // (its own entry unused); empty otherwise.
  std::vector<crypto::SecretKey> pair_keys;
};

// privacy.dp before anything is written: the noise must fit the clip bound, and
// privacy.target_epsilon the job's rounds (a config error naming the round at which epsilon
// would pass it).
Status check_privacy_job(const Job& job, int ranks);

// Collective: this rank's key, the mechanism and accountant, and with secure aggregation
// the pair keys every two ranks agree on. Sets node.privacy; does nothing without [privacy].
Status start_privacy(Node& node);

// Round hooks. Before quantizing: privacy.dp clips a client's float update to privacy.clip in
// L2. After: it adds the client's noise share to q, returning the coordinates the clip
// bound cut.
void clip_update(const Node& node, std::span<float> delta);
std::int64_t add_noise_share(const Node& node, std::uint64_t height, std::uint32_t client,
                             std::span<std::int32_t> q);
// A client's weight in fedavg's sum: 1 under privacy.dp (each client's sensitivity is the
// clip), else its samples.
std::int64_t aggregation_weight(const Node& node, std::uint32_t client);
// The sum over ranks of the partial sums: with secure aggregation each rank's is masked,
// summed modulo 2^64, and the masks cancel; else the plain int64 allreduce.
Result<std::vector<std::int64_t>> sum_over_ranks(const Node& node, std::uint64_t height,
                                                 std::span<std::int64_t> partial);
// The average of that sum: by the fixed denominator under privacy.dp, else by the counted
// clients' weights.
Result<aggregate::AggregateResult> average_of_sum(const Node& node,
                                                  std::span<const std::int64_t> sum,
                                                  std::span<const std::uint32_t> counted);
// Epsilon after `height` rounds (NaN without privacy.dp): the value the chain state votes on
// at that height (ledger::epsilon_micro, as a number).
double epsilon_after(const Node& node, std::uint64_t height);

// secure_aggregation.cpp. Collective: every pair of ranks agrees on a mask key through
// X25519, each rank's agreement key signed by its Ed25519 key (the one genesis records).
Result<std::vector<crypto::SecretKey>> agree_pair_keys(const Node& node,
                                                       const crypto::SigningKey& key);
// Adds rank `self`'s masks for `height` to `partial` modulo 2^64: for each other rank r the
// ChaCha20 words of their pair key (pair_keys[r]) and the height, added by the lower rank
// of the two and subtracted by the higher, so that over all ranks they cancel.
void add_masks(std::span<const crypto::SecretKey> pair_keys, std::size_t self, std::uint64_t height,
               std::span<std::uint64_t> partial);

}  // namespace fedchain::node
