// Dataset files in HDF5 (docs/data.md): reading with shape, dtype and label checks, and
// writing through a temporary name so that a failure never leaves a half-written file.
#include <fmt/ranges.h>

#include "fedchain/data/dataset.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>
#include <string>
#include <system_error>

#include "fedchain/core/durable_file.hpp"
#include "fedchain/core/encoding.hpp"
#include "fedchain/crypto/sha256.hpp"
#include "hdf5_util.hpp"

namespace fedchain::data {

namespace {

constexpr const char* kFormat = "fedchain-dataset";
// Version 2: images N x C x H x W (uint8 or float32), optional /train/clients, the input
// files as one root attribute. Version 1 files (N x H x W uint8) are read as C = 1.
constexpr std::int64_t kFormatVersion = 2;
constexpr hsize_t kMaxImageBytes = hsize_t{1} << 24;
constexpr hsize_t kMaxSplitBytes = hsize_t{1} << 36;
constexpr const char* kSourcesAttribute = "source_sha256";

using Dims = std::array<hsize_t, 4>;

std::string prepare_hint(const std::filesystem::path& path) {
  return fmt::format(
      "run `fedchain data prepare fashion-mnist --out {}` (or prepare/import another dataset, "
      "docs/data.md) to create it",
      path.string());
}

// File access without HDF5's file locks where the file system has none (common on cluster
// file systems); every rank opens the same file read-only.
h5::Handle file_access_list() {
  h5::Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (fapl.valid()) H5Pset_file_locking(fapl.get(), false, true);
  return fapl;
}

Result<h5::Handle> open_for_reading(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return config_error("{}: no such dataset file; {}", path.string(), prepare_hint(path));
  }
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    return config_error("{}: not an HDF5 file; {}", path.string(), prepare_hint(path));
  }
  const h5::Handle fapl = file_access_list();
  h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()), H5Fclose);
  if (!file.valid()) return config_error("{}: cannot open the HDF5 file", path.string());
  return file;
}

bool exists(hid_t file, const char* name) {
  return H5Lexists(file, name, H5P_DEFAULT) > 0 && H5Oexists_by_name(file, name, H5P_DEFAULT) > 0;
}

// An array's element kind as the reader sees it.
enum class Element { kUint8, kFloat32, kInteger, kOther };

Element element_of(hid_t set) {
  h5::Handle type(H5Dget_type(set), H5Tclose);
  const H5T_class_t kind = H5Tget_class(type.get());
  const std::size_t size = H5Tget_size(type.get());
  if (kind == H5T_INTEGER) {
    return size == 1 && H5Tget_sign(type.get()) == H5T_SGN_NONE ? Element::kUint8
                                                                : Element::kInteger;
  }
  if (kind == H5T_FLOAT && size == 4) return Element::kFloat32;
  return Element::kOther;
}

struct ArrayShape {
  Element element = Element::kOther;
  int rank = 0;
  Dims file_dims{0, 0, 0, 0};  // as stored, `rank` of them
  Dims dims{0, 0, 0, 0};       // images: (count, channels, rows, cols); else as stored
};

