// The published formats `fedchain data prepare` reads beyond Fashion-MNIST (MNIST's IDX,
// gzipped or not; CIFAR-10/100 binaries) and the arrays `fedchain data import` reads (.npy and
// HDF5), on files written here byte by byte: layouts, and every refusal naming the file and
// record, with no output left behind.
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

#include <gtest/gtest.h>

#include "data_test_util.hpp"
#include "fedchain/data/dataset.hpp"
#include "fedchain/data/idx.hpp"
#include "fedchain/data/import.hpp"
#include "fedchain/data/npy.hpp"
#include "fedchain/data/partition.hpp"
#include "fedchain/data/prepare.hpp"

namespace fedchain::data {
namespace {

using testing::idx_bytes;
using testing::pattern_labels;
using testing::pattern_pixels;
using testing::TempDir;
using testing::write_gz;
using testing::write_raw;

bool holds_only(const std::filesystem::path& dir, std::vector<std::string> expected) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  std::sort(expected.begin(), expected.end());
  return names == expected;
}

// ---- MNIST: the IDX files, plain or gzipped ----

TEST(PrepareMnist, ReadsPlainAndGzippedIdxFiles) {
  TempDir dir;
  const auto idx = dir.path() / "mnist";
  std::filesystem::create_directories(idx);
  // Train files plain, test files gzipped, as a user may have unpacked only some.
  write_raw(idx / "train-images-idx3-ubyte",
            idx_bytes(kIdxImagesMagic, {20, 28, 28}, pattern_pixels(20, 28, 28)));
  write_raw(idx / "train-labels-idx1-ubyte", idx_bytes(kIdxLabelsMagic, {20}, pattern_labels(20)));
  write_gz(idx / "t10k-images-idx3-ubyte.gz",
           idx_bytes(kIdxImagesMagic, {5, 28, 28}, pattern_pixels(5, 28, 28)));
  write_gz(idx / "t10k-labels-idx1-ubyte.gz", idx_bytes(kIdxLabelsMagic, {5}, pattern_labels(5)));
  auto info = prepare_idx_dataset(Published::kMnist, idx, dir.path() / "mnist.h5");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->source, "mnist");
  EXPECT_EQ(info->channels, 1);
  ASSERT_EQ(info->sources.size(), 4u);
  EXPECT_EQ(info->sources[0].name, "train-images-idx3-ubyte");
  EXPECT_EQ(info->sources[2].name, "t10k-images-idx3-ubyte.gz");
  auto dataset = read_dataset(dir.path() / "mnist.h5");
  ASSERT_TRUE(dataset) << dataset.error().message;
  EXPECT_EQ(dataset->train.pixels, pattern_pixels(20, 28, 28));
  EXPECT_EQ(dataset->test.labels, pattern_labels(5));

  // A truncated plain file names itself; the earlier output stays as it was.
  const auto before = testing::read_raw(dir.path() / "mnist.h5");
  auto cut = idx_bytes(kIdxImagesMagic, {20, 28, 28}, pattern_pixels(20, 28, 28));
  cut.resize(cut.size() - 100);
  write_raw(idx / "train-images-idx3-ubyte", cut);
  info = prepare_idx_dataset(Published::kMnist, idx, dir.path() / "mnist.h5");
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code, "truncated");
  EXPECT_NE(info.error().message.find("train-images-idx3-ubyte"), std::string::npos);
  EXPECT_EQ(testing::read_raw(dir.path() / "mnist.h5"), before);
  EXPECT_TRUE(holds_only(dir.path(), {"mnist", "mnist.h5"}));
}

// ---- CIFAR binaries ----

// n records of CIFAR-10 (label_bytes 1) or CIFAR-100 (2): record r has labels from `label`,
// and pixel (c, y, x) = (r + c * 7 + y * 32 + x) mod 256.
std::vector<std::uint8_t> cifar_records(int n, int label_bytes,
                                        const std::function<std::uint8_t(int, int)>& label) {
  std::vector<std::uint8_t> out;
  for (int r = 0; r < n; ++r) {
    for (int b = 0; b < label_bytes; ++b) out.push_back(label(r, b));
    for (int c = 0; c < 3; ++c) {
      for (int p = 0; p < 1024; ++p) out.push_back(static_cast<std::uint8_t>(r + c * 7 + p));
    }
  }
  return out;
}

