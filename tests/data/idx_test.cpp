// IDX parsing against small files written in the test: good, bad magic, truncated (in the
// payload, in the header, and a cut gzip stream), trailing bytes and count mismatches.
#include <gtest/gtest.h>

#include "data_test_util.hpp"
#include "fedchain/data/idx.hpp"

namespace fedchain::data {
namespace {

using testing::idx_bytes;
using testing::pattern_labels;
using testing::pattern_pixels;
using testing::TempDir;
using testing::write_gz;
using testing::write_raw;

TEST(Idx, ReadsGzippedImagesAndLabels) {
  TempDir dir;
  const auto pixels = pattern_pixels(5, 3, 4);
  write_gz(dir.path() / "images.gz", idx_bytes(kIdxImagesMagic, {5, 3, 4}, pixels));
  write_gz(dir.path() / "labels.gz", idx_bytes(kIdxLabelsMagic, {5}, pattern_labels(5)));

  auto set = read_idx_split(dir.path() / "images.gz", dir.path() / "labels.gz");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->count, 5);
  EXPECT_EQ(set->rows, 3);
  EXPECT_EQ(set->cols, 4);
  EXPECT_EQ(set->pixels, pixels);
  EXPECT_EQ(set->labels, pattern_labels(5));
}

TEST(Idx, ReadsUncompressedFilesToo) {
  TempDir dir;
  write_raw(dir.path() / "labels", idx_bytes(kIdxLabelsMagic, {3}, {7, 8, 9}));
  auto labels = read_idx_labels(dir.path() / "labels");
  ASSERT_TRUE(labels) << labels.error().message;
  EXPECT_EQ(*labels, (std::vector<std::uint8_t>{7, 8, 9}));
}

TEST(Idx, MissingFileIsAConfigErrorNamingIt) {
  TempDir dir;
  auto images = read_idx_images(dir.path() / "absent.gz");
  ASSERT_FALSE(images);
  EXPECT_EQ(images.error().kind, ErrorKind::kConfig);
  EXPECT_EQ(images.error().code, "missing-file");
  EXPECT_NE(images.error().message.find("absent.gz"), std::string::npos);
}

TEST(Idx, RejectsBadMagic) {
  TempDir dir;
  // A labels file where images are expected, and a float-typed (0x0D) IDX file.
  write_gz(dir.path() / "labels.gz", idx_bytes(kIdxLabelsMagic, {2}, {1, 2}));
  write_gz(dir.path() / "floats.gz", idx_bytes(0x00000D03, {1, 1, 1}, {0, 0, 0, 0}));
  for (const char* name : {"labels.gz", "floats.gz"}) {
    auto images = read_idx_images(dir.path() / name);
    ASSERT_FALSE(images) << name;
    EXPECT_EQ(images.error().code, "bad-magic");
    EXPECT_EQ(images.error().kind, ErrorKind::kConfig);
    EXPECT_NE(images.error().message.find(name), std::string::npos) << images.error().message;
    EXPECT_NE(images.error().message.find("0x00000803"), std::string::npos);
  }
  auto labels = read_idx_labels(dir.path() / "floats.gz");
  ASSERT_FALSE(labels);
  EXPECT_EQ(labels.error().code, "bad-magic");
}

TEST(Idx, RejectsTruncatedPayloadAndHeader) {
  TempDir dir;
  auto short_payload = pattern_pixels(4, 2, 2);
  short_payload.pop_back();
  write_gz(dir.path() / "payload.gz", idx_bytes(kIdxImagesMagic, {4, 2, 2}, short_payload));
  write_gz(dir.path() / "header.gz", idx_bytes(kIdxImagesMagic, {4}, {}));
  write_gz(dir.path() / "empty.gz", {});
  for (const char* name : {"payload.gz", "header.gz", "empty.gz"}) {
    auto images = read_idx_images(dir.path() / name);
    ASSERT_FALSE(images) << name;
    EXPECT_EQ(images.error().code, "truncated") << images.error().message;
    EXPECT_NE(images.error().message.find(name), std::string::npos);
  }
}

TEST(Idx, RejectsAGzipStreamCutShort) {
  TempDir dir;
  write_gz(dir.path() / "whole.gz",
           idx_bytes(kIdxImagesMagic, {64, 28, 28}, pattern_pixels(64, 28, 28)));
  auto bytes = testing::read_raw(dir.path() / "whole.gz");
  bytes.resize(bytes.size() / 2);
  write_raw(dir.path() / "cut.gz", bytes);
  auto images = read_idx_images(dir.path() / "cut.gz");
  ASSERT_FALSE(images);
  EXPECT_EQ(images.error().code, "truncated") << images.error().message;
  EXPECT_EQ(images.error().kind, ErrorKind::kConfig);
}

TEST(Idx, RejectsTrailingBytes) {
  TempDir dir;
  write_gz(dir.path() / "labels.gz", idx_bytes(kIdxLabelsMagic, {2}, {1, 2, 3}));
  auto labels = read_idx_labels(dir.path() / "labels.gz");
  ASSERT_FALSE(labels);
  EXPECT_EQ(labels.error().code, "trailing-bytes");
}

TEST(Idx, RejectsZeroAndAbsurdDimensions) {
  TempDir dir;
  write_gz(dir.path() / "zero.gz", idx_bytes(kIdxImagesMagic, {3, 0, 28}, {}));
  write_gz(dir.path() / "huge.gz", idx_bytes(kIdxImagesMagic, {0xFFFFFFFF, 28, 28}, {}));
  for (const char* name : {"zero.gz", "huge.gz"}) {
    auto images = read_idx_images(dir.path() / name);
    ASSERT_FALSE(images) << name;
    EXPECT_EQ(images.error().code, "bad-shape") << images.error().message;
  }
}

TEST(Idx, RejectsCountMismatchBetweenImagesAndLabels) {
  TempDir dir;
  write_gz(dir.path() / "images.gz",
           idx_bytes(kIdxImagesMagic, {5, 2, 2}, pattern_pixels(5, 2, 2)));
  write_gz(dir.path() / "labels.gz", idx_bytes(kIdxLabelsMagic, {4}, pattern_labels(4)));
  auto set = read_idx_split(dir.path() / "images.gz", dir.path() / "labels.gz");
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code, "count-mismatch");
  EXPECT_NE(set.error().message.find("5 images"), std::string::npos) << set.error().message;
  EXPECT_NE(set.error().message.find("4 labels"), std::string::npos);
}

TEST(Idx, RejectsLabelsOutOfRange) {
  TempDir dir;
  write_gz(dir.path() / "images.gz",
           idx_bytes(kIdxImagesMagic, {3, 2, 2}, pattern_pixels(3, 2, 2)));
  write_gz(dir.path() / "labels.gz", idx_bytes(kIdxLabelsMagic, {3}, {0, 10, 1}));
  auto set = read_idx_split(dir.path() / "images.gz", dir.path() / "labels.gz");
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().code, "label-out-of-range");
  EXPECT_NE(set.error().message.find("index 1"), std::string::npos) << set.error().message;
}

}  // namespace
}  // namespace fedchain::data