// Opens an array and reads its element kind and shape; its rank must be one of `ranks`.
Result<ArrayShape> array_shape(hid_t file, const std::filesystem::path& path, const char* name,
                               std::initializer_list<int> ranks) {
  if (!exists(file, name)) {
    return config_error("{}: no dataset {}; {}", path.string(), name, prepare_hint(path));
  }
  h5::Handle set(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  if (!set.valid()) return config_error("{}: {} is not a dataset", path.string(), name);
  ArrayShape shape;
  shape.element = element_of(set.get());
  h5::Handle space(H5Dget_space(set.get()), H5Sclose);
  shape.rank = H5Sget_simple_extent_ndims(space.get());
  if (std::find(ranks.begin(), ranks.end(), shape.rank) == ranks.end()) {
    return config_error("{}: {} has {} dimensions, expected {}", path.string(), name, shape.rank,
                        fmt::join(ranks, " or "));
  }
  H5Sget_simple_extent_dims(space.get(), shape.file_dims.data(), nullptr);
  shape.dims = shape.file_dims;
  return shape;
}

// Reads the first `rows` entries along the first dimension of an array shaped `shape`, as
// `memory_type`.
Status read_leading(hid_t file, const std::filesystem::path& path, const char* name,
                    const ArrayShape& shape, hsize_t rows, hid_t memory_type, void* out) {
  if (rows == 0) return {};
  h5::Handle set(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  h5::Handle file_space(H5Dget_space(set.get()), H5Sclose);
  const Dims start{0, 0, 0, 0};
  Dims count = shape.file_dims;
  count[0] = rows;
  h5::Handle memory_space(H5Screate_simple(shape.rank, count.data(), nullptr), H5Sclose);
  if (H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                          nullptr) < 0 ||
      H5Dread(set.get(), memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, out) < 0) {
    return runtime_error("{}: cannot read {}", path.string(), name);
  }
  return {};
}

// The image array's shape as (count, channels, rows, cols); 3-D arrays are one channel.
Result<ArrayShape> image_shape(hid_t file, const std::filesystem::path& path,
                               const std::string& name) {
  auto shape = array_shape(file, path, name.c_str(), {3, 4});
  if (!shape) return shape.error();
  if (shape->element != Element::kUint8 && shape->element != Element::kFloat32) {
    return config_error("{}: {} must hold unsigned 8-bit integers (uint8) or float32",
                        path.string(), name);
  }
  if (shape->rank == 3) {
    shape->dims = {shape->file_dims[0], 1, shape->file_dims[1], shape->file_dims[2]};
  }
  return shape;
}

// Checks the image shape against what fedchain loads; returns the samples kept.
Result<hsize_t> check_image_size(const std::filesystem::path& path, const std::string& name,
                                 const Dims& dims, std::int64_t limit, hsize_t element_bytes) {
  const auto [count, channels, rows, cols] = dims;
  if (count > 0 && (channels == 0 || rows == 0 || cols == 0)) {
    return config_error("{}: {} has empty images ({} x {} x {})", path.string(), name, channels,
                        rows, cols);
  }
  const hsize_t kept = limit > 0 ? std::min<hsize_t>(count, static_cast<hsize_t>(limit)) : count;
  // Every rank holds its split whole in memory; refuse sizes no image dataset has before
  // multiplying (which could overflow) or allocating.
  const hsize_t plane = std::max<hsize_t>(rows, 1) * std::max<hsize_t>(cols, 1);
  if (rows > kMaxImageBytes || cols > kMaxImageBytes / std::max<hsize_t>(rows, 1) ||
      channels > kMaxImageBytes / plane ||
      kept > kMaxSplitBytes / (std::max<hsize_t>(channels, 1) * plane * element_bytes)) {
    return config_error("{}: {} of {} x {} x {} x {} is larger than fedchain loads ({} bytes)",
                        path.string(), name, kept, channels, rows, cols, kMaxSplitBytes);
  }
  return kept;
}

Status check_labels(const std::filesystem::path& path, const std::string& name,
                    const std::vector<std::uint8_t>& labels, std::int64_t num_classes) {
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= num_classes) {
      return config_error("{}: {}[{}] = {} is not below num_classes = {}", path.string(), name, i,
                          labels[i], num_classes);
    }
  }
  return {};
}

// /SPLIT/clients, where present (training split only): integer ids, one per sample.
Status read_clients(hid_t file, const std::filesystem::path& path, const std::string& split,
                    hsize_t count, hsize_t kept, ImageSet& set) {
  const std::string name = "/" + split + "/clients";
  if (!exists(file, name.c_str())) return {};
  auto shape = array_shape(file, path, name.c_str(), {1});
  if (!shape) return shape.error();
  if (shape->element != Element::kInteger && shape->element != Element::kUint8) {
    return config_error("{}: {} must hold integers (client ids)", path.string(), name);
  }
  if (shape->dims[0] != count) {
    return config_error("{}: /{}/images holds {} images but {} holds {} client ids", path.string(),
                        split, count, name, shape->dims[0]);
  }
  set.clients.resize(kept);
  return read_leading(file, path, name.c_str(), *shape, kept, H5T_NATIVE_INT64, set.clients.data());
}

