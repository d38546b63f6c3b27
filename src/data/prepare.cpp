// Published datasets (prepare.hpp): IDX or CIFAR binary files in, one HDF5 dataset file out.
#include <fmt/ranges.h>

#include "fedchain/data/prepare.hpp"

#include <string>
#include <system_error>
#include <vector>

#include "fedchain/crypto/sha256.hpp"
#include "fedchain/data/idx.hpp"
#include "file_bytes.hpp"
#include "file_sha256.hpp"

namespace fedchain::data {

namespace {

constexpr std::int64_t kIdxSide = 28;
constexpr std::int64_t kIdxClasses = 10;

template <typename... Args>
Error data_error(std::string code, fmt::format_string<Args...> format, Args&&... args) {
  return {ErrorKind::kConfig, fmt::format(format, std::forward<Args>(args)...), std::move(code)};
}

// NAME as given (gzipped), else NAME without ".gz"; the gzipped name when neither exists,
// so the error names what the distribution ships.
std::filesystem::path idx_file(const std::filesystem::path& dir, std::string_view gz_name) {
  std::error_code ec;
  const auto gzipped = dir / gz_name;
  if (std::filesystem::exists(gzipped, ec)) return gzipped;
  const auto plain = dir / gz_name.substr(0, gz_name.size() - 3);
  return std::filesystem::exists(plain, ec) ? plain : gzipped;
}

Result<ImageSet> read_idx_dataset_split(Published dataset, const std::filesystem::path& idx_dir,
                                        std::string_view images_name, std::string_view labels_name,
                                        std::vector<SourceFile>& sources) {
  const auto images_path = idx_file(idx_dir, images_name);
  const auto labels_path = idx_file(idx_dir, labels_name);
  auto set = read_idx_split(images_path, labels_path, kIdxClasses);
  if (!set) return set.error();
  if (set->rows != kIdxSide || set->cols != kIdxSide) {
    return data_error("bad-shape", "{}: images are {} x {}, {} images are 28 x 28",
                      images_path.string(), set->rows, set->cols, published_name(dataset));
  }
  for (const auto& path : {images_path, labels_path}) {
    auto digest = file_sha256_hex(path);
    if (!digest) return digest.error();
    sources.push_back({path.filename().string(), std::move(*digest)});
  }
  return set;
}

Status check_directory(Published dataset, const std::filesystem::path& dir,
                       std::string_view expected) {
  std::error_code ec;
  if (std::filesystem::is_directory(dir, ec)) return {};
  const std::string hint =
      dataset == Published::kFashionMnist
          ? "install Debian's dataset-fashion-mnist (scripts/setup-debian.sh) or pass --from DIR"
          : "pass --from DIR (docs/data.md says where to get the files)";
  return data_error("missing-file", "{}: no such directory; {} with {}", dir.string(), hint,
                    expected);
}

// Appends `part` to `whole` (same shape).
void append(ImageSet& whole, ImageSet&& part) {
  if (whole.count == 0) {
    whole = std::move(part);
    return;
  }
  whole.count += part.count;
  whole.pixels.insert(whole.pixels.end(), part.pixels.begin(), part.pixels.end());
  whole.labels.insert(whole.labels.end(), part.labels.begin(), part.labels.end());
}

Result<ImageSet> read_cifar_files(const std::filesystem::path& dir,
                                  const std::vector<std::string>& names, const CifarFormat& format,
                                  std::vector<SourceFile>& sources) {
  ImageSet whole;
  for (const auto& name : names) {
    SourceFile source;
    auto part = read_cifar_file(dir / name, format, source);
    if (!part) return part.error();
    sources.push_back(std::move(source));
    append(whole, std::move(*part));
  }
  return whole;
}

}  // namespace

std::string_view published_name(Published dataset) {
  switch (dataset) {
    case Published::kMnist:
      return "mnist";
    case Published::kFashionMnist:
      return "fashion-mnist";
    case Published::kCifar10:
      return "cifar10";
    case Published::kCifar100:
      return "cifar100";
  }
  return "unknown";
}

Result<DatasetInfo> prepare_idx_dataset(Published dataset, const std::filesystem::path& idx_dir,
                                        const std::filesystem::path& out_path) {
  using Files = FashionMnistFiles;
  if (auto st =
          check_directory(dataset, idx_dir,
                          fmt::format("{}, {}, {} and {} (gzipped or not)", Files::kTrainImages,
                                      Files::kTrainLabels, Files::kTestImages, Files::kTestLabels));
      !st) {
    return st.error();
  }
  DatasetInfo info;
  info.source = std::string(published_name(dataset));
  Dataset out;
  out.num_classes = kIdxClasses;
  auto train = read_idx_dataset_split(dataset, idx_dir, Files::kTrainImages, Files::kTrainLabels,
                                      info.sources);
  if (!train) return train.error();
  auto test = read_idx_dataset_split(dataset, idx_dir, Files::kTestImages, Files::kTestLabels,
                                     info.sources);
  if (!test) return test.error();
  out.train = std::move(*train);
  out.test = std::move(*test);
  if (auto st = write_dataset(out_path, out, info); !st) return st.error();
  return read_dataset_info(out_path);
}

CifarFormat cifar_format(Published dataset) {
  if (dataset == Published::kCifar100) return {2, 1, 100, 20};
  return {1, 0, 10, 0};
}

Result<ImageSet> read_cifar_file(const std::filesystem::path& path, const CifarFormat& format,
                                 SourceFile& source) {
  auto bytes = read_whole_file(path, kCifarMaxFileBytes);
  if (!bytes) return bytes.error();
  const auto record = static_cast<std::size_t>(format.label_bytes + kCifarPixelBytes);
  const std::size_t records = bytes->size() / record;
  if (bytes->empty() || bytes->size() % record != 0) {
    return data_error("truncated",
                      "{}: truncated: {} bytes is not a whole number of {}-byte records (record "
                      "{} is cut short after {} bytes)",
                      path.string(), bytes->size(), record, records, bytes->size() % record);
  }
  ImageSet set;
  set.count = static_cast<std::int64_t>(records);
  set.channels = 3;
  set.rows = kCifarSide;
  set.cols = kCifarSide;
  set.pixels.reserve(records * static_cast<std::size_t>(kCifarPixelBytes));
  set.labels.reserve(records);
  for (std::size_t r = 0; r < records; ++r) {
    const std::uint8_t* at = bytes->data() + r * record;
    const std::uint8_t label = at[format.label_index];
    if (label >= format.num_classes ||
        (format.coarse_classes > 0 && at[0] >= format.coarse_classes)) {
      const bool coarse = label < format.num_classes;
      return data_error("label-out-of-range", "{}: record {}: {} label {} is not below {}",
                        path.string(), r, coarse ? "coarse" : "the", coarse ? at[0] : label,
                        coarse ? format.coarse_classes : format.num_classes);
    }
    set.labels.push_back(label);
    set.pixels.insert(set.pixels.end(), at + format.label_bytes, at + record);
  }
  source = {path.filename().string(), crypto::sha256(*bytes).hex()};
  return set;
}

Result<DatasetInfo> prepare_cifar(Published dataset, const std::filesystem::path& dir,
                                  const std::filesystem::path& out_path) {
  const bool is_100 = dataset == Published::kCifar100;
  const std::vector<std::string> train_names =
      is_100 ? std::vector<std::string>{"train.bin"}
             : std::vector<std::string>{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                        "data_batch_4.bin", "data_batch_5.bin"};
  const std::string test_name = is_100 ? "test.bin" : "test_batch.bin";
  const std::string unpacked = is_100 ? "cifar-100-binary" : "cifar-10-batches-bin";
  if (auto st = check_directory(dataset, dir,
                                fmt::format("{} and {} (or the folder {} holding them)",
                                            fmt::join(train_names, ", "), test_name, unpacked));
      !st) {
    return st.error();
  }
  std::error_code ec;
  const auto from = !std::filesystem::exists(dir / train_names.front(), ec) &&
                            std::filesystem::is_directory(dir / unpacked, ec)
                        ? dir / unpacked
                        : dir;
  const CifarFormat format = cifar_format(dataset);
  DatasetInfo info;
  info.source = std::string(published_name(dataset));
  Dataset out;
  out.num_classes = format.num_classes;
  auto train = read_cifar_files(from, train_names, format, info.sources);
  if (!train) return train.error();
  auto test = read_cifar_files(from, {test_name}, format, info.sources);
  if (!test) return test.error();
  out.train = std::move(*train);
  out.test = std::move(*test);
  if (auto st = write_dataset(out_path, out, info); !st) return st.error();
  return read_dataset_info(out_path);
}

}  // namespace fedchain::data
