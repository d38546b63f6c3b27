// Secure aggregation's masks: each rank's masked partial sum looks nothing like its own,
// and the masked sums add up, modulo 2^64, to exactly the unmasked sum (docs/privacy.md).
#include <gtest/gtest.h>

#include "privacy.hpp"

namespace fedchain::node {
namespace {

// pair_keys[a][b] == pair_keys[b][a]: the key ranks a and b agreed on (X25519 in a run).
std::vector<std::vector<crypto::SecretKey>> pair_keys_of(std::size_t ranks) {
  std::vector<std::vector<crypto::SecretKey>> keys(ranks, std::vector<crypto::SecretKey>(ranks));
  for (std::size_t a = 0; a < ranks; ++a) {
    for (std::size_t b = a + 1; b < ranks; ++b) {
      crypto::SecretKey key{};
      key[0] = static_cast<std::uint8_t>(a);
      key[1] = static_cast<std::uint8_t>(b);
      keys[a][b] = keys[b][a] = key;
    }
  }
  return keys;
}

TEST(SecureAggregation, MasksCancelInTheSumAndHideEachPartial) {
  constexpr std::size_t kRanks = 5;
  constexpr std::size_t kLength = 3000;  // more than one ChaCha20 buffer
  const auto keys = pair_keys_of(kRanks);
  std::vector<std::int64_t> expected(kLength, 0);
  std::vector<std::uint64_t> masked_sum(kLength, 0);
  for (std::size_t r = 0; r < kRanks; ++r) {
    std::vector<std::int64_t> partial(kLength);
    for (std::size_t j = 0; j < kLength; ++j) {
      partial[j] = static_cast<std::int64_t>((j * 7919 + r * 104729) % 2000001) - 1000000;
      expected[j] += partial[j];
    }
    std::vector<std::uint64_t> masked(partial.begin(), partial.end());
    add_masks(keys[r], r, 9, masked);
    std::size_t unchanged = 0;
    for (std::size_t j = 0; j < kLength; ++j) {
      unchanged += masked[j] == static_cast<std::uint64_t>(partial[j]);
      masked_sum[j] += masked[j];
    }
    EXPECT_EQ(unchanged, 0u) << "rank " << r << " sent values in the clear";
  }
  const std::vector<std::int64_t> total(masked_sum.begin(), masked_sum.end());
  EXPECT_EQ(total, expected);
}

TEST(SecureAggregation, MasksChangeWithTheHeight) {
  const auto keys = pair_keys_of(2);
  std::vector<std::uint64_t> at_one(100, 0);
  std::vector<std::uint64_t> at_two(100, 0);
  add_masks(keys[0], 0, 1, at_one);
  add_masks(keys[0], 0, 2, at_two);
  EXPECT_NE(at_one, at_two);
}

}  // namespace
}  // namespace fedchain::node
