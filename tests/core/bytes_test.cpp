#include <gtest/gtest.h>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/hash.hpp"

namespace fedchain {
namespace {

TEST(Hex, RoundTripsEveryByteValue) {
  Bytes all(256);
  for (int i = 0; i < 256; ++i) all[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
  const auto hex = to_hex(all);
  EXPECT_EQ(hex.substr(0, 8), "00010203");
  EXPECT_EQ(hex.substr(hex.size() - 4), "feff");
  EXPECT_EQ(from_hex(hex), all);
}

TEST(Hex, RejectsOddLengthAndNonHex) {
  EXPECT_FALSE(from_hex("abc"));
  EXPECT_FALSE(from_hex("zz"));
  EXPECT_EQ(from_hex("ABcd"), (Bytes{0xab, 0xcd}));
}

TEST(Hash32, ParsesOnlyFullLengthHex) {
  const std::string hex(64, 'a');
  auto h = Hash32::from_hex(hex);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->hex(), hex);
  EXPECT_EQ(h->short_hex(), hex.substr(0, 12));
  EXPECT_FALSE(h->is_zero());
  EXPECT_TRUE(Hash32{}.is_zero());
  EXPECT_FALSE(Hash32::from_hex(hex.substr(2)));
}

}  // namespace
}  // namespace fedchain
