// Writer and Reader primitives, and fields declared once (wire_fields) driving both.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

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

// A value kept as its own encoding: one u32, behind a version byte.
struct Leaf {
  std::uint32_t n = 0;
  Bytes encode() const { return Writer().version(7).u32(n).take(); }
  static Result<Leaf> decode(ByteView bytes) {
    Reader r(bytes, "leaf");
    Leaf leaf;
    r.version(7);
    leaf.n = r.u32();
    if (auto st = r.finish(); !st) return st.error();
    return leaf;
  }
  bool operator==(const Leaf&) const = default;
};

enum class Kind : std::uint8_t { kOne = 1, kTwo = 2 };

struct Entry {
  std::uint32_t id = 0;
  std::string name;
  static void wire_fields(auto& s, auto& e) { s(e.id, limit(e.name, 8)); }
  bool operator==(const Entry&) const = default;
};

// One field of every kind wire_fields supports.
struct Everything {
  std::uint8_t small = 0;
  std::uint32_t medium = 0;
  std::uint64_t large = 0;
  Kind kind = Kind::kOne;
  bool on = false;
  double real = 0;
  Hash32 hash;
  PublicKey key;
  Signature signature;
  std::optional<std::uint32_t> maybe;
  std::string text;
  Bytes blob;
  std::vector<Entry> entries;
  Leaf leaf;
  std::vector<Leaf> leaves;
  std::vector<Leaf> fixed_leaves;

  static void wire_fields(auto& s, auto& v) {
    s.version(3)(v.small, v.medium, v.large, v.kind, v.on, v.real, v.hash, v.key, v.signature,
                 v.maybe, limit(v.text, 16), limit(v.blob, 16), limit(v.entries, 4),
                 nested(v.leaf, at_most(16)), nested_list(v.leaves, 4, at_most(16)),
                 nested_list(v.fixed_leaves, 4, exactly(5)));
  }
  bool operator==(const Everything&) const = default;
};

Everything populated() {
  Everything v;
  v.small = 0x12;
  v.medium = 0x01020304;
  v.large = 0x1122334455667788ull;
  v.kind = Kind::kTwo;
  v.on = true;
  v.real = -2.5;
  v.hash.bytes[0] = 0xaa;
  v.key.bytes[31] = 0xbb;
  v.signature.bytes[63] = 0xcc;
  v.maybe = 9;
  v.text = "fedchain";
  v.blob = {1, 2, 3};
  v.entries = {{1, "a"}, {2, "bc"}};
  v.leaf = {5};
  v.leaves = {{6}, {7}};
  v.fixed_leaves = {{8}};
  return v;
}

Bytes encode(const Everything& v) {
  Writer w;
  Everything::wire_fields(w, v);
  return w.take();
}

Result<Everything> decode(ByteView bytes) {
  Reader r(bytes, "everything");
  Everything v;
  Everything::wire_fields(r, v);
  if (auto st = r.finish(); !st) return st.error();
  return v;
}

TEST(WireFields, WriteEachFieldAsItsPrimitive) {
  const Everything v = populated();
  Writer w;
  w.u8(3).u8(0x12).u32(0x01020304).u64(0x1122334455667788ull).u8(2).u8(1).f64(-2.5);
  w.hash(v.hash).raw(v.key.view()).raw(v.signature.view()).u8(1).u32(9);
  w.text("fedchain").bytes(v.blob).u32(2).u32(1).text("a").u32(2).text("bc");
  w.bytes(Leaf{5}.encode()).u32(2).bytes(Leaf{6}.encode()).bytes(Leaf{7}.encode());
  w.u32(1).raw(Leaf{8}.encode());
  EXPECT_EQ(to_hex(encode(v)), to_hex(w.data()));

  Everything absent = v;
  absent.maybe.reset();
  const Bytes a = encode(absent);
  const Bytes b = encode(v);
  // The flag byte after the 1+1+4+8+1+1+8+32+32+64 bytes before it, then a zero u32.
  EXPECT_EQ(a[152], 0);
  EXPECT_EQ(Bytes(a.begin() + 153, a.begin() + 157), Bytes(4, 0));
  EXPECT_EQ(b[152], 1);
}

