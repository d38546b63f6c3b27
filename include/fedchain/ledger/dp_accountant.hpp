// The privacy spent by DP-FedAvg: an RDP accountant for the sampled Gaussian mechanism
// (Mironov, Talwar and Zhang 2019, "Renyi differential privacy of the sampled Gaussian
// mechanism"), the computation of TensorFlow Privacy's and dp_accounting's RDP accountant
// for integer and fractional orders, converted to (epsilon, delta) with Proposition 12 of
// Canonne, Kamath and Steinke 2020 (as dp_accounting's compute_epsilon). Every
// transcendental goes through core/portable_math.hpp, never libm, so an epsilon is the same bits
// on every machine: the chain state votes on it (epsilon_micro; docs/privacy.md,
// "Accounting"), and metrics, verify and the report print that one number.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace fedchain::ledger {

struct PrivacySpent {
  double epsilon = 0;  // +inf when no order gives a finite bound (noise multiplier 0)
  double order = 0;    // the RDP order that gave it
};

// The sampling rate of `sampled` clients of `clients` a round: exactly 1 when every client
// is sampled, else the quotient (one IEEE division, so the same bits everywhere).
double sampling_rate(std::uint64_t sampled, std::uint64_t clients);

class RdpAccountant {
 public:
  // One step: the Gaussian mechanism of noise multiplier z on a Poisson sample of rate q
  // (q = 1: no sampling).
  RdpAccountant(double sampling_rate, double noise_multiplier);

  // (epsilon, delta) after `steps` steps: RDP composes by adding, so steps * rdp(one step).
  PrivacySpent spent(std::uint64_t steps, double delta) const;

  // The first step count whose voted epsilon (epsilon_of_micro(epsilon_micro(...))) exceeds
  // `target`, or 0 if none up to `max_steps`.
  std::uint64_t first_step_past(double target, double delta, std::uint64_t max_steps) const;

  // The orders: dp_accounting's defaults, 1.1 to 10.9 by 0.1, 11 to 63, 128, 256, 512, 1024.
  static const std::vector<double>& orders();
  // RDP of one step at each order (+inf where the series did not converge: left out).
  const std::vector<double>& rdp_per_step() const { return rdp_; }

 private:
  std::vector<double> rdp_;
};

// The epsilon the chain votes on, in millionths rounded up: ceil(epsilon * 10^6), an integer
// so that it hashes the same everywhere, rounded up so that it never understates the spend.
// +inf (no noise), or anything past 2^64 - 2, is kEpsilonMicroUnbounded.
inline constexpr std::uint64_t kEpsilonMicroUnbounded = std::numeric_limits<std::uint64_t>::max();
std::uint64_t epsilon_micro(double epsilon);
// Back to epsilon (micro / 10^6; +inf for kEpsilonMicroUnbounded): what is printed.
double epsilon_of_micro(std::uint64_t micro);

}  // namespace fedchain::ledger
