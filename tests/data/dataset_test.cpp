// HDF5 dataset files: round trip with provenance, limits, and the checks that refuse files
// of the wrong shape or type; a failed write leaves nothing behind.
#include <hdf5.h>

#include <array>
#include <cmath>
#include <tuple>

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
  info.sources = {{"a.gz", std::string(64, 'a')},
                  {"b.gz", std::string(64, 'b')},
                  {"c.gz", std::string(64, 'c')},
                  {"d.gz", std::string(64, 'd')}};
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
  EXPECT_EQ(info->channels, 1);
  ASSERT_EQ(info->sources.size(), 4u);
  EXPECT_EQ(info->sources[0].name, "a.gz");
  EXPECT_EQ(info->sources[1].sha256_hex, std::string(64, 'b'));
  EXPECT_EQ(info->sources[2].name, "c.gz");
  EXPECT_EQ(info->sources[3].sha256_hex, std::string(64, 'd'));
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
  write_custom_array(float_images, "/train/images", H5T_STD_I16LE, {10, 28, 28});
  const auto flat_images = dir.path() / "flat.h5";
  write_custom_array(flat_images, "/train/images", H5T_STD_U8LE, {10, 784});
  const auto no_labels = dir.path() / "nolabels.h5";
  write_custom_array(no_labels, "/train/images", H5T_STD_U8LE, {10, 28, 28});

  auto read = read_dataset(float_images);
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message.find("/train/images must hold unsigned 8-bit integers (uint8) or "
                                      "float32"),
            std::string::npos)
      << read.error().message;
  read = read_dataset(flat_images);
  ASSERT_FALSE(read);
  EXPECT_NE(read.error().message.find("/train/images has 2 dimensions, expected 3 or 4"),
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
  ASSERT_EQ(stats.mean.size(), 1u);
  EXPECT_DOUBLE_EQ(stats.mean[0], 0.5);
  EXPECT_DOUBLE_EQ(stats.stddev[0], 0.5);
}

// Two images of 3 channels x 1 x 2: channel c of image i holds {10 c + i, 10 c + i + 2}.
ImageSet three_channel_set() {
  ImageSet set;
  set.count = 2;
  set.channels = 3;
  set.rows = 1;
  set.cols = 2;
  for (std::uint8_t i = 0; i < 2; ++i) {
    for (std::uint8_t c = 0; c < 3; ++c) {
      set.pixels.push_back(static_cast<std::uint8_t>(10 * c + i));
      set.pixels.push_back(static_cast<std::uint8_t>(10 * c + i + 2));
    }
  }
  set.labels = {1, 2};
  return set;
}

TEST(Dataset, PixelStatsArePerChannel) {
  const PixelStats stats = pixel_stats(three_channel_set());
  ASSERT_EQ(stats.mean.size(), 3u);
  for (int c = 0; c < 3; ++c) {
    // Channel c holds 10c, 10c + 2, 10c + 1, 10c + 3: mean 10c + 1.5, variance 1.25.
    EXPECT_NEAR(stats.mean[c] * 255.0, 10.0 * c + 1.5, 1e-9) << c;
    EXPECT_NEAR(stats.stddev[c] * 255.0, std::sqrt(1.25), 1e-9) << c;
  }
  ImageSet floats = three_channel_set();
  floats.type = PixelType::kFloat32;
  floats.float_pixels.assign(floats.pixels.begin(), floats.pixels.end());
  floats.pixels.clear();
  const PixelStats float_stats = pixel_stats(floats);
  EXPECT_NEAR(float_stats.mean[2], 21.5, 1e-9) << "float32 data is not divided by 255";
  EXPECT_NEAR(float_stats.stddev[2], std::sqrt(1.25), 1e-9);
}

