// The canonical binary encoding (docs/formats.md): little-endian
// fixed-width integers, u32-length-prefixed byte strings, floats only as raw bits, fields
// in a fixed order. One encoding for hashing, signing, storing and sending.
//
// Writer appends; Reader consumes and never throws on hostile input: the first problem
// (truncated, oversized-length, ...) is kept and every later read fails, so a decoder can
// read all fields and check once at the end with finish().
//
// A type lists its fields once, in wire order, in a function template that a Writer and a
// Reader both drive (bitcoin's SERIALIZE_METHODS), so its encoder and decoder cannot
// disagree:
//
//   static void wire_fields(auto& s, auto& v) { s.version(1)(v.height, limit(v.name, 64)); }
//
// On a Writer, v is const and s(a, b, ...) writes the fields; on a Reader, it reads them
// into v. The C++ type of a field picks its encoding:
//   std::uint8_t, std::uint32_t, std::uint64_t   u8, u32, u64 (an enum: its underlying type)
//   bool                                        u8, 0 or 1
//   double                                      f64
//   Hash32, PublicKey, Signature                32, 32, 64 raw bytes
//   std::optional<T>                            u8 1 then T, or u8 0 then an all-zero T
//   a type with a static wire_fields            those fields, inline
// A wrapper adds what the type cannot say: limit() bounds a std::string (text), Bytes
// (bytes) or std::vector (list); nested() and nested_list() embed values as their own
// encodings (T::encode, T::decode). Checks on the values read (a range, an order) go in
// the decoder, after the fields and before finish().
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/hash.hpp"
#include "fedchain/core/signature.hpp"

namespace fedchain {

// limit(v, max): a std::string or Bytes of at most `max` bytes, or a std::vector of at most
// `max` elements. A Reader refuses a longer length or count with `code`, before allocating.
template <typename T>
struct Limited {
  T& value;
  std::size_t max;
  std::string_view code;
};
template <typename T>
Limited<T> limit(T& value, std::size_t max, std::string_view code = "oversized-length") {
  return {value, max, code};
}

// How a value kept as its own encoding sits in another: as `bytes` of at most n bytes, or,
// when its encoding has a fixed size, as exactly n raw bytes.
struct Framing {
  std::size_t bytes;
  bool prefixed;
};
constexpr Framing at_most(std::size_t n) {
  return {n, true};
}
constexpr Framing exactly(std::size_t n) {
  return {n, false};
}

// nested(v, framing): v's own encoding. A Reader decodes it with T::decode and keeps that
// decoder's refusal; a T with no default constructor is read into a std::optional<T>.
template <typename T>
struct Nested {
  T& value;
  Framing framing;
};
template <typename T>
Nested<T> nested(T& value, Framing framing) {
  return {value, framing};
}

// nested_list(v, max, framing): a list (a std::vector) of at most `max` values, each its own
// encoding.
template <typename List>
struct NestedList {
  List& value;
  std::size_t max;
  Framing framing;
};
template <typename List>
NestedList<List> nested_list(List& value, std::size_t max, Framing framing) {
  return {value, max, framing};
}

namespace detail {
template <typename T>
inline constexpr bool kIsOptional = false;
template <typename T>
inline constexpr bool kIsOptional<std::optional<T>> = true;
template <typename T>
inline constexpr bool kIsRawBytes =
    std::is_same_v<T, Hash32> || std::is_same_v<T, PublicKey> || std::is_same_v<T, Signature>;
template <typename T>
struct Unwrapped {
  using type = T;
};
template <typename T>
struct Unwrapped<std::optional<T>> {
  using type = T;
};
}  // namespace detail

class Writer {
 public:
  Writer& u8(std::uint8_t v) {
    out_.push_back(v);
    return *this;
  }
  Writer& u32(std::uint32_t v) { return little_endian(v, 4); }
  Writer& u64(std::uint64_t v) { return little_endian(v, 8); }
  Writer& i64(std::int64_t v) { return u64(static_cast<std::uint64_t>(v)); }
  Writer& f32(float v) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, 4);
    return u32(bits);
  }
  Writer& f64(double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, 8);
    return u64(bits);
  }
  Writer& hash(const Hash32& h) { return raw(h.view()); }
  // Bytes with no length prefix: for fields whose size the format fixes.
  Writer& raw(ByteView b) {
    out_.insert(out_.end(), b.begin(), b.end());
    return *this;
  }
  // u32 length, then the bytes.
  Writer& bytes(ByteView b) {
    u32(static_cast<std::uint32_t>(b.size()));
    return raw(b);
  }
  Writer& text(std::string_view s) { return bytes(as_bytes(s)); }
  // A type's version byte, which Reader::version checks.
  Writer& version(std::uint8_t v) { return u8(v); }

  // Writes each field as its type says (the list at the top of this file).
  template <typename... Fields>
  Writer& operator()(const Fields&... fields) {
    (put(fields), ...);
    return *this;
  }

  const Bytes& data() const { return out_; }
  Bytes take() { return std::move(out_); }

 private:
  template <typename T>
  void put(const T& v) {
    if constexpr (std::is_same_v<T, bool>) {
      u8(v ? 1 : 0);
    } else if constexpr (std::is_same_v<T, std::uint8_t>) {
      u8(v);
    } else if constexpr (std::is_same_v<T, std::uint32_t>) {
      u32(v);
    } else if constexpr (std::is_same_v<T, std::uint64_t>) {
      u64(v);
    } else if constexpr (std::is_enum_v<T>) {
      put(static_cast<std::underlying_type_t<T>>(v));
    } else if constexpr (std::is_same_v<T, double>) {
      f64(v);
    } else if constexpr (detail::kIsRawBytes<T>) {
      raw(v.view());
    } else if constexpr (detail::kIsOptional<T>) {
      put(v.has_value());
      put(v.value_or(typename T::value_type{}));
    } else {
      T::wire_fields(*this, v);
    }
  }
  template <typename T>
  void put(const Limited<T>& f) {
    using V = std::remove_const_t<T>;
    if constexpr (std::is_same_v<V, std::string>) {
      text(f.value);
    } else if constexpr (std::is_same_v<V, Bytes>) {
      bytes(f.value);
    } else {
      u32(static_cast<std::uint32_t>(f.value.size()));
      for (const auto& element : f.value) put(element);
    }
  }
  template <typename T>
  void put(const Nested<T>& n) {
    embed(n.value.encode(), n.framing);
  }
  template <typename T>
  void put(const NestedList<T>& n) {
    u32(static_cast<std::uint32_t>(n.value.size()));
    for (const auto& element : n.value) embed(element.encode(), n.framing);
  }
  void embed(ByteView encoding, Framing framing) {
    if (framing.prefixed) {
      bytes(encoding);
    } else {
      raw(encoding);
    }
  }

  Writer& little_endian(std::uint64_t v, int width) {
    for (int i = 0; i < width; ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    return *this;
  }
  Bytes out_;
};

