// HDF5 dataset files: round trip with provenance, limits, and the checks that refuse files
// of the wrong shape or type; a failed write leaves nothing behind.
#include <hdf5.h>

#include <array>

#include <gtest/gtest.h>

#include "data_test_util.hpp"
#include "fedchain/data/dataset.hpp"

namespace fedchain::data {
namespace {

using testing::pattern_labels;
using testing::pattern_pixels;
using testing::TempDir;

ImageSet pattern_set(std::uint32_t n, std::uint32_t rows, std::uint32_t cols) {
  ImageSet set;
  set.count = n;
  set.rows = rows;
  set.cols = cols;
  set.pixels = pattern_pixels(n, rows, cols);
  set.labels = pattern_labels(n);
  return set;
}

DatasetInfo provenance() {
  DatasetInfo info;
  info.source = "synthetic";
  info.train_images = {"a.gz", std::string(64, 'a')};
  info.train_labels = {"b.gz", std::string(64, 'b')};
  info.test_images = {"c.gz", std::string(64, 'c')};
  info.test_labels = {"d.gz", std::string(64, 'd')};
  return info;
}

Dataset small_dataset() {
  Dataset dataset;
  dataset.train = pattern_set(50, 4, 3);
  dataset.test = pattern_set(20, 4, 3);
  return dataset;
}

bool only_entry_is(const std::filesystem::path& dir, const std::string& name) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  return names == std::vector<std::string>{name};
}

TEST(Dataset, RoundTripsArraysAndProvenance) {
  TempDir dir;
  const auto path = dir.path() / "nested" / "set.h5";
  const Dataset written = small_dataset();
  ASSERT_TRUE(write_dataset(path, written, provenance()));
  EXPECT_TRUE(only_entry_is(path.parent_path(), "set.h5"));

  auto read = read_dataset(path);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->num_classes, 10);
  for (auto [got, want] :
       {std::pair{&read->train, &written.train}, std::pair{&read->test, &written.test}}) {
    EXPECT_EQ(got->count, want->count);
    EXPECT_EQ(got->rows, 4);
    EXPECT_EQ(got->cols, 3);
    EXPECT_EQ(got->pixels, want->pixels);
    EXPECT_EQ(got->labels, want->labels);
  }

  auto info = read_dataset_info(path);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->source, "synthetic");
  EXPECT_EQ(info->train_count, 50);
  EXPECT_EQ(info->test_count, 20);
  EXPECT_EQ(info->rows, 4);
  EXPECT_EQ(info->cols, 3);
  EXPECT_EQ(info->train_images.name, "a.gz");
  EXPECT_EQ(info->train_labels.sha256_hex, std::string(64, 'b'));
  EXPECT_EQ(info->test_images.name, "c.gz");
  EXPECT_EQ(info->test_labels.sha256_hex, std::string(64, 'd'));
}

TEST(Dataset, LimitsKeepTheFirstSamples) {
  TempDir dir;
  const auto path = dir.path() / "set.h5";
  const Dataset written = small_dataset();
  ASSERT_TRUE(write_dataset(path, written, provenance()));
  auto read = read_dataset(path, 7, 1000);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->train.count, 7);
  EXPECT_EQ(read->train.labels, std::vector<std::uint8_t>(written.train.labels.begin(),
                                                          written.train.labels.begin() + 7));
  EXPECT_EQ(read->train.pixels, std::vector<std::uint8_t>(written.train.pixels.begin(),
                                                          written.train.pixels.begin() + 7 * 12));
  EXPECT_EQ(read->test.count, 20) << "a limit above the split's size keeps all of it";

  auto negative = read_dataset(path, -1, 0);
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error().kind, ErrorKind::kConfig);
}

TEST(Dataset, MissingFileSaysHowToCreateIt) {
  TempDir dir;
  auto read = read_dataset(dir.path() / "absent.h5");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().kind, ErrorKind::kConfig);
  EXPECT_NE(read.error().message.find("fedchain data prepare fashion-mnist --out"),
            std::string::npos)
      << read.error().message;
  EXPECT_NE(read.error().message.find("absent.h5"), std::string::npos);
}

TEST(Dataset, RefusesAFileThatIsNotHdf5) {
  TempDir dir;
  testing::write_raw(dir.path() / "text.h5", {'h', 'e', 'l', 'l', 'o'});
  auto read = read_dataset(dir.path() / "text.h5");
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().kind, ErrorKind::kConfig);
  EXPECT_NE(read.error().message.find("not an HDF5 file"), std::string::npos);
}

