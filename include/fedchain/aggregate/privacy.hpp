// Client-level differential privacy in the integer domain (docs/privacy.md): DP-FedAvg
// (McMahan et al. 2018) with the noise split over the clients as shares of a distributed
// discrete Gaussian (Kairouz et al. 2021), each share drawn exactly (Canonne, Kamath and
// Steinke 2020) from a stream only the client's host can derive. The sum of updates stays
// an exact integer, so the aggregate is the same bits on every rank (docs/architecture.md,
// invariant 1).
#pragma once

#include <cstdint>
#include <span>

#include "fedchain/aggregate/quantize.hpp"
#include "fedchain/aggregate/rules.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/job.hpp"
#include "fedchain/crypto/secret_stream.hpp"

namespace fedchain::aggregate {

// The mechanism of a job with privacy.dp, fixed at start.
struct DpParams {
  double clip = 1.0;              // C_2: the L2 norm each client's float update is clipped to
  double noise_multiplier = 1.0;  // z: the noise on the sum has std z * sensitivity
  double delta = 1e-5;
  std::int64_t denominator = 1;  // fixed denominator of the average: clients per round
  double sampling_rate = 1.0;    // q = clients per round / clients, for the accountant
  // Each client's noise share: N_Z(0, share_variance) per coordinate, in units^2, with
  // share_variance = ceil((z * sensitivity)^2 / denominator), sensitivity =
  // clip * 2^s + sqrt(d) / 2 units (the clip, plus what rounding to units can add).
  std::int64_t share_variance = 0;
};

// From the job, its client counts (per round, total), the fixed point and the parameter
// count. Refuses (config errors naming the keys) a clip bound B = aggregate.clip * 2^s
// below clip * 2^s + 10 noise-share deviations: the noise would be cut at B.
Result<DpParams> make_dp_params(const PrivacySection& privacy, std::int64_t per_round,
                                std::int64_t total, const QuantizeParams& quantize,
                                std::size_t parameters);

// delta *= clip / ||delta||_2 when the norm exceeds clip (the norm summed in double, in
// index order: the same bits for the same delta). Returns the norm before clipping.
double clip_l2(std::span<float> delta, double clip);

// The exact discrete Gaussian N_Z(0, sigma2) of integer variance sigma2 >= 1 (Canonne,
// Kamath and Steinke 2020, Algorithm 3, over its discrete Laplace), in integer arithmetic
// from a ChaCha20 stream. Values beyond 64 t (t = floor(sqrt(sigma2)) + 1, some 64
// deviations) are rejected to keep every product in 128 bits: a change of probability
// below e^-2000. sigma2 must be at most 2^56.
class DiscreteGaussian {
 public:
  explicit DiscreteGaussian(std::int64_t sigma2);
  std::int64_t operator()(crypto::KeyStream& bits) const;
  std::int64_t variance() const { return sigma2_; }

 private:
  std::int64_t sigma2_;
  std::int64_t t_;
};

// The secret key of `client`'s noise at `height`: HKDF-SHA256 of the hosting rank's private
// signing key seed, salt "fedchain/dp-noise/v1", info u64le job seed || u32le client ||
// u64le height. Not derivable from the chain; the same bits again after a resume.
crypto::SecretKey noise_key(ByteView rank_secret, std::uint64_t job_seed, std::uint32_t client,
                            std::uint64_t height);

// Coordinates per noise chunk: chunk c of q draws its noise from KeyStream(key, c), so the
// chunks can be drawn on any number of threads with the same bits.
inline constexpr std::size_t kNoiseChunk = 4096;

// q[j] = clamp(q[j] + n_j, -B, B), n_j ~ N_Z(0, params.share_variance), each chunk of
// kNoiseChunk coordinates in index order from its own stream, the chunks split over
// `threads` threads. Returns how many coordinates the clamp cut (make_dp_params makes that
// a 10-deviation event).
std::int64_t add_noise_share(std::span<std::int32_t> q, const DpParams& params,
                             std::int32_t clip_bound, const crypto::SecretKey& key,
                             int threads = 1);

// DP-FedAvg's aggregate from the int64 sum of the counted clients' noisy updates (unit
// weights): A[j] = round_half_even(sum[j] / denominator), the fixed denominator whatever
// the count. Selected: the counted clients.
Result<AggregateResult> private_fedavg_over_sum(std::span<const std::int64_t> sum,
                                                std::span<const std::uint32_t> counted,
                                                std::int64_t denominator);

}  // namespace fedchain::aggregate
