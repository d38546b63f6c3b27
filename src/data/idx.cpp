// IDX reading through zlib's gzFile API, which also reads uncompressed files as they are.
#include "fedchain/data/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <climits>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

namespace fedchain::data {

namespace {

template <typename... Args>
Error idx_error(std::string code, fmt::format_string<Args...> format, Args&&... args) {
  return {ErrorKind::kConfig, fmt::format(format, std::forward<Args>(args)...), std::move(code)};
}

struct GzCloser {
  void operator()(gzFile file) const { gzclose(file); }
};
using GzHandle = std::unique_ptr<gzFile_s, GzCloser>;

// One open IDX file; read() fills exactly n bytes or reports why not.
class IdxStream {
 public:
  static Result<IdxStream> open(const std::filesystem::path& path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      return idx_error("missing-file", "{}: no such file", path.string());
    }
    if (!std::filesystem::is_regular_file(path, ec)) {
      return idx_error("unreadable", "{}: not a regular file", path.string());
    }
    GzHandle file(gzopen(path.c_str(), "rb"));
    if (!file) return idx_error("unreadable", "{}: cannot open for reading", path.string());
    return IdxStream(path, std::move(file));
  }

  // Reads n bytes into out; fewer is "truncated" (a gzip stream cut short also lands here).
  Status read(std::uint8_t* out, std::int64_t n, std::string_view what) {
    std::int64_t done = 0;
    while (done < n) {
      const auto chunk = static_cast<unsigned>(std::min<std::int64_t>(n - done, 1 << 20));
      const int got = gzread(file_.get(), out + done, chunk);
      if (got < 0) return gz_failure(what);
      if (got == 0) {
        // zlib reports a stream cut mid-way as an error; a clean end of data is just short.
        int errnum = Z_OK;
        gzerror(file_.get(), &errnum);
        if (errnum != Z_OK && errnum != Z_STREAM_END) return gz_failure(what);
        return idx_error("truncated", "{}: truncated: {} needs {} bytes, the file has {}",
                         path_.string(), what, n, done);
      }
      done += got;
    }
    return {};
  }

  Result<std::uint32_t> read_u32_be(std::string_view what) {
    std::array<std::uint8_t, 4> b{};
    if (auto st = read(b.data(), 4, what); !st) return st.error();
    return std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 |
           std::uint32_t{b[3]};
  }

  // The payload must be the end of the file: extra bytes mean the header lies about counts.
  Status expect_end() {
    std::uint8_t extra = 0;
    const int got = gzread(file_.get(), &extra, 1);
    if (got < 0) return gz_failure("the end of the file");
    if (got > 0) {
      return idx_error("trailing-bytes",
                       "{}: more data than the header declares; its counts do not match the data",
                       path_.string());
    }
    return {};
  }

  const std::filesystem::path& path() const { return path_; }

 private:
  IdxStream(std::filesystem::path path, GzHandle file)
      : path_(std::move(path)), file_(std::move(file)) {}

  Error gz_failure(std::string_view what) {
    int errnum = Z_OK;
    const char* raw = gzerror(file_.get(), &errnum);
    // zlib prefixes its message with the path, which ours already names.
    std::string_view message = raw != nullptr ? raw : "unknown zlib error";
    const std::string prefix = path_.string() + ": ";
    if (message.starts_with(prefix)) message.remove_prefix(prefix.size());
    if (errnum == Z_BUF_ERROR) {
      return idx_error("truncated", "{}: truncated: {} while reading {}", path_.string(), message,
                       what);
    }
    return idx_error("unreadable", "{}: cannot read {}: {} (damaged gzip data?)", path_.string(),
                     what, message);
  }

