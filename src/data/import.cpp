// `fedchain data import` (import.hpp): arrays from .npy or HDF5 files, checked, converted to
// the dataset layout (N x C x H x W, uint8 labels, int64 client ids) and written.
#include <fmt/ranges.h>

#include "fedchain/data/import.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <system_error>
#include <vector>

#include "fedchain/data/npy.hpp"
#include "file_sha256.hpp"
#include "hdf5_util.hpp"

namespace fedchain::data {

namespace {

template <typename... Args>
Error import_error(std::string code, fmt::format_string<Args...> format, Args&&... args) {
  return {ErrorKind::kConfig, fmt::format(format, std::forward<Args>(args)...), std::move(code)};
}

// One input array, whatever file it came from: C-order little-endian bytes.
struct LoadedArray {
  std::string name;  // "x.npy" or "x.h5:/images", for messages
  char kind = 'u';   // 'u', 'i' or 'f'
  std::size_t item_size = 1;
  std::vector<std::int64_t> shape;
  Bytes data;
  SourceFile source;
  std::int64_t elements() const {
    return std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>());
  }
};

Result<LoadedArray> load_npy(const std::filesystem::path& path) {
  auto npy = read_npy(path, kImportMaxFileBytes);
  if (!npy) return npy.error();
  LoadedArray array;
  array.name = path.string();
  array.kind = npy->header.kind;
  array.item_size = npy->header.item_size;
  array.shape = npy->header.shape;
  array.data = std::move(npy->data);
  array.source = {path.filename().string(), std::move(npy->sha256_hex)};
  return array;
}

// The HDF5 memory type that reads an array of this class, sign and size as it is.
hid_t native_type(H5T_class_t kind, H5T_sign_t sign, std::size_t size) {
  if (kind == H5T_FLOAT) return size == 4 ? H5T_NATIVE_FLOAT : size == 8 ? H5T_NATIVE_DOUBLE : -1;
  if (kind != H5T_INTEGER) return -1;
  const bool is_signed = sign != H5T_SGN_NONE;
  switch (size) {
    case 1:
      return is_signed ? H5T_NATIVE_INT8 : H5T_NATIVE_UINT8;
    case 2:
      return is_signed ? H5T_NATIVE_INT16 : H5T_NATIVE_UINT16;
    case 4:
      return is_signed ? H5T_NATIVE_INT32 : H5T_NATIVE_UINT32;
    case 8:
      return is_signed ? H5T_NATIVE_INT64 : H5T_NATIVE_UINT64;
    default:
      return -1;
  }
}

Result<LoadedArray> load_hdf5(const std::filesystem::path& path, const std::string& dataset) {
  const h5::QuietErrors quiet;
  LoadedArray array;
  array.name = path.string() + ":" + dataset;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return import_error("missing-file", "{}: no such file", path.string());
  }
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    return import_error("bad-magic", "{}: neither a .npy file (by its name) nor an HDF5 file",
                        path.string());
  }
  h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.valid() || H5Lexists(file.get(), dataset.c_str(), H5P_DEFAULT) <= 0) {
    return import_error("missing-file", "{}: no dataset {} (name it as FILE:DATASET)",
                        path.string(), dataset);
  }
  h5::Handle set(H5Dopen2(file.get(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  h5::Handle type(H5Dget_type(set.get()), H5Tclose);
  const H5T_class_t kind = H5Tget_class(type.get());
  array.item_size = H5Tget_size(type.get());
  const hid_t memory = native_type(kind, H5Tget_sign(type.get()), array.item_size);
  if (!set.valid() || memory < 0) {
    return import_error("bad-dtype", "{}: not an integer or float array", array.name);
  }
  array.kind = kind == H5T_FLOAT ? 'f' : H5Tget_sign(type.get()) == H5T_SGN_NONE ? 'u' : 'i';
  h5::Handle space(H5Dget_space(set.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 1 || rank > static_cast<int>(kNpyMaxDims)) {
    return import_error("bad-shape", "{}: {} dimensions", array.name, rank);
  }
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  std::uint64_t bytes = array.item_size;
  for (const hsize_t d : dims) {
    if (d != 0 && bytes > static_cast<std::uint64_t>(kImportMaxFileBytes) / d) {
      return import_error("bad-shape", "{}: larger than the {} bytes fedchain reads", array.name,
                          kImportMaxFileBytes);
    }
    bytes *= d;
    array.shape.push_back(static_cast<std::int64_t>(d));
  }
  array.data.resize(bytes);
  if (bytes > 0 &&
      H5Dread(set.get(), memory, H5S_ALL, H5S_ALL, H5P_DEFAULT, array.data.data()) < 0) {
    return import_error("unreadable", "{}: cannot read", array.name);
  }
  auto digest = file_sha256_hex(path);
  if (!digest) return digest.error();
  array.source = {path.filename().string(), std::move(*digest)};
  return array;
}

// FILE.npy; FILE:DATASET where FILE exists; else FILE with `default_dataset`.
Result<LoadedArray> load_array(const std::string& spec, const char* default_dataset) {
  if (spec.ends_with(".npy")) return load_npy(spec);
  const auto colon = spec.rfind(':');
  std::error_code ec;
  if (colon != std::string::npos && colon > 0 &&
      std::filesystem::is_regular_file(spec.substr(0, colon), ec)) {
    return load_hdf5(spec.substr(0, colon), spec.substr(colon + 1));
  }
  return load_hdf5(spec, default_dataset);
}

template <typename T>
T element(const LoadedArray& array, std::size_t i) {
  T value;
  std::memcpy(&value, array.data.data() + i * sizeof(T), sizeof(T));
  return value;
}

// Element i of an integer array as int64; nullopt for a uint64 above int64's range.
std::optional<std::int64_t> integer_at(const LoadedArray& a, std::size_t i) {
  const bool u = a.kind == 'u';
  switch (a.item_size) {
    case 1:
      return u ? std::int64_t{element<std::uint8_t>(a, i)} : element<std::int8_t>(a, i);
    case 2:
      return u ? std::int64_t{element<std::uint16_t>(a, i)} : element<std::int16_t>(a, i);
    case 4:
      return u ? std::int64_t{element<std::uint32_t>(a, i)} : element<std::int32_t>(a, i);
    default: {
      if (!u) return element<std::int64_t>(a, i);
      const auto value = element<std::uint64_t>(a, i);
      if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return std::nullopt;
      }
      return static_cast<std::int64_t>(value);
    }
  }
}

// A 1-D integer array (labels, client ids) as int64.
Result<std::vector<std::int64_t>> integers_from(const LoadedArray& array) {
  if (array.kind == 'f') {
    return import_error("bad-dtype", "{}: holds floats; labels and client ids must be integers",
                        array.name);
  }
  if (array.shape.size() != 1) {
    return import_error("bad-shape", "{}: shape ({}) is not one-dimensional (N)", array.name,
                        fmt::join(array.shape, ", "));
  }
  std::vector<std::int64_t> values(static_cast<std::size_t>(array.shape[0]));
  for (std::size_t i = 0; i < values.size(); ++i) {
    auto value = integer_at(array, i);
    if (!value) {
      return import_error("label-out-of-range", "{}: element {} is above 2^63 - 1", array.name, i);
    }
    values[i] = *value;
  }
  return values;
}

// (N, H, W) -> C = 1; (N, C, H, W); (N, H, W, C) with channels_last, transposed here.
Status shape_images(const LoadedArray& array, bool channels_last, ImageSet& set) {
  const auto& s = array.shape;
  const bool three = s.size() == 3;
  if (!three && s.size() != 4) {
    return import_error("bad-shape", "{}: shape ({}): images must be (N, H, W) or (N, {})",
                        array.name, fmt::join(s, ", "), channels_last ? "H, W, C" : "C, H, W");
  }
  set.count = s[0];
  set.channels = three ? 1 : channels_last ? s[3] : s[1];
  set.rows = three ? s[1] : channels_last ? s[1] : s[2];
  set.cols = three ? s[2] : channels_last ? s[2] : s[3];
  if (set.count < 1 || set.channels < 1 || set.rows < 1 || set.cols < 1) {
    return import_error("bad-shape", "{}: shape ({}) has an empty dimension", array.name,
                        fmt::join(s, ", "));
  }
  return {};
}

// Copies element (sample n, pixel p, channel c) of an NHWC array to NCHW order, or as is.
template <typename T>
std::vector<T> planar(const LoadedArray& array, const ImageSet& set, bool channels_last) {
  std::vector<T> out(static_cast<std::size_t>(array.elements()));
  std::memcpy(out.data(), array.data.data(), out.size() * sizeof(T));
  if (!channels_last || set.channels == 1) return out;
  std::vector<T> moved(out.size());
  const auto plane = static_cast<std::size_t>(set.rows * set.cols);
  const auto channels = static_cast<std::size_t>(set.channels);
  for (std::size_t n = 0; n < static_cast<std::size_t>(set.count); ++n) {
    for (std::size_t p = 0; p < plane; ++p) {
      for (std::size_t c = 0; c < channels; ++c) {
        moved[(n * channels + c) * plane + p] = out[(n * plane + p) * channels + c];
      }
    }
  }
  return moved;
}

Result<ImageSet> images_from(const LoadedArray& array, bool channels_last) {
  ImageSet set;
  if (auto st = shape_images(array, channels_last, set); !st) return st.error();
  if (array.kind == 'u' && array.item_size == 1) {
    set.pixels = planar<std::uint8_t>(array, set, channels_last);
    return set;
  }
  if (array.kind != 'f' || array.item_size != 4) {
    return import_error("bad-dtype",
                        "{}: images must be uint8 or float32 (convert with .astype(np.uint8) or "
                        ".astype(np.float32))",
                        array.name);
  }
  set.type = PixelType::kFloat32;
  set.float_pixels = planar<float>(array, set, channels_last);
  const auto image = static_cast<std::size_t>(set.image_size());
  for (std::size_t i = 0; i < set.float_pixels.size(); ++i) {
    if (!std::isfinite(set.float_pixels[i])) {
      return import_error("bad-dtype", "{}: image {} holds a NaN or infinite value", array.name,
                          i / image);
    }
  }
  return set;
}

Status check_count(const LoadedArray& images, std::int64_t count, const LoadedArray& other,
                   std::size_t other_count) {
  if (static_cast<std::size_t>(count) == other_count) return {};
  return import_error("count-mismatch", "{} holds {} images but {} holds {} entries", images.name,
                      count, other.name, other_count);
}

// Images and labels (and client ids) of one split.
Result<ImageSet> load_split(
    const std::string& images_spec, const std::string& labels_spec, const std::string& clients_spec,
    const ImportOptions& options, std::vector<SourceFile>& sources,
    std::vector<std::pair<std::string, std::vector<std::int64_t>>>& labels) {
  auto images = load_array(images_spec, "images");
  if (!images) return images.error();
  auto set = images_from(*images, options.channels_last);
  if (!set) return set.error();
  sources.push_back(images->source);
  auto label_array = load_array(labels_spec, "labels");
  if (!label_array) return label_array.error();
  auto values = integers_from(*label_array);
  if (!values) return values.error();
  if (auto st = check_count(*images, set->count, *label_array, values->size()); !st) {
    return st.error();
  }
  sources.push_back(label_array->source);
  labels.emplace_back(label_array->name, std::move(*values));
  if (!clients_spec.empty()) {
    auto client_array = load_array(clients_spec, "clients");
    if (!client_array) return client_array.error();
    auto ids = integers_from(*client_array);
    if (!ids) return ids.error();
    if (auto st = check_count(*images, set->count, *client_array, ids->size()); !st) {
      return st.error();
    }
    sources.push_back(client_array->source);
    set->clients = std::move(*ids);
  }
  return set;
}

// Every label in [0, classes), classes = options.classes or the largest label + 1.
Result<std::int64_t> check_labels(
    const std::vector<std::pair<std::string, std::vector<std::int64_t>>>& labels,
    std::int64_t requested) {
  std::int64_t largest = -1;
  for (const auto& [name, values] : labels) {
    for (const auto v : values) largest = std::max(largest, v);
  }
  const std::int64_t classes = requested > 0 ? requested : largest + 1;
  const std::int64_t bound = std::min<std::int64_t>(classes, 256);
  for (const auto& [name, values] : labels) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (values[i] < 0 || values[i] >= bound) {
        return import_error("label-out-of-range", "{}: label {} of sample {} is not in [0, {}){}",
                            name, values[i], i, bound,
                            requested > 0 ? " (--classes)" : " (at most 256 classes)");
      }
    }
  }
  return classes;
}