void write_cifar10(const std::filesystem::path& dir, int per_batch) {
  std::filesystem::create_directories(dir);
  const auto label = [](int r, int) { return static_cast<std::uint8_t>(r % 10); };
  for (int b = 1; b <= 5; ++b) {
    write_raw(dir / fmt::format("data_batch_{}.bin", b), cifar_records(per_batch, 1, label));
  }
  write_raw(dir / "test_batch.bin", cifar_records(per_batch, 1, label));
}

TEST(PrepareCifar, Cifar10RecordsBecomeChannelsFirstImages) {
  TempDir dir;
  // The folder the archive unpacks to, found under --from.
  write_cifar10(dir.path() / "dl" / "cifar-10-batches-bin", 3);
  auto info = prepare_cifar(Published::kCifar10, dir.path() / "dl", dir.path() / "c10.h5");
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->train_count, 15);
  EXPECT_EQ(info->test_count, 3);
  EXPECT_EQ(info->channels, 3);
  EXPECT_EQ(info->rows, 32);
  EXPECT_EQ(info->sources.size(), 6u);
  auto dataset = read_dataset(dir.path() / "c10.h5");
  ASSERT_TRUE(dataset) << dataset.error().message;
  EXPECT_EQ(dataset->num_classes, 10);
  // Record 1 of batch 2 is training sample 4: label 1; green (c = 1) pixel (y 2, x 5).
  const auto& train = dataset->train;
  EXPECT_EQ(train.labels[4], 1);
  EXPECT_EQ(train.pixels[(4 * 3 + 1) * 1024 + 2 * 32 + 5],
            static_cast<std::uint8_t>(1 + 7 + 2 * 32 + 5));
}

TEST(PrepareCifar, Cifar100KeepsTheFineLabel) {
  TempDir dir;
  const auto from = dir.path() / "cifar-100-binary";
  std::filesystem::create_directories(from);
  // coarse = r mod 20, fine = 99 - r.
  const auto labels = [](int r, int b) {
    return static_cast<std::uint8_t>(b == 0 ? r % 20 : 99 - r);
  };
  write_raw(from / "train.bin", cifar_records(4, 2, labels));
  write_raw(from / "test.bin", cifar_records(2, 2, labels));
  auto info = prepare_cifar(Published::kCifar100, from, dir.path() / "c100.h5");
  ASSERT_TRUE(info) << info.error().message;
  auto dataset = read_dataset(dir.path() / "c100.h5");
  ASSERT_TRUE(dataset) << dataset.error().message;
  EXPECT_EQ(dataset->num_classes, 100);
  EXPECT_EQ(dataset->train.labels, (std::vector<std::uint8_t>{99, 98, 97, 96}));
  EXPECT_EQ(dataset->train.pixels[3 * 3072], 3)
      << "record 3's first red pixel, after 2 label bytes";
}

TEST(PrepareCifar, BadFilesNameTheFileAndRecordAndWriteNothing) {
  TempDir dir;
  const auto from = dir.path() / "c10";
  write_cifar10(from, 4);
  const auto out = dir.path() / "out.h5";
  const auto expect_refused = [&](const std::string& code, const std::string& fragment) {
    auto info = prepare_cifar(Published::kCifar10, from, out);
    ASSERT_FALSE(info) << code;
    EXPECT_EQ(info.error().kind, ErrorKind::kConfig);
    EXPECT_EQ(info.error().code, code) << info.error().message;
    EXPECT_NE(info.error().message.find(fragment), std::string::npos) << info.error().message;
    EXPECT_TRUE(holds_only(dir.path(), {"c10"})) << "nothing written for " << code;
  };
  const auto label = [](int r, int) { return static_cast<std::uint8_t>(r % 10); };

  auto cut = cifar_records(4, 1, label);
  cut.resize(cut.size() - 10);
  write_raw(from / "data_batch_3.bin", cut);
  expect_refused("truncated", "data_batch_3.bin: truncated: 12282 bytes");
  expect_refused("truncated", "record 3 is cut short");

  write_raw(from / "data_batch_3.bin", cifar_records(4, 1, [](int r, int) {
              return static_cast<std::uint8_t>(r == 2 ? 10 : 0);
            }));
  expect_refused("label-out-of-range", "data_batch_3.bin: record 2: the label 10 is not below 10");

  write_raw(from / "data_batch_3.bin", {});
  expect_refused("truncated", "data_batch_3.bin: truncated: 0 bytes");

  std::filesystem::remove(from / "data_batch_3.bin");
  expect_refused("missing-file", "data_batch_3.bin: no such file");

  auto missing_dir = prepare_cifar(Published::kCifar10, dir.path() / "none", out);
  ASSERT_FALSE(missing_dir);
  EXPECT_NE(missing_dir.error().message.find("cifar-10-batches-bin"), std::string::npos);
}

