#include <fstream>

#include <gtest/gtest.h>

#include "fedchain/io/checkpoint.hpp"
#include "temp_dir.hpp"

namespace fedchain::io {
namespace {

struct Model {
  std::vector<float> weight{1.5f, -2.0f, 0.0f, -0.0f, 3.25f, 1e-30f};
  std::vector<float> bias{7.0f, 8.0f};
  std::vector<TensorView> views() const {
    return {{"dense.weight", {2, 3}, weight}, {"dense.bias", {2}, bias}};
  }
};

CheckpointMeta meta() {
  CheckpointMeta m;
  m.height = 42;
  m.state_root.bytes[0] = 1;
  m.block_hash.bytes[1] = 2;
  m.chain_id.bytes[2] = 3;
  return m;
}

TEST(Checkpoint, RoundTripsBitsShapesAndMeta) {
  testing::TempDir tmp;
  const Model model;
  const auto path = tmp.path() / "c.h5";
  const auto views = model.views();
  ASSERT_TRUE(write_checkpoint(path, meta(), views));
  auto back = read_checkpoint(path);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->meta.height, 42u);
  EXPECT_EQ(back->meta.state_root, meta().state_root);
  EXPECT_EQ(back->meta.block_hash, meta().block_hash);
  EXPECT_EQ(back->meta.chain_id, meta().chain_id);
  EXPECT_EQ(back->names, (std::vector<std::string>{"dense.weight", "dense.bias"}));
  EXPECT_EQ(back->shapes[0], (std::vector<std::int64_t>{2, 3}));
  ASSERT_EQ(back->params.size(), 8u);
  EXPECT_EQ(std::memcmp(back->params.data(), model.weight.data(), 6 * sizeof(float)), 0);
  EXPECT_TRUE(std::signbit(back->params[3])) << "-0.0 must keep its sign bit";
  EXPECT_EQ(back->params[7], 8.0f);
}

TEST(Checkpoint, RefusesAShapeThatDoesNotMatchTheValues) {
  testing::TempDir tmp;
  std::vector<float> v(5);
  std::vector<TensorView> views{{"w", {2, 3}, v}};
  EXPECT_FALSE(write_checkpoint(tmp.path() / "c.h5", meta(), views));
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "c.h5"));
}

TEST(Checkpoint, RefusesMissingGarbageAndTruncatedFiles) {
  testing::TempDir tmp;
  EXPECT_FALSE(read_checkpoint(tmp.path() / "missing.h5"));
  std::ofstream(tmp.path() / "garbage.h5") << "this is not HDF5";
  auto garbage = read_checkpoint(tmp.path() / "garbage.h5");
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().message.find("garbage.h5"), std::string::npos);

  const Model model;
  const auto path = tmp.path() / "c.h5";
  const auto views = model.views();
  ASSERT_TRUE(write_checkpoint(path, meta(), views));
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  EXPECT_FALSE(read_checkpoint(path));
}

}  // namespace
}  // namespace fedchain::io
