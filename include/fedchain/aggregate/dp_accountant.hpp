// The privacy spent by DP-FedAvg: an RDP accountant for the sampled Gaussian mechanism
// (Mironov, Talwar and Zhang 2019, "Renyi differential privacy of the sampled Gaussian
// mechanism"), the computation of TensorFlow Privacy's and dp_accounting's RDP accountant
// for integer and fractional orders, converted to (epsilon, delta) with Proposition 12 of
// Canonne, Kamath and Steinke 2020 (as dp_accounting's compute_epsilon). Floating point
// through libm: reported and recomputed, never voted on (docs/privacy.md, "Accounting").
#pragma once

#include <cstdint>
#include <vector>

namespace fedchain::aggregate {

struct PrivacySpent {
  double epsilon = 0;  // +inf when no order gives a finite bound (noise multiplier 0)
  double order = 0;    // the RDP order that gave it
};

class RdpAccountant {
 public:
  // One step: the Gaussian mechanism of noise multiplier z on a Poisson sample of rate q
  // (q = 1: no sampling).
  RdpAccountant(double sampling_rate, double noise_multiplier);

  // (epsilon, delta) after `steps` steps: RDP composes by adding, so steps * rdp(one step).
  PrivacySpent spent(std::uint64_t steps, double delta) const;

  // The first step count whose epsilon exceeds `target`, or 0 if none up to `max_steps`.
  std::uint64_t first_step_past(double target, double delta, std::uint64_t max_steps) const;

  // The orders: dp_accounting's defaults, 1.1 to 10.9 by 0.1, 11 to 63, 128, 256, 512, 1024.
  static const std::vector<double>& orders();
  // RDP of one step at each order (+inf where the series did not converge: left out).
  const std::vector<double>& rdp_per_step() const { return rdp_; }

 private:
  std::vector<double> rdp_;
};

}  // namespace fedchain::aggregate
