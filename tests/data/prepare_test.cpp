// `fedchain data prepare` as a library call: synthetic IDX directories (always), and the
// real Fashion-MNIST files where Debian's dataset-fashion-mnist is installed.
#include <gtest/gtest.h>

#include "data_test_util.hpp"
#include "fedchain/data/dataset.hpp"
#include "fedchain/data/idx.hpp"
#include "fedchain/data/prepare.hpp"
#include "file_sha256.hpp"

namespace fedchain::data {
namespace {

using testing::idx_bytes;
using testing::pattern_labels;
using testing::pattern_pixels;
using testing::TempDir;
using testing::write_gz;

using Files = FashionMnistFiles;

// A Fashion-MNIST-shaped IDX directory with `train` and `test` samples.
void write_fake_fashion(const std::filesystem::path& dir, std::uint32_t train, std::uint32_t test) {
  std::filesystem::create_directories(dir);
  write_gz(dir / Files::kTrainImages,
           idx_bytes(kIdxImagesMagic, {train, 28, 28}, pattern_pixels(train, 28, 28)));
  write_gz(dir / Files::kTrainLabels, idx_bytes(kIdxLabelsMagic, {train}, pattern_labels(train)));
  write_gz(dir / Files::kTestImages,
           idx_bytes(kIdxImagesMagic, {test, 28, 28}, pattern_pixels(test, 28, 28)));
  write_gz(dir / Files::kTestLabels, idx_bytes(kIdxLabelsMagic, {test}, pattern_labels(test)));
}

TEST(FileSha256, MatchesTheNistVector) {
  TempDir dir;
  testing::write_raw(dir.path() / "abc", {'a', 'b', 'c'});
  auto digest = file_sha256_hex(dir.path() / "abc");
  ASSERT_TRUE(digest) << digest.error().message;
  EXPECT_EQ(*digest, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Prepare, WritesASyntheticDirectoryWithHashes) {
  TempDir dir;
  write_fake_fashion(dir.path() / "idx", 30, 12);
  const auto out = dir.path() / "out" / "fm.h5";
  auto info = prepare_idx_dataset(Published::kFashionMnist, dir.path() / "idx", out);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->train_count, 30);
  EXPECT_EQ(info->test_count, 12);

  auto stored = read_dataset_info(out);
  ASSERT_TRUE(stored) << stored.error().message;
  EXPECT_EQ(stored->source, "fashion-mnist");
  ASSERT_EQ(stored->sources.size(), 4u);
  EXPECT_EQ(stored->sources[0].name, Files::kTrainImages);
  EXPECT_EQ(stored->sources[3].name, Files::kTestLabels);
  EXPECT_EQ(stored->sources[0].sha256_hex,
            file_sha256_hex(dir.path() / "idx" / Files::kTrainImages).value());
  EXPECT_EQ(stored->sources[3].sha256_hex,
            file_sha256_hex(dir.path() / "idx" / Files::kTestLabels).value());

  auto dataset = read_dataset(out);
  ASSERT_TRUE(dataset) << dataset.error().message;
  EXPECT_EQ(dataset->train.pixels, pattern_pixels(30, 28, 28));
  EXPECT_EQ(dataset->test.labels, pattern_labels(12));
}

TEST(Prepare, BadInputsAreConfigErrorsAndLeaveTheOldOutputAlone) {
  TempDir dir;
  const auto idx = dir.path() / "idx";
  write_fake_fashion(idx, 10, 10);
  const auto out = dir.path() / "fm.h5";
  ASSERT_TRUE(prepare_idx_dataset(Published::kFashionMnist, idx, out));
  const auto before = testing::read_raw(out);

  // Bad magic: test images replaced by a labels file.
  write_gz(idx / Files::kTestImages, idx_bytes(kIdxLabelsMagic, {10}, pattern_labels(10)));
  auto result = prepare_idx_dataset(Published::kFashionMnist, idx, out);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kConfig);
  EXPECT_EQ(result.error().code, "bad-magic");
  EXPECT_NE(result.error().message.find(Files::kTestImages), std::string::npos);

  // Wrong image size for Fashion-MNIST.
  write_gz(idx / Files::kTestImages,
           idx_bytes(kIdxImagesMagic, {10, 14, 14}, pattern_pixels(10, 14, 14)));
  result = prepare_idx_dataset(Published::kFashionMnist, idx, out);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, "bad-shape");

  // A missing file.
  std::filesystem::remove(idx / Files::kTrainLabels);
  result = prepare_idx_dataset(Published::kFashionMnist, idx, out);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, "missing-file");
  EXPECT_NE(result.error().message.find(Files::kTrainLabels), std::string::npos);

  EXPECT_EQ(testing::read_raw(out), before);
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"fm.h5", "idx"})) << "no temp file left behind";
}

TEST(Prepare, MissingDirectoryNamesThePackage) {
  TempDir dir;
  auto result =
      prepare_idx_dataset(Published::kFashionMnist, dir.path() / "nowhere", dir.path() / "fm.h5");
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kConfig);
  EXPECT_NE(result.error().message.find("dataset-fashion-mnist"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "fm.h5"));
}

TEST(Prepare, RealFashionMnist) {
  const std::filesystem::path idx(kFashionMnistIdxDir);
  if (!std::filesystem::is_directory(idx)) {
    GTEST_SKIP() << idx << " is absent: install Debian's dataset-fashion-mnist "
                 << "(scripts/setup-debian.sh) to run this test";
  }
  TempDir dir;
  const auto out = dir.path() / "fashion-mnist.h5";
  auto info = prepare_idx_dataset(Published::kFashionMnist, idx, out);
  ASSERT_TRUE(info) << info.error().message;
  auto dataset = read_dataset(out);
  ASSERT_TRUE(dataset) << dataset.error().message;
  EXPECT_EQ(dataset->train.count, 60000);
  EXPECT_EQ(dataset->test.count, 10000);
  EXPECT_EQ(dataset->train.rows, 28);
  EXPECT_EQ(dataset->train.cols, 28);
  EXPECT_EQ(dataset->num_classes, 10);
  // Fashion-MNIST is balanced: 6,000 train and 1,000 test images per class.
  std::vector<int> train_per_class(10, 0);
  std::vector<int> test_per_class(10, 0);
  for (const auto label : dataset->train.labels) ++train_per_class[label];
  for (const auto label : dataset->test.labels) ++test_per_class[label];
  EXPECT_EQ(train_per_class, std::vector<int>(10, 6000));
  EXPECT_EQ(test_per_class, std::vector<int>(10, 1000));
  // The first training labels of the published file: ankle boot, T-shirt, T-shirt, dress.
  EXPECT_EQ(
      std::vector<std::uint8_t>(dataset->train.labels.begin(), dataset->train.labels.begin() + 4),
      (std::vector<std::uint8_t>{9, 0, 0, 3}));

  auto stored = read_dataset_info(out);
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->sources.size(), 4U);
  EXPECT_EQ(stored->sources[0].sha256_hex, file_sha256_hex(idx / Files::kTrainImages).value());
  EXPECT_EQ(stored->sources[0].sha256_hex.size(), 64U);
}

}  // namespace
}  // namespace fedchain::data