TEST(PrepareCifar, Cifar100CoarseLabelIsCheckedToo) {
  TempDir dir;
  const auto labels = [](int r, int b) {
    return static_cast<std::uint8_t>(b == 0 && r == 1 ? 20 : 5);
  };
  write_raw(dir.path() / "train.bin", cifar_records(2, 2, labels));
  write_raw(dir.path() / "test.bin", cifar_records(2, 2, labels));
  auto info = prepare_cifar(Published::kCifar100, dir.path(), dir.path() / "out.h5");
  ASSERT_FALSE(info);
  EXPECT_NE(info.error().message.find("train.bin: record 1: coarse label 20 is not below 20"),
            std::string::npos)
      << info.error().message;
}

// ---- .npy ----

// A .npy file (format 1.0) as numpy writes it: the dict padded with spaces to a 64-byte
// boundary and ended with a newline.
std::vector<std::uint8_t> npy_file(const std::string& descr, const std::string& shape,
                                   const void* data, std::size_t bytes,
                                   const std::string& fortran = "False") {
  std::string dict =
      "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
  while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
  dict += '\n';
  std::vector<std::uint8_t> out{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  out.push_back(static_cast<std::uint8_t>(dict.size() & 0xff));
  out.push_back(static_cast<std::uint8_t>(dict.size() >> 8));
  out.insert(out.end(), dict.begin(), dict.end());
  const auto* p = static_cast<const std::uint8_t*>(data);
  out.insert(out.end(), p, p + bytes);
  return out;
}

template <typename T>
void write_npy(const std::filesystem::path& path, const std::string& descr,
               const std::string& shape, const std::vector<T>& values) {
  write_raw(path, npy_file(descr, shape, values.data(), values.size() * sizeof(T)));
}

TEST(Npy, ParsesTheHeaderNumpyWrites) {
  const std::vector<float> values{1.5f, -2.0f, 3.25f, 0.0f, 1.0f, 2.0f};
  const auto file = npy_file("<f4", "(2, 3)", values.data(), 24);
  auto header = parse_npy_header(file, "a.npy");
  ASSERT_TRUE(header) << header.error().message;
  EXPECT_EQ(header->kind, 'f');
  EXPECT_EQ(header->item_size, 4u);
  EXPECT_EQ(header->shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(header->data_offset % 64, 0u);
  for (const auto& [shape, dims] : {std::pair<std::string, std::vector<std::int64_t>>{"(7,)", {7}},
                                    {"()", {}},
                                    {"(1,2,3,4)", {1, 2, 3, 4}}}) {
    auto other = parse_npy_header(npy_file("|u1", shape, nullptr, 0), "b.npy");
    ASSERT_TRUE(other) << shape << ": " << other.error().message;
    EXPECT_EQ(other->shape, dims) << shape;
  }
}

TEST(Npy, RefusesDamagedAndUnsupportedHeaders) {
  const auto refused = [](std::vector<std::uint8_t> file, const std::string& code,
                          const std::string& fragment) {
    auto header = parse_npy_header(file, "x.npy");
    ASSERT_FALSE(header) << fragment;
    EXPECT_EQ(header.error().code, code) << header.error().message;
    EXPECT_EQ(header.error().kind, ErrorKind::kConfig);
    EXPECT_NE(header.error().message.find(fragment), std::string::npos) << header.error().message;
    EXPECT_NE(header.error().message.find("x.npy"), std::string::npos);
  };
  auto good = npy_file("<i8", "(3,)", nullptr, 0);
  auto bad_magic = good;
  bad_magic[1] = 'X';
  refused(bad_magic, "bad-magic", "not a .npy file");
  auto version = good;
  version[6] = 9;
  refused(version, "bad-header", "version 9.0");
  refused(std::vector<std::uint8_t>(good.begin(), good.begin() + 30), "truncated",
          "the header needs");
  refused({0x93, 'N'}, "truncated", "shorter than a .npy header");
  auto huge = good;
  huge[8] = 0xff;
  huge[9] = 0xff;
  refused(huge, "truncated", "the header needs 65535 bytes");
  refused(npy_file(">f4", "(3,)", nullptr, 0), "bad-header", "dtype '>f4'");
  refused(npy_file("|O", "(3,)", nullptr, 0), "bad-header", "dtype '|O'");
  refused(npy_file("<c8", "(3,)", nullptr, 0), "bad-header", "dtype '<c8'");
  refused(npy_file("<f4", "(3,)", nullptr, 0, "True"), "bad-header", "Fortran-ordered");
  refused(npy_file("<f4", "(3, x)", nullptr, 0), "bad-header", "other than integers");
  refused(npy_file("<f4", "(99999999999999,)", nullptr, 0), "bad-header", "too large");
  refused(npy_file("<f4", "(1048576, 1048576, 1048576, 1048576)", nullptr, 0), "bad-header",
          "too large");
  std::vector<std::uint8_t> no_shape{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 16, 0};
  const std::string dict = "{'descr': '<f4'}";
  no_shape.insert(no_shape.end(), dict.begin(), dict.end());
  refused(no_shape, "bad-header", "must all be given");
  std::vector<std::uint8_t> structured{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 20, 0};
  const std::string list = "{'descr': [('a', 1)]";
  structured.insert(structured.end(), list.begin(), list.end());
  refused(structured, "bad-header", "not a plain dtype");
}

TEST(Npy, DataMustMatchTheShape) {
  TempDir dir;
  const std::vector<std::uint8_t> six{1, 2, 3, 4, 5, 6};
  write_npy(dir.path() / "short.npy", "|u1", "(7,)", six);
  auto read = read_npy(dir.path() / "short.npy", 1 << 20);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, "truncated");
  EXPECT_NE(read.error().message.find("short.npy: truncated: shape (7) of |u1 needs 7 data bytes"),
            std::string::npos)
      << read.error().message;
  write_npy(dir.path() / "long.npy", "|u1", "(5,)", six);
  read = read_npy(dir.path() / "long.npy", 1 << 20);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, "trailing-bytes");
  write_npy(dir.path() / "ok.npy", "|u1", "(2, 3)", six);
  read = read_npy(dir.path() / "ok.npy", 1 << 20);
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(read->data, six);
  EXPECT_EQ(read->sha256_hex.size(), 64u);
  read = read_npy(dir.path() / "ok.npy", 16);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, "too-large");
}

