#include <gtest/gtest.h>

#include "fedchain/core/encoding.hpp"

namespace fedchain {
namespace {

Bytes sample() {
  Hash32 h;
  h.bytes[0] = 0xaa;
  h.bytes[31] = 0x55;
  Writer w;
  w.u8(1)
      .u32(0x01020304)
      .u64(0x1122334455667788ull)
      .i64(-5)
      .f32(-0.0f)
      .f64(1.5)
      .hash(h)
      .text("fedchain");
  return w.take();
}

TEST(Encoding, IsLittleEndianAndRoundTrips) {
  const Bytes b = sample();
  EXPECT_EQ(b[1], 0x04);
  EXPECT_EQ(b[4], 0x01);
  Reader r(b, "sample");
  r.version(1);
  EXPECT_EQ(r.u32(), 0x01020304u);
  EXPECT_EQ(r.u64(), 0x1122334455667788ull);
  EXPECT_EQ(r.i64(), -5);
  const float z = r.f32();
  EXPECT_TRUE(std::signbit(z)) << "raw bits must survive: -0.0 stays negative";
  EXPECT_EQ(r.f64(), 1.5);
  const Hash32 h = r.hash();
  EXPECT_EQ(h.bytes[0], 0xaa);
  EXPECT_EQ(h.bytes[31], 0x55);
  EXPECT_EQ(r.text(64), "fedchain");
  EXPECT_TRUE(r.finish());
}

TEST(Encoding, EveryTruncationIsRefusedWithoutThrowing) {
  const Bytes b = sample();
  for (std::size_t n = 0; n < b.size(); ++n) {
    Reader r(ByteView(b.data(), n), "sample");
    r.version(1);
    r.u32();
    r.u64();
    r.i64();
    r.f32();
    r.f64();
    r.hash();
    r.text(64);
    auto st = r.finish();
    ASSERT_FALSE(st) << "cut at " << n;
    EXPECT_EQ(st.error().code, "truncated");
  }
}

TEST(Encoding, RefusesTrailingBytesOversizedLengthsAndUnknownVersions) {
  Bytes b = sample();
  b.push_back(0);
  Reader trailing(b, "sample");
  trailing.version(1);
  trailing.u32();
  trailing.u64();
  trailing.i64();
  trailing.f32();
  trailing.f64();
  trailing.hash();
  trailing.text(64);
  EXPECT_EQ(trailing.finish().error().code, "trailing-bytes");

  const Bytes good = sample();
  Reader oversized(good, "sample");
  oversized.version(1);
  oversized.u32();
  oversized.u64();
  oversized.i64();
  oversized.f32();
  oversized.f64();
  oversized.hash();
  oversized.text(4);
  EXPECT_EQ(oversized.finish().error().code, "oversized-length");

  Reader version(good, "sample");
  version.version(2);
  auto st = version.finish();
  EXPECT_EQ(st.error().code, "unknown-version");
  EXPECT_NE(st.error().message.find("sample at byte 1"), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace fedchain