// Writes an HDF5 file by hand with one array of the given type and shape under `name`.
void write_custom_array(const std::filesystem::path& path, const char* name, hid_t type,
                        std::vector<hsize_t> dims) {
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t group = H5Gcreate2(file, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t set = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(set, 0);
  H5Dclose(set);
  H5Sclose(space);
  H5Gclose(group);
  H5Fclose(file);
}

TEST(Dataset, RefusesWrongDtypeAndShape) {
  TempDir dir;
  const auto float_images = dir.path() / "float.h5";
  write_custom_array(float_images, "/train/images", H5T_IEEE_F32LE, {10, 28, 28});
  const auto flat_images = dir.path() / "flat.h5";
  write_custom_array(flat_images, "/train/images", H5T_STD_U8LE, {10, 784});
  const auto no_labels = dir.path() / "nolabels.h5";
  write_custom_array(no_labels, "/train/images", H5T_STD_U8LE, {10, 28, 28});

  auto read = read_dataset(float_images);
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message.find("/train/images must hold unsigned 8-bit"), std::string::npos)
      << read.error().message;
  read = read_dataset(flat_images);
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message.find("/train/images has 2 dimensions, expected 3"),
            std::string::npos)
      << read.error().message;
  read = read_dataset(no_labels);
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message.find("no dataset /train/labels"), std::string::npos)
      << read.error().message;
  EXPECT_EQ(read.error().kind, ErrorKind::kConfig);
}

TEST(Dataset, RefusesAbsurdSizesBeforeAllocating) {
  TempDir dir;
  const auto path = dir.path() / "huge.h5";
  // 2^40 bytes of images declared; HDF5 allocates file space only on write, so the file
  // stays small.
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  const hid_t group = H5Gcreate2(file, "train", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  const std::array<hsize_t, 3> image_dims{hsize_t{1} << 20, 1024, 1024};
  const hid_t image_space = H5Screate_simple(3, image_dims.data(), nullptr);
  const hid_t label_space = H5Screate_simple(1, image_dims.data(), nullptr);
  H5Dclose(H5Dcreate2(file, "/train/images", H5T_STD_U8LE, image_space, H5P_DEFAULT, H5P_DEFAULT,
                      H5P_DEFAULT));
  H5Dclose(H5Dcreate2(file, "/train/labels", H5T_STD_U8LE, label_space, H5P_DEFAULT, H5P_DEFAULT,
                      H5P_DEFAULT));
  H5Sclose(label_space);
  H5Sclose(image_space);
  H5Gclose(group);
  H5Fclose(file);
  auto read = read_dataset(path);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().kind, ErrorKind::kConfig);
  EXPECT_NE(read.error().message.find("larger than fedchain loads"), std::string::npos)
      << read.error().message;
}

TEST(Dataset, RefusesLabelsAtOrAboveNumClasses) {
  TempDir dir;
  Dataset dataset = small_dataset();
  dataset.num_classes = 5;  // pattern labels run to 9
  ASSERT_TRUE(write_dataset(dir.path() / "set.h5", dataset, provenance()));
  auto read = read_dataset(dir.path() / "set.h5");
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message.find("/train/labels[5] = 5 is not below num_classes = 5"),
            std::string::npos)
      << read.error().message;
}

TEST(Dataset, FailedWriteLeavesNoFileBehind) {
  TempDir dir;
  // The target is a directory, so the final rename fails after the temp file was written.
  const auto target = dir.path() / "occupied";
  std::filesystem::create_directories(target / "inside");
  const Status st = write_dataset(target, small_dataset(), provenance());
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind, ErrorKind::kRuntime);
  EXPECT_TRUE(only_entry_is(dir.path(), "occupied")) << "the temp file must be removed";

  // Inconsistent arrays are refused before anything is created.
  Dataset broken = small_dataset();
  broken.train.labels.pop_back();
  ASSERT_FALSE(write_dataset(dir.path() / "broken.h5", broken, provenance()));
  EXPECT_TRUE(only_entry_is(dir.path(), "occupied"));
}

TEST(Dataset, SubsetCopiesTheChosenSamplesInOrder) {
  const ImageSet set = pattern_set(6, 2, 2);
  const std::array<std::int64_t, 3> indices{4, 1, 5};
  const ImageSet picked = subset(set, indices);
  ASSERT_EQ(picked.count, 3);
  EXPECT_EQ(picked.labels, (std::vector<std::uint8_t>{4, 1, 5}));
  EXPECT_EQ(picked.pixels, (std::vector<std::uint8_t>{4, 5, 6, 7, 1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(Dataset, PixelStatsAreExact) {
  ImageSet set;
  set.count = 1;
  set.rows = 1;
  set.cols = 4;
  set.pixels = {0, 255, 0, 255};
  const PixelStats stats = pixel_stats(set);
  EXPECT_DOUBLE_EQ(stats.mean, 0.5);
  EXPECT_DOUBLE_EQ(stats.stddev, 0.5);
}

}  // namespace
}  // namespace fedchain::data