// ---- import ----

// n images of C x 2 x 3 (uint8), labels i mod 3, client ids 100 + i mod 4.
struct Arrays {
  std::vector<std::uint8_t> images;
  std::vector<std::int64_t> labels;
  std::vector<std::int32_t> clients;
};
Arrays make_arrays(int n, int channels) {
  Arrays a;
  for (int i = 0; i < n * channels * 6; ++i) a.images.push_back(static_cast<std::uint8_t>(i % 251));
  for (int i = 0; i < n; ++i) {
    a.labels.push_back(i % 3);
    a.clients.push_back(100 + i % 4);
  }
  return a;
}

TEST(Import, NpyArraysWithClientsAndAHeldOutSplit) {
  TempDir dir;
  const Arrays a = make_arrays(20, 3);
  write_npy(dir.path() / "x.npy", "|u1", "(20, 3, 2, 3)", a.images);
  write_npy(dir.path() / "y.npy", "<i8", "(20,)", a.labels);
  write_npy(dir.path() / "c.npy", "<i4", "(20,)", a.clients);
  ImportOptions options;
  options.images = (dir.path() / "x.npy").string();
  options.labels = (dir.path() / "y.npy").string();
  options.clients = (dir.path() / "c.npy").string();
  options.test_percent = 20;
  options.name = "toy";
  options.out = dir.path() / "toy.h5";
  auto info = import_dataset(options);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->source, "toy");
  EXPECT_EQ(info->num_classes, 3);
  EXPECT_EQ(info->channels, 3);
  EXPECT_EQ(info->train_count, 16);
  EXPECT_EQ(info->test_count, 4);
  EXPECT_EQ(info->sources.size(), 3u);
  auto dataset = read_dataset(options.out);
  ASSERT_TRUE(dataset) << dataset.error().message;
  // 20%: samples 4, 9, 14, 19 are held out.
  std::vector<std::int64_t> test_ids;
  for (std::int64_t i = 0; i < 20; ++i) {
    if (held_out(i, 20)) test_ids.push_back(i);
  }
  EXPECT_EQ(test_ids, (std::vector<std::int64_t>{4, 9, 14, 19}));
  EXPECT_EQ(dataset->test.labels, (std::vector<std::uint8_t>{1, 0, 2, 1}));
  EXPECT_TRUE(dataset->test.clients.empty());
  ASSERT_EQ(dataset->train.clients.size(), 16u);
  EXPECT_EQ(dataset->train.clients[4], 101) << "sample 5, after the held-out sample 4";
  // Sample 5's pixels, channels first as given.
  EXPECT_TRUE(std::equal(dataset->train.pixels.begin() + 4 * 18,
                         dataset->train.pixels.begin() + 5 * 18, a.images.begin() + 5 * 18));

  // The natural partition: one client per distinct id, in id order.
  auto parts = partition_natural(dataset->train.clients, 4);
  ASSERT_TRUE(parts) << parts.error().message;
  // Id 101 is on original samples 1, 5, 13, 17: training samples 1, 4, 11, 14.
  EXPECT_EQ((*parts)[1], (std::vector<std::int64_t>{1, 4, 11, 14}));
  auto wrong = partition_natural(dataset->train.clients, 5);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message.find("set clients.total = 4"), std::string::npos);
  DataSection natural;
  natural.partition = "natural";
  auto without_ids = partition(dataset->train.labels, 3, 4, natural, 1);
  ASSERT_FALSE(without_ids);
  EXPECT_NE(without_ids.error().message.find("--clients"), std::string::npos);
}

