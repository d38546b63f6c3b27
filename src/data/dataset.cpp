// Dataset files in HDF5 (docs/data.md): reading with shape, dtype and label checks, and
// writing through a temporary name so that a failure never leaves a half-written file.
#include "fedchain/data/dataset.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <system_error>

#include "fedchain/core/durable_file.hpp"
#include "hdf5_util.hpp"

namespace fedchain::data {

namespace {

constexpr const char* kFormat = "fedchain-dataset";
constexpr std::int64_t kFormatVersion = 1;
constexpr hsize_t kMaxImageBytes = hsize_t{1} << 24;
constexpr hsize_t kMaxSplitBytes = hsize_t{1} << 36;

std::string prepare_hint(const std::filesystem::path& path) {
  return fmt::format("run `fedchain data prepare fashion-mnist --out {}` to create it",
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

// Opens an array, checks that it is unsigned 8-bit with `rank` dimensions, returns its dims.
Result<std::array<hsize_t, 3>> array_shape(hid_t file, const std::filesystem::path& path,
                                           const char* name, int rank) {
  if (H5Lexists(file, name, H5P_DEFAULT) <= 0 || H5Oexists_by_name(file, name, H5P_DEFAULT) <= 0) {
    return config_error("{}: no dataset {}; {}", path.string(), name, prepare_hint(path));
  }
  h5::Handle set(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  if (!set.valid()) return config_error("{}: {} is not a dataset", path.string(), name);
  h5::Handle type(H5Dget_type(set.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_INTEGER || H5Tget_size(type.get()) != 1 ||
      H5Tget_sign(type.get()) != H5T_SGN_NONE) {
    return config_error("{}: {} must hold unsigned 8-bit integers (uint8)", path.string(), name);
  }
  h5::Handle space(H5Dget_space(set.get()), H5Sclose);
  const int ndims = H5Sget_simple_extent_ndims(space.get());
  if (ndims != rank) {
    return config_error("{}: {} has {} dimensions, expected {}", path.string(), name, ndims, rank);
  }
  std::array<hsize_t, 3> dims{0, 0, 0};
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  return dims;
}

// Reads the first `rows` entries along the first dimension of an array shaped `dims`.
Status read_leading(hid_t file, const std::filesystem::path& path, const char* name,
                    std::array<hsize_t, 3> dims, int rank, hsize_t rows, std::uint8_t* out) {
  if (rows == 0) return {};
  h5::Handle set(H5Dopen2(file, name, H5P_DEFAULT), H5Dclose);
  h5::Handle file_space(H5Dget_space(set.get()), H5Sclose);
  std::array<hsize_t, 3> start{0, 0, 0};
  std::array<hsize_t, 3> count = dims;
  count[0] = rows;
  h5::Handle memory_space(H5Screate_simple(rank, count.data(), nullptr), H5Sclose);
  if (H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start.data(), nullptr, count.data(),
                          nullptr) < 0 ||
      H5Dread(set.get(), H5T_NATIVE_UINT8, memory_space.get(), file_space.get(), H5P_DEFAULT, out) <
          0) {
    return runtime_error("{}: cannot read {}", path.string(), name);
  }
  return {};
}

Result<ImageSet> read_split(hid_t file, const std::filesystem::path& path, const std::string& split,
                            std::int64_t limit, std::int64_t num_classes) {
  const std::string images_name = "/" + split + "/images";
  const std::string labels_name = "/" + split + "/labels";
  auto image_dims = array_shape(file, path, images_name.c_str(), 3);
  if (!image_dims) return image_dims.error();
  auto label_dims = array_shape(file, path, labels_name.c_str(), 1);
  if (!label_dims) return label_dims.error();
  const auto [count, rows, cols] = *image_dims;
  if ((*label_dims)[0] != count) {
    return config_error("{}: {} holds {} images but {} holds {} labels", path.string(), images_name,
                        count, labels_name, (*label_dims)[0]);
  }
  if (count > 0 && (rows == 0 || cols == 0)) {
    return config_error("{}: {} has empty images ({} x {})", path.string(), images_name, rows,
                        cols);
  }
  const hsize_t kept = limit > 0 ? std::min<hsize_t>(count, static_cast<hsize_t>(limit)) : count;
  // Every rank holds its split whole in memory; refuse sizes no image dataset has before
  // multiplying (which could overflow) or allocating.
  if (rows > kMaxImageBytes || cols > kMaxImageBytes / std::max<hsize_t>(rows, 1) ||
      kept > kMaxSplitBytes / std::max<hsize_t>(rows * cols, 1)) {
    return config_error("{}: {} of {} x {} x {} is larger than fedchain loads ({} bytes)",
                        path.string(), images_name, kept, rows, cols, kMaxSplitBytes);
  }

  ImageSet set;
  set.count = static_cast<std::int64_t>(kept);
  set.rows = static_cast<std::int64_t>(rows);
  set.cols = static_cast<std::int64_t>(cols);
  set.pixels.resize(kept * rows * cols);
  set.labels.resize(kept);
  if (auto st =
          read_leading(file, path, images_name.c_str(), *image_dims, 3, kept, set.pixels.data());
      !st) {
    return st.error();
  }
  if (auto st =
          read_leading(file, path, labels_name.c_str(), *label_dims, 1, kept, set.labels.data());
      !st) {
    return st.error();
  }
  for (std::size_t i = 0; i < set.labels.size(); ++i) {
    if (set.labels[i] >= num_classes) {
      return config_error("{}: {}[{}] = {} is not below num_classes = {}", path.string(),
                          labels_name, i, set.labels[i], num_classes);
    }
  }
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

bool write_array(hid_t group, const char* name, const std::uint8_t* data, int rank,
                 const hsize_t* dims, const SourceFile& source) {
  h5::Handle space(H5Screate_simple(rank, dims, nullptr), H5Sclose);
  h5::Handle set(
      H5Dcreate2(group, name, H5T_STD_U8LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      H5Dclose);
  if (!set.valid()) return false;
  if (dims[0] > 0 &&
      H5Dwrite(set.get(), H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
    return false;
  }
  return h5::write_string_attribute(set.get(), "source_file", source.name) &&
         h5::write_string_attribute(set.get(), "sha256", source.sha256_hex) && set.close();
}

bool write_split(hid_t file, const char* split, const ImageSet& set, const SourceFile& images,
                 const SourceFile& labels) {
  h5::Handle group(H5Gcreate2(file, split, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  if (!group.valid()) return false;
  const std::array<hsize_t, 3> image_dims{static_cast<hsize_t>(set.count),
                                          static_cast<hsize_t>(set.rows),
                                          static_cast<hsize_t>(set.cols)};
  const hsize_t label_dims = static_cast<hsize_t>(set.count);
  return write_array(group.get(), "images", set.pixels.data(), 3, image_dims.data(), images) &&
         write_array(group.get(), "labels", set.labels.data(), 1, &label_dims, labels) &&
         group.close();
}

Status check_consistent(const ImageSet& set, const char* split) {
  if (set.count < 0 || set.rows <= 0 || set.cols <= 0 ||
      set.pixels.size() != static_cast<std::size_t>(set.count * set.rows * set.cols) ||
      set.labels.size() != static_cast<std::size_t>(set.count)) {
    return runtime_error(
        "cannot write the {} split: count {}, shape {} x {}, {} pixels and {} labels do not "
        "agree",
        split, set.count, set.rows, set.cols, set.pixels.size(), set.labels.size());
  }
  return {};
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
  if (train->rows != test->rows || train->cols != test->cols) {
    return config_error("{}: train images are {} x {} but test images are {} x {}", path.string(),
                        train->rows, train->cols, test->rows, test->cols);
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
  auto train = array_shape(id, path, "/train/images", 3);
  if (!train) return train.error();
  auto test = array_shape(id, path, "/test/images", 3);
  if (!test) return test.error();
  info.train_count = static_cast<std::int64_t>((*train)[0]);
  info.test_count = static_cast<std::int64_t>((*test)[0]);
  info.rows = static_cast<std::int64_t>((*train)[1]);
  info.cols = static_cast<std::int64_t>((*train)[2]);
  for (auto [source, name] : {std::pair{&info.train_images, "/train/images"},
                              std::pair{&info.train_labels, "/train/labels"},
                              std::pair{&info.test_images, "/test/images"},
                              std::pair{&info.test_labels, "/test/labels"}}) {
    if (H5Oexists_by_name(id, name, H5P_DEFAULT) <= 0) continue;
    h5::Handle set(H5Dopen2(id, name, H5P_DEFAULT), H5Dclose);
    source->name = h5::read_string_attribute(set.get(), "source_file").value_or("");
    source->sha256_hex = h5::read_string_attribute(set.get(), "sha256").value_or("");
  }
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
        write_split(file.get(), "train", dataset.train, info.train_images, info.train_labels) &&
        write_split(file.get(), "test", dataset.test, info.test_images, info.test_labels);
    if (!written) return fail("HDF5 write failed (disk full or no permission?)");
    if (!file.close()) return fail("HDF5 could not flush and close the file");
  }
  return commit_temp_file(temp, path);
}

ImageSet subset(const ImageSet& set, std::span<const std::int64_t> indices) {
  ImageSet out;
  out.count = static_cast<std::int64_t>(indices.size());
  out.rows = set.rows;
  out.cols = set.cols;
  const auto image_bytes = static_cast<std::size_t>(set.rows * set.cols);
  out.pixels.resize(indices.size() * image_bytes);
  out.labels.resize(indices.size());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const auto from = static_cast<std::size_t>(indices[i]);
    std::copy_n(set.pixels.begin() + static_cast<std::ptrdiff_t>(from * image_bytes), image_bytes,
                out.pixels.begin() + static_cast<std::ptrdiff_t>(i * image_bytes));
    out.labels[i] = set.labels[from];
  }
  return out;
}

PixelStats pixel_stats(const ImageSet& set) {
  // Integer sums are exact, so the result does not depend on summation order.
  std::uint64_t sum = 0;
  std::uint64_t sum_squares = 0;
  for (const std::uint8_t p : set.pixels) {
    sum += p;
    sum_squares += std::uint64_t{p} * p;
  }
  if (set.pixels.empty()) return {};
  const auto n = static_cast<double>(set.pixels.size());
  const double mean = static_cast<double>(sum) / n / 255.0;
  const double mean_square = static_cast<double>(sum_squares) / n / (255.0 * 255.0);
  const double variance = std::max(0.0, mean_square - mean * mean);
  return {mean, std::sqrt(variance)};
}

}  // namespace fedchain::data