TEST(Dataset, RoundTripsChannelsFloatsAndClientIds) {
  TempDir dir;
  Dataset written;
  written.num_classes = 3;
  written.train = three_channel_set();
  written.train.clients = {7, -3};
  written.test = three_channel_set();
  ASSERT_TRUE(write_dataset(dir.path() / "rgb.h5", written, provenance()));
  auto read = read_dataset(dir.path() / "rgb.h5");
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->train.channels, 3);
  EXPECT_EQ(read->train.pixels, written.train.pixels);
  EXPECT_EQ(read->train.clients, (std::vector<std::int64_t>{7, -3}));
  EXPECT_TRUE(read->test.clients.empty());
  auto info = read_dataset_info(dir.path() / "rgb.h5");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->channels, 3);
  EXPECT_TRUE(info->has_clients);

  for (ImageSet* set : {&written.train, &written.test}) {
    set->type = PixelType::kFloat32;
    for (const std::uint8_t p : set->pixels) set->float_pixels.push_back(p / 7.0f);
    set->pixels.clear();
  }
  ASSERT_TRUE(write_dataset(dir.path() / "float.h5", written, provenance()));
  read = read_dataset(dir.path() / "float.h5", 1);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->train.type, PixelType::kFloat32);
  EXPECT_EQ(read->train.count, 1);
  EXPECT_EQ(read->train.float_pixels, std::vector<float>(written.train.float_pixels.begin(),
                                                         written.train.float_pixels.begin() + 6));
  EXPECT_EQ(read->train.clients, (std::vector<std::int64_t>{7}));
}

// The first layout, as files prepared before channels existed hold it: 3-D uint8 images and
// provenance on each array.
void write_version1_file(const std::filesystem::path& path, const Dataset& dataset) {
  const hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  for (auto [name, set] : {std::pair{"train", &dataset.train}, std::pair{"test", &dataset.test}}) {
    const hid_t group = H5Gcreate2(file, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const std::array<hsize_t, 3> dims{static_cast<hsize_t>(set->count),
                                      static_cast<hsize_t>(set->rows),
                                      static_cast<hsize_t>(set->cols)};
    for (auto [array, rank, data] : {std::tuple{"images", 3, set->pixels.data()},
                                     std::tuple{"labels", 1, set->labels.data()}}) {
      const hid_t space = H5Screate_simple(rank, dims.data(), nullptr);
      const hid_t d =
          H5Dcreate2(group, array, H5T_STD_U8LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(d, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
      const hid_t type = H5Tcopy(H5T_C_S1);
      H5Tset_size(type, 5);
      const hid_t scalar = H5Screate(H5S_SCALAR);
      const hid_t attr = H5Acreate2(d, "source_file", type, scalar, H5P_DEFAULT, H5P_DEFAULT);
      H5Awrite(attr, type, "x.gz");
      H5Aclose(attr);
      H5Sclose(scalar);
      H5Tclose(type);
      H5Dclose(d);
      H5Sclose(space);
    }
    H5Gclose(group);
  }
  H5Fclose(file);
}

TEST(Dataset, ReadsVersion1FilesAsOneChannelWithTheSameContentHash) {
  TempDir dir;
  const Dataset dataset = small_dataset();
  write_version1_file(dir.path() / "v1.h5", dataset);
  auto old = read_dataset(dir.path() / "v1.h5");
  ASSERT_TRUE(old) << old.error().message;
  EXPECT_EQ(old->train.channels, 1);
  EXPECT_EQ(old->train.pixels, dataset.train.pixels);
  auto info = read_dataset_info(dir.path() / "v1.h5");
  ASSERT_TRUE(info) << info.error().message;
  ASSERT_EQ(info->sources.size(), 4u);
  EXPECT_EQ(info->sources[0].name, "x.gz");

  ASSERT_TRUE(write_dataset(dir.path() / "v2.h5", *old, provenance()));
  auto rewritten = read_dataset(dir.path() / "v2.h5");
  ASSERT_TRUE(rewritten) << rewritten.error().message;
  EXPECT_EQ(content_hash(*rewritten), content_hash(*old))
      << "the hash is of the arrays, not of the file's layout";
}

TEST(Dataset, ContentHashSeesEveryArray) {
  Dataset base;
  base.num_classes = 3;
  base.train = three_channel_set();
  base.test = three_channel_set();
  const Hash32 hash = content_hash(base);
  EXPECT_EQ(content_hash(base), hash);
  std::vector<Dataset> changed(5, base);
  changed[0].train.pixels[5] ^= 1;
  changed[1].test.labels[0] = 0;
  changed[2].train.clients = {0, 0};
  changed[3].num_classes = 4;
  changed[4].train.channels = 1;  // same bytes read as 1 x 1 x 6 would be another dataset
  changed[4].train.cols = 6;
  for (const auto& other : changed) EXPECT_NE(content_hash(other), hash);
}

TEST(Dataset, RefusesClientIdsOfAnotherLength) {
  TempDir dir;
  Dataset dataset = small_dataset();
  dataset.train.clients.assign(49, 1);
  ASSERT_FALSE(write_dataset(dir.path() / "bad.h5", dataset, provenance()));
}

}  // namespace
}  // namespace fedchain::data