TEST(WireFields, ReadGivesBackEveryField) {
  for (Everything v : {populated(), Everything{}}) {
    auto decoded = decode(encode(v));
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(*decoded, v);
  }
}

TEST(WireFields, EveryTruncationAndTrailingByteIsRefused) {
  const Bytes bytes = encode(populated());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto cut = decode(ByteView(bytes.data(), n));
    ASSERT_FALSE(cut) << "prefix of " << n << " bytes decoded";
  }
  Bytes longer = bytes;
  longer.push_back(0);
  EXPECT_EQ(decode(longer).error().code, "trailing-bytes");
}

TEST(WireFields, LimitsFlagsAndNestedValuesAreChecked) {
  auto code_of = [](void (*mutate)(Everything&)) {
    Everything v = populated();
    mutate(v);
    auto decoded = decode(encode(v));
    return decoded ? std::string("accepted") : decoded.error().code;
  };
  EXPECT_EQ(code_of([](Everything& v) { v.text = std::string(17, 'x'); }), "oversized-length");
  EXPECT_EQ(code_of([](Everything& v) { v.entries.resize(5); }), "oversized-length");
  EXPECT_EQ(code_of([](Everything& v) { v.entries[0].name = "123456789"; }), "oversized-length");
  EXPECT_EQ(code_of([](Everything& v) { v.leaves.resize(5); }), "oversized-length");

  Bytes bytes = encode(populated());
  bytes[152] = 2;  // the optional's flag
  EXPECT_EQ(decode(bytes).error().code, "bad-flag");
  bytes[152] = 0;  // absent, yet the value that follows is 9
  EXPECT_EQ(decode(bytes).error().code, "non-canonical");
  bytes = encode(populated());
  bytes[1 + 1 + 4 + 8 + 1] = 5;  // the bool
  EXPECT_EQ(decode(bytes).error().code, "bad-flag");

  // A nested value keeps its own decoder's refusal: the first leaf's version byte.
  Writer leaf_prefix;
  leaf_prefix.bytes(Leaf{5}.encode());
  bytes = encode(populated());
  const auto at =
      std::search(bytes.begin(), bytes.end(), leaf_prefix.data().begin(), leaf_prefix.data().end());
  ASSERT_NE(at, bytes.end());
  *(at + 4) = 8;
  EXPECT_EQ(decode(bytes).error().code, "unknown-version");
}

TEST(WireFields, ACountOverTheLimitIsRefusedWithItsCodeBeforeAllocating) {
  std::vector<std::uint32_t> list;
  Writer w;
  w.u32(0xffffffff);
  Reader r(w.data(), "list");
  r(limit(list, 10, "bad-count"));
  EXPECT_EQ(r.finish().error().code, "bad-count");
  EXPECT_TRUE(list.empty());
}

TEST(WireFields, ANestedValueCanBeReadIntoAnOptional) {
  const Leaf leaf{4};
  Writer w;
  w(nested(leaf, at_most(16)));
  std::optional<Leaf> slot;
  Reader r(w.data(), "slot");
  r(nested(slot, at_most(16)));
  ASSERT_TRUE(r.finish());
  EXPECT_EQ(slot, leaf);
}

TEST(Reader, AscendingRefusesRepeatsAndDescents) {
  for (const auto& [list, ok] : std::vector<std::pair<std::vector<int>, bool>>{
           {{}, true}, {{1}, true}, {{1, 2, 5}, true}, {{1, 1}, false}, {{2, 1}, false}}) {
    Reader r(ByteView{}, "list");
    r.ascending(list, "numbers");
    EXPECT_EQ(static_cast<bool>(r.finish()), ok);
  }
}

}  // namespace
}  // namespace fedchain