Result<ImageSet> read_split(hid_t file, const std::filesystem::path& path, const std::string& split,
                            std::int64_t limit, std::int64_t num_classes) {
  const std::string images_name = "/" + split + "/images";
  const std::string labels_name = "/" + split + "/labels";
  auto images = image_shape(file, path, images_name);
  if (!images) return images.error();
  auto labels = array_shape(file, path, labels_name.c_str(), {1});
  if (!labels) return labels.error();
  if (labels->element != Element::kUint8) {
    return config_error("{}: {} must hold unsigned 8-bit integers (uint8)", path.string(),
                        labels_name);
  }
  const bool is_float = images->element == Element::kFloat32;
  const hsize_t count = images->dims[0];
  if (labels->dims[0] != count) {
    return config_error("{}: {} holds {} images but {} holds {} labels", path.string(), images_name,
                        count, labels_name, labels->dims[0]);
  }
  auto kept = check_image_size(path, images_name, images->dims, limit, is_float ? 4 : 1);
  if (!kept) return kept.error();

  ImageSet set;
  set.count = static_cast<std::int64_t>(*kept);
  set.channels = static_cast<std::int64_t>(images->dims[1]);
  set.rows = static_cast<std::int64_t>(images->dims[2]);
  set.cols = static_cast<std::int64_t>(images->dims[3]);
  set.type = is_float ? PixelType::kFloat32 : PixelType::kUint8;
  const auto values = static_cast<std::size_t>(set.count * set.image_size());
  void* out = nullptr;
  if (is_float) {
    set.float_pixels.resize(values);
    out = set.float_pixels.data();
  } else {
    set.pixels.resize(values);
    out = set.pixels.data();
  }
  if (auto st = read_leading(file, path, images_name.c_str(), *images, *kept,
                             is_float ? H5T_NATIVE_FLOAT : H5T_NATIVE_UINT8, out);
      !st) {
    return st.error();
  }
  set.labels.resize(*kept);
  if (auto st = read_leading(file, path, labels_name.c_str(), *labels, *kept, H5T_NATIVE_UINT8,
                             set.labels.data());
      !st) {
    return st.error();
  }
  if (auto st = check_labels(path, labels_name, set.labels, num_classes); !st) return st.error();
  if (auto st = read_clients(file, path, split, count, *kept, set); !st) return st.error();
  return set;
}

Result<std::int64_t> read_num_classes(hid_t file, const std::filesystem::path& path) {
  const std::int64_t num_classes = h5::read_int64_attribute(file, "num_classes").value_or(10);
  if (num_classes < 1 || num_classes > 256) {
    return config_error("{}: attribute num_classes = {} is outside 1 to 256", path.string(),
                        num_classes);
  }
  return num_classes;
}

