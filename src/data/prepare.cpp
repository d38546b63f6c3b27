// Fashion-MNIST preparation (prepare.hpp): IDX files in, one HDF5 dataset file out.
#include "fedchain/data/prepare.hpp"

#include <string>
#include <system_error>
#include <tuple>

#include "fedchain/data/idx.hpp"
#include "file_sha256.hpp"

namespace fedchain::data {

namespace {

constexpr std::int64_t kFashionMnistSide = 28;
constexpr std::int64_t kFashionMnistClasses = 10;

Result<ImageSet> read_fashion_split(const std::filesystem::path& idx_dir,
                                    std::string_view images_name, std::string_view labels_name,
                                    SourceFile& images_source, SourceFile& labels_source) {
  const auto images_path = idx_dir / images_name;
  const auto labels_path = idx_dir / labels_name;
  auto set = read_idx_split(images_path, labels_path, kFashionMnistClasses);
  if (!set) return set.error();
  if (set->rows != kFashionMnistSide || set->cols != kFashionMnistSide) {
    return Error{ErrorKind::kConfig,
                 fmt::format("{}: images are {} x {}, Fashion-MNIST images are 28 x 28",
                             images_path.string(), set->rows, set->cols),
                 "bad-shape"};
  }
  for (auto [source, path, name] : {std::tuple{&images_source, images_path, images_name},
                                    std::tuple{&labels_source, labels_path, labels_name}}) {
    auto digest = file_sha256_hex(path);
    if (!digest) return digest.error();
    source->name = std::string(name);
    source->sha256_hex = std::move(*digest);
  }
  return set;
}

}  // namespace

Result<DatasetInfo> prepare_fashion_mnist(const std::filesystem::path& idx_dir,
                                          const std::filesystem::path& out_path) {
  std::error_code ec;
  if (!std::filesystem::is_directory(idx_dir, ec)) {
    return Error{ErrorKind::kConfig,
                 fmt::format("{}: no such directory; install Debian's dataset-fashion-mnist "
                             "(scripts/setup-debian.sh) or pass --idx-dir DIR with {}, {}, {} "
                             "and {}",
                             idx_dir.string(), FashionMnistFiles::kTrainImages,
                             FashionMnistFiles::kTrainLabels, FashionMnistFiles::kTestImages,
                             FashionMnistFiles::kTestLabels),
                 "missing-file"};
  }
  DatasetInfo info;
  info.source = "fashion-mnist";
  info.num_classes = kFashionMnistClasses;
  Dataset dataset;
  dataset.num_classes = kFashionMnistClasses;
  auto train =
      read_fashion_split(idx_dir, FashionMnistFiles::kTrainImages, FashionMnistFiles::kTrainLabels,
                         info.train_images, info.train_labels);
  if (!train) return train.error();
  auto test =
      read_fashion_split(idx_dir, FashionMnistFiles::kTestImages, FashionMnistFiles::kTestLabels,
                         info.test_images, info.test_labels);
  if (!test) return test.error();
  dataset.train = std::move(*train);
  dataset.test = std::move(*test);
  info.train_count = dataset.train.count;
  info.test_count = dataset.test.count;
  info.rows = kFashionMnistSide;
  info.cols = kFashionMnistSide;
  if (auto st = write_dataset(out_path, dataset, info); !st) return st.error();
  return info;
}

}  // namespace fedchain::data