void write_h5_array(const std::filesystem::path& path, const char* name, hid_t type,
                    std::vector<hsize_t> dims, const void* data, hid_t memory_type) {
  const hid_t file = std::filesystem::exists(path)
                         ? H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT)
                         : H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(file, 0);
  const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
  const hid_t set = H5Dcreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ASSERT_GE(set, 0);
  ASSERT_GE(H5Dwrite(set, memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
  H5Dclose(set);
  H5Sclose(space);
  H5Fclose(file);
}

TEST(Import, Hdf5FloatChannelsLastWithTestArrays) {
  TempDir dir;
  // 4 train and 2 test images of 2 x 3 x 2 channels, channels last: value = index.
  std::vector<float> train(4 * 12);
  std::vector<float> test(2 * 12);
  for (std::size_t i = 0; i < train.size(); ++i) train[i] = static_cast<float>(i);
  for (std::size_t i = 0; i < test.size(); ++i) test[i] = -static_cast<float>(i);
  const std::vector<std::uint16_t> train_labels{0, 1, 2, 3};
  const std::vector<std::uint16_t> test_labels{3, 0};
  const auto file = dir.path() / "arrays.h5";
  write_h5_array(file, "images", H5T_IEEE_F32LE, {4, 2, 3, 2}, train.data(), H5T_NATIVE_FLOAT);
  write_h5_array(file, "labels", H5T_STD_U16LE, {4}, train_labels.data(), H5T_NATIVE_UINT16);
  write_h5_array(file, "test_x", H5T_IEEE_F32LE, {2, 2, 3, 2}, test.data(), H5T_NATIVE_FLOAT);
  write_h5_array(file, "test_y", H5T_STD_U16LE, {2}, test_labels.data(), H5T_NATIVE_UINT16);
  ImportOptions options;
  options.images = file.string();  // dataset "images" by default
  options.labels = file.string() + ":labels";
  options.test_images = file.string() + ":test_x";
  options.test_labels = file.string() + ":/test_y";
  options.channels_last = true;
  options.classes = 5;
  options.out = dir.path() / "out.h5";
  auto info = import_dataset(options);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->type, PixelType::kFloat32);
  EXPECT_EQ(info->num_classes, 5);
  auto dataset = read_dataset(options.out);
  ASSERT_TRUE(dataset) << dataset.error().message;
  EXPECT_EQ(dataset->train.channels, 2);
  EXPECT_EQ(dataset->train.rows, 2);
  EXPECT_EQ(dataset->train.cols, 3);
  // Planar: sample 1, channel 0, pixel (y 0, x 1) is at (1 * 2 + 0) * 6 + 1 = 13; channels
  // last it was at ((1 * 2 + 0) * 3 + 1) * 2 + 0 = 14.
  EXPECT_EQ(dataset->train.float_pixels[13], 14.0f);
  EXPECT_EQ(dataset->train.float_pixels[6], 1.0f) << "sample 0, channel 1, pixel 0";
  EXPECT_EQ(dataset->test.labels, (std::vector<std::uint8_t>{3, 0}));
}

