// oneDNN's convolutions and dense layers, the CPU backend's default where fedchain is built
// with it, against the Eigen kernels (which train_test checks against a double reference):
// the same results up to float rounding for strides, padding, one or many input channels,
// partial batches and 1 or 2 threads; and the same bits when a step is run again.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "fedchain/train/backend.hpp"

namespace fedchain::train {
namespace {

std::vector<float> random_values(std::size_t n, std::uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> out(n);
  for (auto& v : out) v = normal(gen);
  return out;
}

// Each entry a sum of `terms` products of unit normals, added in another order by each
// side: they may differ by float rounding, which grows like sqrt(terms). A wrong layout or
// a missed term differs by about 1.
void expect_close(const std::string& what, const std::vector<float>& got,
                  const std::vector<float>& want, std::int64_t terms) {
  ASSERT_EQ(got.size(), want.size()) << what;
  const float tolerance = 1e-5f * std::sqrt(static_cast<float>(terms));
  for (std::size_t i = 0; i < got.size(); ++i) {
    ASSERT_LE(std::abs(got[i] - want[i]), tolerance * (1 + std::abs(want[i])))
        << what << " at " << i << ": " << got[i] << " against " << want[i];
  }
}

struct ConvResult {
  std::vector<float> y, dx, dw, db;
};

ConvResult run_conv(Backend& backend, const ConvShape& s, bool with_dx) {
  const auto x = random_values(std::size_t(s.batch * s.height * s.width * s.in_channels), 1);
  const auto w = random_values(std::size_t(s.out_channels * s.patch_size()), 2);
  const auto b = random_values(std::size_t(s.out_channels), 3);
  const auto out = std::size_t(s.batch * s.out_height() * s.out_width() * s.out_channels);
  const auto dy = random_values(out, 4);
  const float nan = std::nanf("");
  ConvResult r{std::vector<float>(out, nan), std::vector<float>(with_dx ? x.size() : 0, nan),
               std::vector<float>(w.size(), nan), std::vector<float>(b.size(), nan)};
  std::vector<float> workspace(std::size_t(backend.conv2d_workspace(s)), nan);
  backend.conv2d_forward(s, x.data(), w.data(), b.data(), r.y.data(), workspace.data());
  backend.conv2d_backward(s, x.data(), w.data(), dy.data(), with_dx ? r.dx.data() : nullptr,
                          r.dw.data(), r.db.data(), workspace.data());
  return r;
}

struct ConvCase {
  ConvShape shape;
  bool with_dx;
};

class OneDnnConvTest : public ::testing::TestWithParam<std::tuple<ConvCase, int>> {};

TEST_P(OneDnnConvTest, MatchesEigenAndRepeatsBitwise) {
  const auto& [c, threads] = GetParam();
  auto onednn = make_cpu_backend(threads, CpuKernels::kBest);
  auto eigen = make_cpu_backend(threads, CpuKernels::kEigen);
  const ConvResult got = run_conv(*onednn, c.shape, c.with_dx);
  const ConvResult want = run_conv(*eigen, c.shape, c.with_dx);
  const ConvShape& s = c.shape;
  const std::int64_t pixels = s.batch * s.out_height() * s.out_width();
  expect_close("y", got.y, want.y, s.patch_size());
  expect_close("dx", got.dx, want.dx, s.kernel * s.kernel * s.out_channels);
  expect_close("dw", got.dw, want.dw, pixels);
  expect_close("db", got.db, want.db, pixels);
  // Again through a fresh backend after the Eigen one changed the thread settings.
  const ConvResult again =
      run_conv(*make_cpu_backend(threads, CpuKernels::kBest), c.shape, c.with_dx);
  EXPECT_EQ(again.y, got.y);
  EXPECT_EQ(again.dx, got.dx);
  EXPECT_EQ(again.dw, got.dw);
  EXPECT_EQ(again.db, got.db);
}

// (batch, height, width, in, out, kernel, stride, padding): the presets' layers (cnn conv1
// and conv2, cifar-cnn's 3x3 with padding), strides, a partial batch, no padding.
INSTANTIATE_TEST_SUITE_P(
    Shapes, OneDnnConvTest,
    ::testing::Combine(::testing::Values(ConvCase{{8, 28, 28, 1, 32, 5, 1, 2}, false},
                                         ConvCase{{8, 14, 14, 32, 64, 5, 1, 2}, true},
                                         ConvCase{{5, 32, 32, 3, 32, 3, 1, 1}, true},
                                         ConvCase{{3, 11, 9, 4, 6, 3, 2, 1}, true},
                                         ConvCase{{2, 10, 10, 5, 7, 4, 3, 0}, true}),
                       ::testing::Values(1, 2)));

struct DenseResult {
  std::vector<float> y, dx, dw, db;
};

DenseResult run_dense(Backend& backend, const DenseShape& s) {
  const auto x = random_values(std::size_t(s.batch * s.in), 5);
  const auto w = random_values(std::size_t(s.out * s.in), 6);
  const auto b = random_values(std::size_t(s.out), 7);
  const auto dy = random_values(std::size_t(s.batch * s.out), 8);
  DenseResult r{std::vector<float>(dy.size()), std::vector<float>(x.size()),
                std::vector<float>(w.size()), std::vector<float>(b.size())};
  backend.dense_forward(s, x.data(), w.data(), b.data(), r.y.data());
  backend.dense_backward(s, x.data(), w.data(), dy.data(), r.dx.data(), r.dw.data(), r.db.data());
  return r;
}

class OneDnnDenseTest : public ::testing::TestWithParam<std::tuple<DenseShape, int>> {};

TEST_P(OneDnnDenseTest, MatchesEigenAndRepeatsBitwise) {
  const auto& [shape, threads] = GetParam();
  const DenseResult got = run_dense(*make_cpu_backend(threads, CpuKernels::kBest), shape);
  const DenseResult want = run_dense(*make_cpu_backend(threads, CpuKernels::kEigen), shape);
  expect_close("y", got.y, want.y, shape.in);
  expect_close("dx", got.dx, want.dx, shape.out);
  expect_close("dw", got.dw, want.dw, shape.batch);
  expect_close("db", got.db, want.db, shape.batch);
  const DenseResult again = run_dense(*make_cpu_backend(threads, CpuKernels::kBest), shape);
  EXPECT_EQ(again.y, got.y);
  EXPECT_EQ(again.dx, got.dx);
  EXPECT_EQ(again.dw, got.dw);
  EXPECT_EQ(again.db, got.db);
}

// (batch, in, out): the mlp's layers at the training and inference batches, a partial batch.
INSTANTIATE_TEST_SUITE_P(Shapes, OneDnnDenseTest,
                         ::testing::Combine(::testing::Values(DenseShape{64, 784, 200},
                                                              DenseShape{256, 200, 10},
                                                              DenseShape{7, 13, 5}),
                                            ::testing::Values(1, 2)));

TEST(OneDnnKernels, NamedForTheLog) {
  EXPECT_EQ(cpu_kernels_name(CpuKernels::kEigen), "eigen");
  EXPECT_EQ(cpu_kernels_name(CpuKernels::kBest).rfind("onednn ", 0), 0u)
      << cpu_kernels_name(CpuKernels::kBest);
}

}  // namespace
}  // namespace fedchain::train

int main(int argc, char** argv) {
#if !defined(FEDCHAIN_HAVE_ONEDNN)
  std::cout << "SKIPPED: this fedchain is built without oneDNN (install libdnnl-dev, "
               "scripts/setup-debian.sh); the CPU backend runs the Eigen kernels\n";
  return 77;
#endif
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