Status check_options(const ImportOptions& options) {
  const bool test_arrays = !options.test_images.empty() || !options.test_labels.empty();
  if (test_arrays && (options.test_images.empty() || options.test_labels.empty())) {
    return import_error("bad-option", "give both --test-images and --test-labels, or neither");
  }
  if (test_arrays && options.test_percent != 0) {
    return import_error("bad-option", "give test arrays or --test-percent, not both");
  }
  if (!test_arrays && (options.test_percent < 1 || options.test_percent > 99)) {
    return import_error("bad-option",
                        "no test split: give --test-images and --test-labels, or --test-percent P "
                        "(1 to 99) to hold out every (100/P)-th sample");
  }
  if (options.classes < 0 || options.classes > 256) {
    return import_error("bad-option", "--classes {} is outside 1 to 256", options.classes);
  }
  return {};
}

// --test-percent: the held-out rule of import.hpp.
void hold_out(ImageSet& train, ImageSet& test, std::int64_t percent) {
  std::vector<std::int64_t> kept;
  std::vector<std::int64_t> held;
  for (std::int64_t i = 0; i < train.count; ++i) (held_out(i, percent) ? held : kept).push_back(i);
  test = subset(train, held);
  test.clients.clear();
  train = subset(train, kept);
}

void set_labels(ImageSet& set, const std::vector<std::int64_t>& values) {
  set.labels.assign(values.begin(), values.end());
}

}  // namespace

