// Seed derivation and the bias-free integer draw behind batch shuffling.
#include "fedchain/train/random.hpp"

#include <utility>

namespace fedchain::train {

namespace {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t rank, std::uint64_t round) {
  return splitmix64(splitmix64(splitmix64(seed) ^ rank) ^ round);
}

std::uint64_t Random::below(std::uint64_t n) {
  // Accept only draws under the largest multiple of n, so every residue is equally likely.
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t draw = bits();
  while (draw >= limit) draw = bits();
  return draw % n;
}

void Random::shuffle(std::span<std::int64_t> values) {
  for (std::size_t i = values.size(); i > 1; --i) {
    std::swap(values[i - 1], values[below(i)]);
  }
}

}  // namespace fedchain::train