bool write_array(hid_t group, const char* name, hid_t file_type, hid_t memory_type,
                 const void* data, int rank, const hsize_t* dims) {
  h5::Handle space(H5Screate_simple(rank, dims, nullptr), H5Sclose);
  h5::Handle set(
      H5Dcreate2(group, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      H5Dclose);
  if (!set.valid()) return false;
  if (dims[0] > 0 && H5Dwrite(set.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    return false;
  }
  return set.close();
}

bool write_split(hid_t file, const char* split, const ImageSet& set) {
  h5::Handle group(H5Gcreate2(file, split, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  if (!group.valid()) return false;
  const std::array<hsize_t, 4> image_dims{
      static_cast<hsize_t>(set.count), static_cast<hsize_t>(set.channels),
      static_cast<hsize_t>(set.rows), static_cast<hsize_t>(set.cols)};
  const hsize_t count = static_cast<hsize_t>(set.count);
  const bool is_float = set.type == PixelType::kFloat32;
  const bool images_written =
      is_float ? write_array(group.get(), "images", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                             set.float_pixels.data(), 4, image_dims.data())
               : write_array(group.get(), "images", H5T_STD_U8LE, H5T_NATIVE_UINT8,
                             set.pixels.data(), 4, image_dims.data());
  return images_written &&
         write_array(group.get(), "labels", H5T_STD_U8LE, H5T_NATIVE_UINT8, set.labels.data(), 1,
                     &count) &&
         (set.clients.empty() || write_array(group.get(), "clients", H5T_STD_I64LE,
                                             H5T_NATIVE_INT64, set.clients.data(), 1, &count)) &&
         group.close();
}

Status check_consistent(const ImageSet& set, const char* split) {
  const auto values = static_cast<std::size_t>(std::max<std::int64_t>(set.count, 0) *
                                               std::max<std::int64_t>(set.image_size(), 0));
  const bool is_float = set.type == PixelType::kFloat32;
  if (set.count < 0 || set.channels <= 0 || set.rows <= 0 || set.cols <= 0 ||
      (is_float ? set.float_pixels.size() : set.pixels.size()) != values ||
      set.labels.size() != static_cast<std::size_t>(set.count) ||
      (!set.clients.empty() && set.clients.size() != static_cast<std::size_t>(set.count))) {
    return runtime_error(
        "cannot write the {} split: count {}, shape {} x {} x {}, {} pixels, {} labels and {} "
        "client ids do not agree",
        split, set.count, set.channels, set.rows, set.cols,
        is_float ? set.float_pixels.size() : set.pixels.size(), set.labels.size(),
        set.clients.size());
  }
  return {};
}

std::string sources_text(const std::vector<SourceFile>& sources) {
  std::string text;
  for (const auto& source : sources) text += source.sha256_hex + "  " + source.name + "\n";
  return text;
}

// The input files: version 2's root attribute (sha256sum's format), or version 1's
// `source_file` and `sha256` attributes on each array.
std::vector<SourceFile> read_sources(hid_t file) {
  std::vector<SourceFile> sources;
  if (auto text = h5::read_string_attribute(file, kSourcesAttribute)) {
    std::istringstream lines(*text);
    std::string line;
    while (std::getline(lines, line)) {
      const auto gap = line.find("  ");
      if (gap == std::string::npos) continue;
      sources.push_back({line.substr(gap + 2), line.substr(0, gap)});
    }
    return sources;
  }
  for (const char* name : {"/train/images", "/train/labels", "/test/images", "/test/labels"}) {
    if (!exists(file, name)) continue;
    h5::Handle set(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
    auto source = h5::read_string_attribute(set.get(), "source_file");
    if (!source) continue;
    sources.push_back({*source, h5::read_string_attribute(set.get(), "sha256").value_or("")});
  }
  return sources;
}

void hash_split(crypto::Sha256& hash, const ImageSet& set) {
  Writer header;
  header.u64(static_cast<std::uint64_t>(set.count)).u8(static_cast<std::uint8_t>(set.type));
  hash.update(header.data());
  // Raw bytes: float32 in the host's order, which is little-endian wherever fedchain builds.
  if (set.type == PixelType::kFloat32) {
    hash.update({reinterpret_cast<const std::uint8_t*>(set.float_pixels.data()),
                 set.float_pixels.size() * sizeof(float)});
  } else {
    hash.update(set.pixels);
  }
  hash.update(set.labels);
  hash.update_byte(set.clients.empty() ? 0 : 1);
  Writer clients;
  for (const std::int64_t id : set.clients) clients.i64(id);
  hash.update(clients.data());
}

}  // namespace

Result<Dataset> read_dataset(const std::filesystem::path& path, std::int64_t train_limit,
                             std::int64_t test_limit) {
  if (train_limit < 0 || test_limit < 0) {
    return config_error("data.train_limit and data.test_limit must be >= 0 (got {} and {})",
                        train_limit, test_limit);
  }
  const h5::QuietErrors quiet;
  auto file = open_for_reading(path);
  if (!file) return file.error();
  auto num_classes = read_num_classes(file->get(), path);
  if (!num_classes) return num_classes.error();
  Dataset dataset;
  dataset.num_classes = *num_classes;
  auto train = read_split(file->get(), path, "train", train_limit, dataset.num_classes);
  if (!train) return train.error();
  auto test = read_split(file->get(), path, "test", test_limit, dataset.num_classes);
  if (!test) return test.error();
  if (train->channels != test->channels || train->rows != test->rows || train->cols != test->cols ||
      train->type != test->type) {
    return config_error("{}: train images are {} x {} x {} {} but test images are {} x {} x {} {}",
                        path.string(), train->channels, train->rows, train->cols,
                        train->type == PixelType::kFloat32 ? "float32" : "uint8", test->channels,
                        test->rows, test->cols,
                        test->type == PixelType::kFloat32 ? "float32" : "uint8");
  }
  dataset.train = std::move(*train);
  dataset.test = std::move(*test);
  return dataset;
}

Result<DatasetInfo> read_dataset_info(const std::filesystem::path& path) {
  const h5::QuietErrors quiet;
  auto file = open_for_reading(path);
  if (!file) return file.error();
  const hid_t id = file->get();
  DatasetInfo info;
  info.source = h5::read_string_attribute(id, "source").value_or("");
  auto num_classes = read_num_classes(id, path);
  if (!num_classes) return num_classes.error();
  info.num_classes = *num_classes;
  auto train = image_shape(id, path, "/train/images");
  if (!train) return train.error();
  auto test = image_shape(id, path, "/test/images");
  if (!test) return test.error();
  info.train_count = static_cast<std::int64_t>(train->dims[0]);
  info.test_count = static_cast<std::int64_t>(test->dims[0]);
  info.channels = static_cast<std::int64_t>(train->dims[1]);
  info.rows = static_cast<std::int64_t>(train->dims[2]);
  info.cols = static_cast<std::int64_t>(train->dims[3]);
  info.type = train->element == Element::kFloat32 ? PixelType::kFloat32 : PixelType::kUint8;
  info.has_clients = exists(id, "/train/clients");
  info.sources = read_sources(id);
  return info;
}

Status write_dataset(const std::filesystem::path& path, const Dataset& dataset,
                     const DatasetInfo& info) {
  if (auto st = check_consistent(dataset.train, "train"); !st) return st;
  if (auto st = check_consistent(dataset.test, "test"); !st) return st;
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      return runtime_error("cannot create the directory {}: {}", path.parent_path().string(),
                           ec.message());
    }
  }
  const std::filesystem::path temp = temp_path_for(path);
  const h5::QuietErrors quiet;
  const auto fail = [&](std::string_view what) -> Status {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    return runtime_error("cannot write {}: {}", path.string(), what);
  };

  {
    const h5::Handle fapl = file_access_list();
    h5::Handle file(H5Fcreate(temp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()), H5Fclose);
    if (!file.valid()) return fail(fmt::format("cannot create {}", temp.string()));
    const bool written =
        h5::write_string_attribute(file.get(), "format", kFormat) &&
        h5::write_int64_attribute(file.get(), "format_version", kFormatVersion) &&
        h5::write_string_attribute(file.get(), "source", info.source) &&
        h5::write_int64_attribute(file.get(), "num_classes", dataset.num_classes) &&
        h5::write_int64_attribute(file.get(), "channels", dataset.train.channels) &&
        h5::write_string_attribute(file.get(), kSourcesAttribute, sources_text(info.sources)) &&
        write_split(file.get(), "train", dataset.train) &&
        write_split(file.get(), "test", dataset.test);
    if (!written) return fail("HDF5 write failed (disk full or no permission?)");
    if (!file.close()) return fail("HDF5 could not flush and close the file");
  }
  return commit_temp_file(temp, path);
}

ImageSet subset(const ImageSet& set, std::span<const std::int64_t> indices) {
  ImageSet out;
  out.count = static_cast<std::int64_t>(indices.size());
  out.channels = set.channels;
  out.rows = set.rows;
  out.cols = set.cols;
  out.type = set.type;
  const auto image = static_cast<std::ptrdiff_t>(set.image_size());
  const auto gather = [&](const auto& from, auto& to) {
    if (from.empty()) return;
    to.resize(indices.size() * static_cast<std::size_t>(image));
    for (std::size_t i = 0; i < indices.size(); ++i) {
      std::copy_n(from.begin() + indices[i] * image, image,
                  to.begin() + static_cast<std::ptrdiff_t>(i) * image);
    }
  };
  gather(set.pixels, out.pixels);
  gather(set.float_pixels, out.float_pixels);
  for (const std::int64_t i : indices) {
    out.labels.push_back(set.labels[static_cast<std::size_t>(i)]);
    if (!set.clients.empty()) out.clients.push_back(set.clients[static_cast<std::size_t>(i)]);
  }
  return out;
}

Hash32 content_hash(const Dataset& dataset) {
  crypto::Sha256 hash;
  Writer header;
  header.text("fedchain/dataset-content/v1")
      .u64(static_cast<std::uint64_t>(dataset.num_classes))
      .u64(static_cast<std::uint64_t>(dataset.train.channels))
      .u64(static_cast<std::uint64_t>(dataset.train.rows))
      .u64(static_cast<std::uint64_t>(dataset.train.cols));
  hash.update(header.data());
  hash_split(hash, dataset.train);
  hash_split(hash, dataset.test);
  return hash.finish();
}

PixelStats pixel_stats(const ImageSet& set) {
  const auto channels = static_cast<std::size_t>(set.channels);
  const auto plane = static_cast<std::size_t>(set.rows * set.cols);
  PixelStats stats{std::vector<double>(channels, 0.0), std::vector<double>(channels, 0.0)};
  if (set.count == 0 || plane == 0) return stats;
  const auto n = static_cast<double>(set.count) * static_cast<double>(plane);
  for (std::size_t c = 0; c < channels; ++c) {
    if (set.type == PixelType::kUint8) {
      // Integer sums are exact, so the result does not depend on summation order.
      std::uint64_t sum = 0;
      std::uint64_t sum_squares = 0;
      for (std::int64_t i = 0; i < set.count; ++i) {
        const std::uint8_t* p =
            set.pixels.data() + (static_cast<std::size_t>(i) * channels + c) * plane;
        for (std::size_t j = 0; j < plane; ++j) {
          sum += p[j];
          sum_squares += std::uint64_t{p[j]} * p[j];
        }
      }
      const double mean = static_cast<double>(sum) / n / 255.0;
      const double mean_square = static_cast<double>(sum_squares) / n / (255.0 * 255.0);
      stats.mean[c] = mean;
      stats.stddev[c] = std::sqrt(std::max(0.0, mean_square - mean * mean));
      continue;
    }
    // float32: two passes in index order (the mean, then the squared deviations).
    const auto channel_values = [&](auto&& visit) {
      for (std::int64_t i = 0; i < set.count; ++i) {
        const float* p =
            set.float_pixels.data() + (static_cast<std::size_t>(i) * channels + c) * plane;
        for (std::size_t j = 0; j < plane; ++j) visit(static_cast<double>(p[j]));
      }
    };
    double sum = 0.0;
    channel_values([&](double v) { sum += v; });
    const double mean = sum / n;
    double squares = 0.0;
    channel_values([&](double v) { squares += (v - mean) * (v - mean); });
    stats.mean[c] = mean;
    stats.stddev[c] = std::sqrt(squares / n);
  }
  return stats;
}

}  // namespace fedchain::data