TEST(Import, BadArraysExitTwoNamingTheFileAndLeaveNothing) {
  TempDir dir;
  const Arrays a = make_arrays(6, 1);
  write_npy(dir.path() / "x.npy", "|u1", "(6, 2, 3)", a.images);
  write_npy(dir.path() / "y.npy", "<i8", "(6,)", a.labels);
  const auto base = [&] {
    ImportOptions options;
    options.images = (dir.path() / "x.npy").string();
    options.labels = (dir.path() / "y.npy").string();
    options.test_percent = 50;
    options.out = dir.path() / "out" / "never.h5";
    return options;
  };
  const auto refused = [&](const ImportOptions& options, const std::string& code,
                           const std::string& fragment) {
    auto info = import_dataset(options);
    ASSERT_FALSE(info) << code;
    EXPECT_EQ(info.error().kind, ErrorKind::kConfig);
    EXPECT_EQ(info.error().code, code) << info.error().message;
    EXPECT_NE(info.error().message.find(fragment), std::string::npos) << info.error().message;
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "out")) << code;
  };

  write_npy(dir.path() / "y5.npy", "<i8", "(5,)", std::vector<std::int64_t>{0, 1, 2, 0, 1});
  auto options = base();
  options.labels = (dir.path() / "y5.npy").string();
  refused(options, "count-mismatch", "x.npy holds 6 images but");

  std::vector<std::int64_t> bad_labels = a.labels;
  bad_labels[3] = -1;
  write_npy(dir.path() / "yneg.npy", "<i8", "(6,)", bad_labels);
  options = base();
  options.labels = (dir.path() / "yneg.npy").string();
  refused(options, "label-out-of-range", "yneg.npy: label -1 of sample 3");

  options = base();
  options.classes = 2;
  refused(options, "label-out-of-range", "y.npy: label 2 of sample 2 is not in [0, 2) (--classes)");

  write_npy(dir.path() / "flat.npy", "|u1", "(6, 6)", a.images);
  options = base();
  options.images = (dir.path() / "flat.npy").string();
  refused(options, "bad-shape", "flat.npy: shape (6, 6)");

  write_npy(dir.path() / "f64.npy", "<f8", "(6, 1, 1)", std::vector<double>(6, 0.5));
  options = base();
  options.images = (dir.path() / "f64.npy").string();
  refused(options, "bad-dtype", "astype(np.float32)");

  std::vector<float> with_nan(6, 0.5f);
  with_nan[4] = std::nanf("");
  write_npy(dir.path() / "nan.npy", "<f4", "(6, 1, 1)", with_nan);
  options = base();
  options.images = (dir.path() / "nan.npy").string();
  refused(options, "bad-dtype", "image 4 holds a NaN");

  write_npy(dir.path() / "yf.npy", "<f4", "(6,)", std::vector<float>(6, 1.0f));
  options = base();
  options.labels = (dir.path() / "yf.npy").string();
  refused(options, "bad-dtype", "yf.npy: holds floats");

  options = base();
  options.images = (dir.path() / "absent.npy").string();
  refused(options, "missing-file", "absent.npy: no such file");

  options = base();
  options.test_percent = 0;
  refused(options, "bad-option", "--test-percent");

  options = base();
  options.test_images = options.images;
  refused(options, "bad-option", "both --test-images and --test-labels");

  write_raw(dir.path() / "junk.h5", {'j', 'u', 'n', 'k'});
  options = base();
  options.labels = (dir.path() / "junk.h5").string();
  refused(options, "bad-magic", "junk.h5: neither a .npy file");

  std::vector<std::uint8_t> truncated = npy_file("|u1", "(6, 2, 3)", a.images.data(), 30);
  write_raw(dir.path() / "cut.npy", truncated);
  options = base();
  options.images = (dir.path() / "cut.npy").string();
  refused(options, "truncated", "cut.npy: truncated");
}

}  // namespace
}  // namespace fedchain::data
