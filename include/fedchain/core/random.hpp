// Random draws that are bit-identical on every platform, for anything that must agree across
// ranks and machines (partitions, initial weights, batch order, attack noise: everything seeded by
// the job).
//
// WARNING: the std distributions (uniform_int_distribution, gamma_distribution, shuffle)
// are not specified bit for bit and differ between libstdc++, libc++ and MSVC; std::log and
// std::exp may differ in the last bit between libms. Only std::mt19937_64's raw output is
// fixed by the standard. So everything here is derived from those raw 64-bit words with
// IEEE-754 +, -, *, / and sqrt (all correctly rounded; contraction is off, see the top-level
// CMakeLists.txt), and log/exp are our own series (portable_math.hpp). Changing any formula here
// changes every partition: docs/data.md records the exact rules and tests pin golden values.
#pragma once

#include <cstdint>
#include <random>
#include <span>

namespace fedchain {

// SplitMix64 of (seed, rank, round): independent streams per rank and round from the job
// seed, so a rank's draws are the same however many ranks run beside it.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t rank, std::uint64_t round);

class SeededRandom {
 public:
  explicit SeededRandom(std::uint64_t seed) : engine_(seed) {}

  std::uint64_t next_u64() { return engine_(); }
  // Uniform on the open interval (0, 1): ((u64 >> 11) + 0.5) * 2^-53. Never 0, so its log
  // is finite.
  double uniform_open01();
  // Uniform on [0, 1): (u64 >> 11) * 2^-53.
  double uniform01() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  // Uniform on [low, high).
  double uniform(double low, double high) { return low + (high - low) * uniform01(); }
  // Uniform integer in [0, n), n > 0, by rejection of the top partial range (no modulo bias).
  std::uint64_t below(std::uint64_t n);
  // Standard normal by Marsaglia's polar method; the second value of each pair is dropped.
  double normal();
  // log of a Gamma(shape, 1) variate, shape > 0: Marsaglia and Tsang (2000); for shape < 1
  // the boost Gamma(shape + 1) * U^(1 / shape), taken in log space so tiny shapes do not
  // underflow to zero.
  double log_gamma_variate(double shape);
  // Fisher-Yates from the back: for i = n-1 down to 1, swap items[i] with items[below(i+1)].
  void shuffle(std::span<std::int64_t> items);

 private:
  std::mt19937_64 engine_;
};

}  // namespace fedchain