class Reader {
 public:
  // `what` names the thing decoded in error messages ("block", "vote"). The reader keeps a
  // view: `input` must outlive it.
  Reader(ByteView input, std::string what) : in_(input), what_(std::move(what)) {}

  std::uint8_t u8() { return static_cast<std::uint8_t>(little_endian(1)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(little_endian(4)); }
  std::uint64_t u64() { return little_endian(8); }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  float f32() {
    const std::uint32_t bits = u32();
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
  double f64() {
    const std::uint64_t bits = u64();
    double v;
    std::memcpy(&v, &bits, 8);
    return v;
  }
  Hash32 hash() {
    Hash32 h;
    if (take(32)) std::memcpy(h.bytes.data(), in_.data() + pos_ - 32, 32);
    return h;
  }
  Bytes raw(std::size_t n) {
    if (!take(n)) return {};
    return Bytes(in_.begin() + static_cast<std::ptrdiff_t>(pos_ - n),
                 in_.begin() + static_cast<std::ptrdiff_t>(pos_));
  }
  // u32 length, then the bytes; a length above max_len is "oversized-length".
  Bytes bytes(std::size_t max_len) { return raw(length(max_len, "oversized-length")); }
  std::string text(std::size_t max_len) {
    const Bytes b = bytes(max_len);
    return {b.begin(), b.end()};
  }
  // A version byte that must equal `expected`.
  Reader& version(std::uint8_t expected) {
    const std::uint8_t v = u8();
    if (ok() && v != expected) {
      fail("unknown-version", fmt::format("version {} (this build reads {})", v, expected));
    }
    return *this;
  }

  // Reads each field into its place, as its type says (the list at the top of this file).
  template <typename... Fields>
  Reader& operator()(Fields&&... fields) {
    (get(fields), ...);
    return *this;
  }

  // Fails with "non-canonical" unless `list`, compared by `key`, is strictly ascending.
  template <typename T, typename Key = std::identity>
  void ascending(const std::vector<T>& list, std::string_view what, Key key = {}) {
    for (std::size_t i = 1; ok() && i < list.size(); ++i) {
      if (!(std::invoke(key, list[i - 1]) < std::invoke(key, list[i]))) {
        fail("non-canonical", fmt::format("{} must be strictly ascending", what));
      }
    }
  }
  // Marks the input bad for a reason the decoder found (a field out of range, say).
  void fail(std::string code, std::string detail) {
    if (!error_.code.empty()) return;
    error_ = reject(std::move(code), "{} at byte {}: {}", what_, pos_, detail);
  }

  bool ok() const { return error_.code.empty(); }
  std::size_t offset() const { return pos_; }
  // Fails with "trailing-bytes" unless the input was consumed exactly.
  Status finish() {
    if (ok() && pos_ != in_.size()) {
      fail("trailing-bytes", fmt::format("{} bytes after the end", in_.size() - pos_));
    }
    if (!ok()) return error_;
    return {};
  }

 private:
  template <typename T>
  void get(T& v) {
    if constexpr (std::is_same_v<T, bool>) {
      v = flag();
    } else if constexpr (std::is_same_v<T, std::uint8_t>) {
      v = u8();
    } else if constexpr (std::is_same_v<T, std::uint32_t>) {
      v = u32();
    } else if constexpr (std::is_same_v<T, std::uint64_t>) {
      v = u64();
    } else if constexpr (std::is_enum_v<T>) {
      std::underlying_type_t<T> u{};
      get(u);
      v = static_cast<T>(u);
    } else if constexpr (std::is_same_v<T, double>) {
      v = f64();
    } else if constexpr (detail::kIsRawBytes<T>) {
      const std::size_t n = v.bytes.size();
      if (take(n)) std::memcpy(v.bytes.data(), in_.data() + pos_ - n, n);
    } else if constexpr (detail::kIsOptional<T>) {
      const bool present = flag();
      typename T::value_type value{};
      get(value);
      // Else the ignored bytes would give one value many encodings.
      if (ok() && !present && value != typename T::value_type{}) {
        fail("non-canonical", "an absent optional field must be all zero");
      }
      v.reset();
      if (present) v = value;
    } else {
      T::wire_fields(*this, v);
    }
  }
  template <typename T>
  void get(Limited<T>& f) {
    const std::uint32_t n = length(f.max, f.code);
    if constexpr (std::is_same_v<T, Bytes>) {
      f.value = raw(n);
    } else if constexpr (std::is_same_v<T, std::string>) {
      const Bytes b = raw(n);
      f.value.assign(b.begin(), b.end());
    } else {
      f.value.clear();
      for (std::uint32_t i = 0; ok() && i < n; ++i) get(f.value.emplace_back());
    }
  }
  template <typename T>
  void get(Nested<T>& n) {
    if (auto v = unembed<typename detail::Unwrapped<T>::type>(n.framing)) n.value = std::move(*v);
  }
  template <typename List>
  void get(NestedList<List>& n) {
    const std::uint32_t count = length(n.max, "oversized-length");
    n.value.clear();
    for (std::uint32_t i = 0; ok() && i < count; ++i) {
      if (auto v = unembed<typename List::value_type>(n.framing)) n.value.push_back(std::move(*v));
    }
  }
  template <typename T>
  std::optional<T> unembed(Framing framing) {
    const Bytes encoding = framing.prefixed ? bytes(framing.bytes) : raw(framing.bytes);
    if (!ok()) return std::nullopt;
    auto decoded = T::decode(encoding);
    if (!decoded) {
      fail(decoded.error().code, decoded.error().message);
      return std::nullopt;
    }
    return std::move(*decoded);
  }

  // A u32 length or count; one above `max` fails with `code`.
  std::uint32_t length(std::size_t max, std::string_view code) {
    const std::uint32_t n = u32();
    if (ok() && n > max) {
      fail(std::string(code), fmt::format("length {} exceeds the limit {}", n, max));
    }
    return ok() ? n : 0;
  }
  // A u8 that must be 0 or 1.
  bool flag() {
    const std::uint8_t v = u8();
    if (ok() && v > 1) fail("bad-flag", fmt::format("flag {} is neither 0 nor 1", v));
    return v == 1;
  }

  bool take(std::size_t n) {
    if (!ok()) return false;
    if (n > in_.size() - pos_) {
      fail("truncated", fmt::format("needs {} more bytes, {} left", n, in_.size() - pos_));
      return false;
    }
    pos_ += n;
    return true;
  }
  std::uint64_t little_endian(int width) {
    if (!take(static_cast<std::size_t>(width))) return 0;
    std::uint64_t v = 0;
    for (int i = 0; i < width; ++i) {
      v |= static_cast<std::uint64_t>(
               in_[pos_ - static_cast<std::size_t>(width) + static_cast<std::size_t>(i)])
           << (8 * i);
    }
    return v;
  }

  ByteView in_;
  std::string what_;
  std::size_t pos_ = 0;
  Error error_;
};

}  // namespace fedchain
