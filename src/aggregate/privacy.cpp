// Clipping, the discrete Gaussian and DP-FedAvg's aggregate (privacy.hpp).
#include "fedchain/aggregate/privacy.hpp"

#include <algorithm>
#include <cmath>

#include "fedchain/aggregate/fixed_point.hpp"
#include "fedchain/core/encoding.hpp"

namespace fedchain::aggregate {

namespace {

__extension__ using U128 = unsigned __int128;

// Bits needed to write v (0 for 0).
int bit_length(U128 v) {
  const auto high = static_cast<std::uint64_t>(v >> 64);
  const auto low = static_cast<std::uint64_t>(v);
  if (high != 0) return 128 - __builtin_clzll(high);
  return low != 0 ? 64 - __builtin_clzll(low) : 0;
}

// Uniform in [0, n) for 1 <= n < 2^127: one word (two above 2^64) masked to n's bit
// length, rejected at >= n (fewer than half the draws are rejected).
U128 uniform_below(crypto::KeyStream& bits, U128 n) {
  const int length = bit_length(n - 1);
  if (length <= 64) {
    const std::uint64_t mask = length == 0 ? 0 : (~std::uint64_t{0} >> (64 - length));
    for (;;) {
      const U128 draw = bits.next() & mask;
      if (draw < n) return draw;
    }
  }
  const U128 mask = ~U128{0} >> (128 - length);
  for (;;) {
    const U128 draw = ((U128{bits.next()} << 64) | bits.next()) & mask;
    if (draw < n) return draw;
  }
}

// Bernoulli(num / den), 0 <= num <= den.
bool bernoulli(crypto::KeyStream& bits, U128 num, U128 den) {
  return uniform_below(bits, den) < num;
}

// Bernoulli(exp(-num / den)) (Canonne, Kamath and Steinke 2020, Algorithm 1): for a ratio
// in [0, 1], the parity of the first K with a failed Bernoulli(ratio / K); above 1, one
// Bernoulli(exp(-1)) per whole unit, then the fraction. den * K stays below 2^127 for any
// K the loop can reach with a probability above 2^-100; beyond, the draw counts as failed.
bool bernoulli_exp(crypto::KeyStream& bits, U128 num, U128 den) {
  if (num > den) {
    for (U128 whole = num / den; whole > 0; --whole) {
      if (!bernoulli_exp(bits, 1, 1)) return false;
    }
    return bernoulli_exp(bits, num % den, den);
  }
  constexpr U128 kLimit = U128{1} << 126;
  U128 k = 1;
  while (den <= kLimit / k && bernoulli(bits, num, den * k)) ++k;
  return (k & 1) == 1;
}

// floor(sqrt(v)) for 0 <= v <= 2^62, exact: the double estimate corrected by integer steps.
std::int64_t integer_sqrt(std::int64_t v) {
  auto r = static_cast<std::int64_t>(std::sqrt(static_cast<double>(v)));
  while (r * r > v) --r;
  while ((r + 1) * (r + 1) <= v) ++r;
  return r;
}

}  // namespace

Result<DpParams> make_dp_params(const PrivacySection& privacy, std::int64_t per_round,
                                std::int64_t total, const QuantizeParams& quantize,
                                std::size_t parameters) {
  DpParams params;
  params.clip = privacy.clip;
  params.noise_multiplier = privacy.noise_multiplier;
  params.delta = privacy.delta;
  params.denominator = per_round;
  params.sampling_rate =
      per_round >= total ? 1.0 : static_cast<double>(per_round) / static_cast<double>(total);
  const double unit = fixed::power_of_two(quantize.scale_bits);
  const double clip_units = privacy.clip * unit;
  const double sensitivity = clip_units + std::sqrt(static_cast<double>(parameters)) / 2.0;
  const double sigma = privacy.noise_multiplier * sensitivity;
  const double share_variance = std::ceil(sigma * sigma / static_cast<double>(per_round));
  const double bound = static_cast<double>(quantize.clip_bound);
  if (!(clip_units + 10.0 * std::sqrt(share_variance) <= bound)) {
    return config_error(
        "privacy.clip = {} with privacy.noise_multiplier = {} over {} clients a round gives each "
        "client noise of deviation {:.4g} units, but aggregate.clip * 2^aggregate.scale_bits = "
        "{} units would cut it (it must reach privacy.clip * 2^scale_bits + 10 deviations = "
        "{:.4g}): raise aggregate.clip, or lower privacy.clip or privacy.noise_multiplier",
        privacy.clip, privacy.noise_multiplier, per_round, std::sqrt(share_variance),
        quantize.clip_bound, clip_units + 10.0 * std::sqrt(share_variance));
  }
  params.share_variance = static_cast<std::int64_t>(share_variance);
  return params;
}

double clip_l2(std::span<float> delta, double clip) {
  double squares = 0;
  for (const float v : delta) squares += static_cast<double>(v) * static_cast<double>(v);
  const double norm = std::sqrt(squares);
  if (norm > clip) {
    const double scale = clip / norm;
    for (float& v : delta) v = static_cast<float>(static_cast<double>(v) * scale);
  }
  return norm;
}

DiscreteGaussian::DiscreteGaussian(std::int64_t sigma2)
    : sigma2_(sigma2), t_(integer_sqrt(sigma2) + 1) {}

std::int64_t DiscreteGaussian::operator()(crypto::KeyStream& bits) const {
  const auto t = static_cast<U128>(t_);
  const auto s2 = static_cast<U128>(sigma2_);
  for (;;) {
    // A discrete Laplace of scale t (Algorithm 2): U + t V, a random sign, 0 once.
    const U128 u = uniform_below(bits, t);
    if (!bernoulli_exp(bits, u, t)) continue;
    U128 v = 0;
    while (v <= 64 && bernoulli_exp(bits, 1, 1)) ++v;
    const U128 y = u + t * v;
    const bool negative = (bits.next() & 1) != 0;
    if (y > 64 * t || (negative && y == 0)) continue;
    // Accepted with probability exp(-(|Y| - sigma2 / t)^2 / (2 sigma2)), as integers:
    // (|Y| t - sigma2)^2 / (2 sigma2 t^2).
    const U128 gap = y * t > s2 ? y * t - s2 : s2 - y * t;
    if (!bernoulli_exp(bits, gap * gap, 2 * s2 * t * t)) continue;
    const auto magnitude = static_cast<std::int64_t>(y);
    return negative ? -magnitude : magnitude;
  }
}

crypto::SecretKey noise_key(ByteView rank_secret, std::uint64_t job_seed, std::uint32_t client,
                            std::uint64_t height) {
  Writer info;
  info.u64(job_seed).u32(client).u64(height);
  return crypto::hkdf_sha256(rank_secret, as_bytes("fedchain/dp-noise/v1"), info.data());
}

std::int64_t add_noise_share(std::span<std::int32_t> q, const DpParams& params,
                             std::int32_t clip_bound, const crypto::SecretKey& key, int threads) {
  if (params.share_variance == 0) return 0;
  const DiscreteGaussian noise(params.share_variance);
  const auto chunks = static_cast<std::int64_t>((q.size() + kNoiseChunk - 1) / kNoiseChunk);
  std::int64_t cut = 0;
#pragma omp parallel for schedule(static) num_threads(threads) reduction(+ : cut) \
    if (threads > 1 && chunks > 1)
  for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
    crypto::KeyStream bits(key, static_cast<std::uint64_t>(chunk));
    const std::size_t begin = static_cast<std::size_t>(chunk) * kNoiseChunk;
    for (auto& value : q.subspan(begin, std::min(kNoiseChunk, q.size() - begin))) {
      const std::int64_t noisy = std::int64_t{value} + noise(bits);
      const std::int64_t clamped = std::clamp<std::int64_t>(noisy, -clip_bound, clip_bound);
      cut += clamped != noisy;
      value = static_cast<std::int32_t>(clamped);
    }
  }
  return cut;
}

Result<AggregateResult> private_fedavg_over_sum(std::span<const std::int64_t> sum,
                                                std::span<const std::uint32_t> counted,
                                                std::int64_t denominator) {
  AggregateResult out;
  out.selected_ranks.assign(counted.begin(), counted.end());
  out.values.resize(sum.size());
  if (auto st = fedavg_from_sum(sum, denominator, out.values); !st) return st.error();
  return out;
}

}  // namespace fedchain::aggregate
