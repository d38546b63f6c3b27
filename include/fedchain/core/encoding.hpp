// The canonical binary encoding (docs/formats.md): little-endian
// fixed-width integers, u32-length-prefixed byte strings, floats only as raw bits, fields
// in a fixed order. One encoding for hashing, signing, storing and sending.
//
// Writer appends; Reader consumes and never throws on hostile input: the first problem
// (truncated, oversized-length, ...) is kept and every later read fails, so a decoder can
// read all fields and check once at the end with finish().
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/error.hpp"
#include "fedchain/core/hash.hpp"

namespace fedchain {

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

  const Bytes& data() const { return out_; }
  Bytes take() { return std::move(out_); }

 private:
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
  Bytes bytes(std::size_t max_len) {
    const std::uint32_t n = u32();
    if (ok() && n > max_len) {
      fail("oversized-length", fmt::format("length {} exceeds the limit {}", n, max_len));
      return {};
    }
    return raw(n);
  }
  std::string text(std::size_t max_len) {
    const Bytes b = bytes(max_len);
    return {b.begin(), b.end()};
  }
  // A version byte that must equal `expected`.
  void version(std::uint8_t expected) {
    const std::uint8_t v = u8();
    if (ok() && v != expected) {
      fail("unknown-version", fmt::format("version {} (this build reads {})", v, expected));
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
