// .npy parsing (npy.hpp): a small recursive-descent reader for the one dict literal numpy
// writes, over a bounded view; every step checks what is left before reading it.
#include <fmt/ranges.h>

#include "fedchain/data/npy.hpp"

#include <array>
#include <limits>
#include <optional>
#include <string_view>

#include "fedchain/crypto/sha256.hpp"
#include "file_bytes.hpp"

namespace fedchain::data {

namespace {

constexpr std::array<std::uint8_t, 6> kMagic{0x93, 'N', 'U', 'M', 'P', 'Y'};
// No dimension of a real array is near 2^40, and bounding each keeps products in int64.
constexpr std::int64_t kMaxDimension = std::int64_t{1} << 40;

template <typename... Args>
Error npy_error(std::string code, fmt::format_string<Args...> format, Args&&... args) {
  return {ErrorKind::kConfig, fmt::format(format, std::forward<Args>(args)...), std::move(code)};
}

// The header dict, e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 28, 28), }
class DictParser {
 public:
  explicit DictParser(std::string_view text) : text_(text) {}

  // Fills descr, fortran_order and shape; false (with why()) on anything else.
  bool parse(std::string& descr, bool& fortran_order, std::vector<std::int64_t>& shape) {
    bool seen_descr = false;
    bool seen_order = false;
    bool seen_shape = false;
    if (!take('{')) return fail("the header does not start with '{'");
    while (true) {
      if (take('}')) break;
      auto key = quoted();
      if (!key) return fail("expected a quoted key");
      if (!take(':')) return fail("expected ':' after '" + *key + "'");
      if (*key == "descr") {
        auto value = quoted();
        if (!value)
          return fail("'descr' is not a plain dtype string (structured arrays are not read)");
        descr = *value;
        seen_descr = true;
      } else if (*key == "fortran_order") {
        if (word("True")) {
          fortran_order = true;
        } else if (word("False")) {
          fortran_order = false;
        } else {
          return fail("'fortran_order' is neither True nor False");
        }
        seen_order = true;
      } else if (*key == "shape") {
        if (!tuple(shape)) return false;
        seen_shape = true;
      } else {
        return fail("unknown key '" + *key + "'");
      }
      if (take('}')) break;
      if (!take(',')) return fail("expected ',' or '}'");
    }
    skip_space();
    if (pos_ != text_.size()) return fail("text after the closing '}'");
    if (!seen_descr || !seen_order || !seen_shape) {
      return fail("'descr', 'fortran_order' and 'shape' must all be given");
    }
    return true;
  }

  const std::string& why() const { return why_; }

 private:
  bool fail(std::string why) {
    why_ = std::move(why);
    return false;
  }
  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t')) {
      ++pos_;
    }
  }
  bool take(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool word(std::string_view w) {
    skip_space();
    if (text_.substr(pos_, w.size()) != w) return false;
    pos_ += w.size();
    return true;
  }
  std::optional<std::string> quoted() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) return std::nullopt;
    const char quote = text_[pos_++];
    const auto end = text_.find(quote, pos_);
    if (end == std::string_view::npos) return std::nullopt;
    std::string value(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return value;
  }
  // (), (n,), (n, m), (n, m,) ...
  bool tuple(std::vector<std::int64_t>& shape) {
    if (!take('(')) return fail("'shape' is not a tuple");
    while (!take(')')) {
      skip_space();
      std::int64_t value = 0;
      std::size_t digits = 0;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        value = value * 10 + (text_[pos_++] - '0');
        if (++digits > 13 || value > kMaxDimension) return fail("a dimension is too large");
      }
      if (digits == 0) return fail("'shape' holds something other than integers");
      if (shape.size() == kNpyMaxDims) return fail("'shape' has too many dimensions");
      shape.push_back(value);
      if (take(')')) break;
      if (!take(',')) return fail("expected ',' or ')' in 'shape'");
    }
    return true;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::string why_;
};

// '<f4', '|u1', '=i8', ...: little-endian or byte-order-free numeric types only.
bool parse_descr(const std::string& descr, NpyHeader& header) {
  if (descr.size() != 3) return false;
  const char order = descr[0];
  const char kind = descr[1];
  const char size = descr[2];
  if (kind != 'u' && kind != 'i' && kind != 'f') return false;
  if (size != '1' && size != '2' && size != '4' && size != '8') return false;
  header.kind = kind;
  header.item_size = static_cast<std::size_t>(size - '0');
  if (kind == 'f' && header.item_size < 4) return false;
  // '>' is big-endian: only a one-byte type has no byte order.
  return order == '<' || order == '|' || order == '=' || (order == '>' && header.item_size == 1);
}

}  // namespace