Result<ImageSet> read_image_array(const std::string& spec, bool channels_last) {
  auto array = load_array(spec, "images");
  if (!array) return array.error();
  return images_from(*array, channels_last);
}

Result<DatasetInfo> import_dataset(const ImportOptions& options) {
  if (auto st = check_options(options); !st) return st.error();
  DatasetInfo info;
  info.source = options.name;
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> labels;
  auto train =
      load_split(options.images, options.labels, options.clients, options, info.sources, labels);
  if (!train) return train.error();
  Dataset dataset;
  if (!options.test_images.empty()) {
    auto test =
        load_split(options.test_images, options.test_labels, "", options, info.sources, labels);
    if (!test) return test.error();
    if (test->channels != train->channels || test->rows != train->rows ||
        test->cols != train->cols || test->type != train->type) {
      return import_error("bad-shape",
                          "{}: test images are {} x {} x {}, train images {} x {} x {}",
                          options.test_images, test->channels, test->rows, test->cols,
                          train->channels, train->rows, train->cols);
    }
    dataset.test = std::move(*test);
  }
  // Labels become uint8 only once every one is known to be in range.
  auto classes = check_labels(labels, options.classes);
  if (!classes) return classes.error();
  dataset.num_classes = *classes;
  dataset.train = std::move(*train);
  set_labels(dataset.train, labels[0].second);
  if (labels.size() > 1) set_labels(dataset.test, labels[1].second);
  if (options.test_images.empty()) hold_out(dataset.train, dataset.test, options.test_percent);
  if (dataset.train.count == 0 || dataset.test.count == 0) {
    return import_error("bad-shape", "{}: {} train and {} test samples: both splits need one",
                        options.images, dataset.train.count, dataset.test.count);
  }
  if (auto st = write_dataset(options.out, dataset, info); !st) return st.error();
  return read_dataset_info(options.out);
}

}  // namespace fedchain::data
