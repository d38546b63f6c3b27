// Seeded randomness with the same bits on every standard library: std::mt19937_64's output
// is fixed by the standard, but std::uniform_*_distribution and std::shuffle are not, so
// fedchain derives its own uniforms and shuffles from the raw engine bits.
#pragma once

#include <cstdint>
#include <random>
#include <span>

namespace fedchain::train {

// SplitMix64 of (seed, rank, round): independent streams per rank and round from the job
// seed, so a rank's batch order is the same however many ranks run beside it.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t rank, std::uint64_t round);

class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}

  std::uint64_t bits() { return engine_(); }
  // Uniform in [0, 1) from the top 53 bits.
  double uniform() { return static_cast<double>(bits() >> 11) * 0x1.0p-53; }
  // Uniform in [low, high).
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  // Uniform integer in [0, n), n > 0, without modulo bias (rejection).
  std::uint64_t below(std::uint64_t n);
  // Fisher-Yates, from the last element down.
  void shuffle(std::span<std::int64_t> values);

 private:
  std::mt19937_64 engine_;
};

}  // namespace fedchain::train