std::int64_t NpyHeader::elements() const {
  std::int64_t n = 1;
  for (const std::int64_t d : shape) n *= d;
  return n;
}

Result<NpyHeader> parse_npy_header(ByteView file, const std::string& name) {
  if (file.size() < 10) {
    return npy_error("truncated", "{}: truncated: {} bytes, shorter than a .npy header", name,
                     file.size());
  }
  if (!std::equal(kMagic.begin(), kMagic.end(), file.begin())) {
    return npy_error("bad-magic", "{}: not a .npy file (it does not start with \\x93NUMPY)", name);
  }
  const std::uint8_t major = file[6];
  if (major < 1 || major > 3) {
    return npy_error("bad-header", "{}: .npy format version {}.{} (this build reads 1 to 3)", name,
                     major, file[7]);
  }
  std::size_t length = std::size_t{file[8]} | std::size_t{file[9]} << 8;
  std::size_t start = 10;
  if (major >= 2) {
    if (file.size() < 12) return npy_error("truncated", "{}: truncated header", name);
    length |= std::size_t{file[10]} << 16 | std::size_t{file[11]} << 24;
    start = 12;
  }
  if (length > kNpyMaxHeaderBytes) {
    return npy_error("bad-header", "{}: a {}-byte header (at most {})", name, length,
                     kNpyMaxHeaderBytes);
  }
  if (file.size() - start < length) {
    return npy_error("truncated", "{}: truncated: the header needs {} bytes, the file has {}", name,
                     length, file.size() - start);
  }
  const std::string_view text(reinterpret_cast<const char*>(file.data() + start), length);
  NpyHeader header;
  bool fortran_order = false;
  DictParser parser(text);
  if (!parser.parse(header.descr, fortran_order, header.shape)) {
    return npy_error("bad-header", "{}: bad .npy header: {}", name, parser.why());
  }
  if (!parse_descr(header.descr, header)) {
    return npy_error("bad-header",
                     "{}: dtype '{}' is not read: use little-endian integers or float32/float64 "
                     "(np.ascontiguousarray(a, dtype=...))",
                     name, header.descr);
  }
  if (fortran_order) {
    return npy_error("bad-header", "{}: Fortran-ordered array: save np.ascontiguousarray(a)", name);
  }
  // Each dimension < 2^40 and at most 8 of them: multiply with an overflow check.
  std::int64_t bytes = static_cast<std::int64_t>(header.item_size);
  for (const std::int64_t d : header.shape) {
    if (d != 0 && bytes > std::numeric_limits<std::int64_t>::max() / d) {
      return npy_error("bad-header", "{}: shape ({}) is too large", name,
                       fmt::join(header.shape, ", "));
    }
    bytes *= d;
  }
  header.data_offset = start + length;
  return header;
}

Result<NpyArray> read_npy(const std::filesystem::path& path, std::int64_t max_bytes) {
  auto bytes = read_whole_file(path, max_bytes);
  if (!bytes) return bytes.error();
  auto header = parse_npy_header(*bytes, path.string());
  if (!header) return header.error();
  const auto needed = static_cast<std::uint64_t>(header->elements()) * header->item_size;
  const std::uint64_t have = bytes->size() - header->data_offset;
  if (have < needed) {
    return npy_error("truncated",
                     "{}: truncated: shape ({}) of {} needs {} data bytes, the file has {}",
                     path.string(), fmt::join(header->shape, ", "), header->descr, needed, have);
  }
  if (have > needed) {
    return npy_error(
        "trailing-bytes",
        "{}: {} bytes after the array's {}: the header's shape ({}) does not match the data",
        path.string(), have - needed, needed, fmt::join(header->shape, ", "));
  }
  NpyArray array;
  array.sha256_hex = crypto::sha256(*bytes).hex();
  // The header off the front in place: no second copy of a large array.
  bytes->erase(bytes->begin(), bytes->begin() + static_cast<std::ptrdiff_t>(header->data_offset));
  array.data = std::move(*bytes);
  array.header = std::move(*header);
  return array;
}

}  // namespace fedchain::data