  std::filesystem::path path_;
  GzHandle file_;
};

Status check_magic(IdxStream& stream, std::uint32_t expected, std::string_view kind) {
  auto magic = stream.read_u32_be("the magic number");
  if (!magic) return magic.error();
  if (*magic != expected) {
    return idx_error("bad-magic", "{}: bad magic number 0x{:08x}, expected 0x{:08x} for IDX {}",
                     stream.path().string(), *magic, expected, kind);
  }
  return {};
}

Result<std::int64_t> read_dimension(IdxStream& stream, std::string_view name) {
  auto size = stream.read_u32_be(name);
  if (!size) return size.error();
  if (*size == 0) {
    return idx_error("bad-shape", "{}: {} is 0", stream.path().string(), name);
  }
  return static_cast<std::int64_t>(*size);
}

}  // namespace

Result<IdxImages> read_idx_images(const std::filesystem::path& path) {
  auto stream = IdxStream::open(path);
  if (!stream) return stream.error();
  if (auto st = check_magic(*stream, kIdxImagesMagic, "images"); !st) return st.error();
  IdxImages images;
  for (auto [field, name] :
       {std::pair{&images.count, "the image count"}, std::pair{&images.rows, "the row count"},
        std::pair{&images.cols, "the column count"}}) {
    auto size = read_dimension(*stream, name);
    if (!size) return size.error();
    *field = *size;
  }
  // Each factor is below 2^32, so check the product in two steps without overflow.
  const std::int64_t image_bytes = images.rows * images.cols;
  if (image_bytes > kIdxMaxPayloadBytes || images.count > kIdxMaxPayloadBytes / image_bytes) {
    return idx_error("bad-shape", "{}: {} images of {} x {} exceed the {} byte limit",
                     path.string(), images.count, images.rows, images.cols, kIdxMaxPayloadBytes);
  }
  images.pixels.resize(static_cast<std::size_t>(images.count * image_bytes));
  if (auto st =
          stream->read(images.pixels.data(), images.count * image_bytes,
                       fmt::format("{} images of {} x {}", images.count, images.rows, images.cols));
      !st) {
    return st.error();
  }
  if (auto st = stream->expect_end(); !st) return st.error();
  return images;
}

Result<std::vector<std::uint8_t>> read_idx_labels(const std::filesystem::path& path) {
  auto stream = IdxStream::open(path);
  if (!stream) return stream.error();
  if (auto st = check_magic(*stream, kIdxLabelsMagic, "labels"); !st) return st.error();
  auto count = read_dimension(*stream, "the label count");
  if (!count) return count.error();
  if (*count > kIdxMaxPayloadBytes) {
    return idx_error("bad-shape", "{}: {} labels exceed the {} byte limit", path.string(), *count,
                     kIdxMaxPayloadBytes);
  }
  std::vector<std::uint8_t> labels(static_cast<std::size_t>(*count));
  if (auto st = stream->read(labels.data(), *count, fmt::format("{} labels", *count)); !st) {
    return st.error();
  }
  if (auto st = stream->expect_end(); !st) return st.error();
  return labels;
}

Result<ImageSet> read_idx_split(const std::filesystem::path& images_path,
                                const std::filesystem::path& labels_path,
                                std::int64_t num_classes) {
  auto images = read_idx_images(images_path);
  if (!images) return images.error();
  auto labels = read_idx_labels(labels_path);
  if (!labels) return labels.error();
  const auto label_count = static_cast<std::int64_t>(labels->size());
  if (label_count != images->count) {
    return idx_error("count-mismatch", "{} holds {} images but {} holds {} labels",
                     images_path.string(), images->count, labels_path.string(), label_count);
  }
  for (std::size_t i = 0; i < labels->size(); ++i) {
    if ((*labels)[i] >= num_classes) {
      return idx_error("label-out-of-range", "{}: label {} at index {} is not below {}",
                       labels_path.string(), (*labels)[i], i, num_classes);
    }
  }
  ImageSet set;
  set.count = images->count;
  set.rows = images->rows;
  set.cols = images->cols;
  set.pixels = std::move(images->pixels);
  set.labels = std::move(*labels);
  return set;
}

}  // namespace fedchain::data
