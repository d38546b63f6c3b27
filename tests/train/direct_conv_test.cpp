// The direct single-channel convolution (src/train/cpu_direct_conv.cpp) against the double
// im2col reference in cpu_ops.hpp: output channels that fill 1 to 4 vectors and ones that
// leave lanes over, widths that are not a multiple of the pixel block, padding from none to
// wider than the kernel, batch 1, and batches that do not split evenly over two threads.
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "backend_ops.hpp"
#include "cpu_direct_conv.hpp"
#include "cpu_ops.hpp"

namespace fedchain::train {
namespace {

using testing::expect_close;
using testing::random_floats;
using testing::widen;

std::string describe(const ConvShape& s, int threads) {
  return "conv " + std::to_string(s.batch) + "x" + std::to_string(s.height) + "x" +
         std::to_string(s.width) + " -> " + std::to_string(s.out_channels) + " k" +
         std::to_string(s.kernel) + " p" + std::to_string(s.padding) + " threads " +
         std::to_string(threads);
}

class DirectConv : public ::testing::TestWithParam<std::tuple<ConvShape, int>> {};

TEST_P(DirectConv, MatchesTheIm2colReference) {
  const auto [s, threads] = GetParam();
  ASSERT_TRUE(cpu::direct_conv_applies(s));
  const auto in_size = std::size_t(s.batch * s.height * s.width);
  const auto out_size = std::size_t(s.batch * s.out_height() * s.out_width() * s.out_channels);
  const auto x = random_floats(in_size, 21);
  const auto w = random_floats(std::size_t(s.out_channels * s.patch_size()), 22);
  const auto b = random_floats(std::size_t(s.out_channels), 23);
  const auto dy = random_floats(out_size, 24);
  const auto xd = widen(x), wd = widen(w), bd = widen(b), dyd = widen(dy);
  std::vector<double> y(out_size), dw(w.size()), db(b.size());
  std::vector<double> reference_workspace(std::size_t(cpu::conv2d_workspace(s)));
  cpu::conv2d_forward(s, xd.data(), wd.data(), bd.data(), y.data(), reference_workspace.data());
  cpu::conv2d_backward<double>(s, xd.data(), wd.data(), dyd.data(), nullptr, dw.data(), db.data(),
                               reference_workspace.data());

  // The output and gradients start as NaN: every element must be written, none read.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> y_out(out_size, nan), dw_out(w.size(), nan), db_out(b.size(), nan);
  std::vector<float> workspace(std::size_t(cpu::direct_conv_workspace(s, threads)), nan);
  cpu::direct_conv_forward(s, x.data(), w.data(), b.data(), y_out.data(), workspace.data(),
                           threads);
  cpu::direct_conv_backward_weights(s, x.data(), dy.data(), dw_out.data(), db_out.data(),
                                    workspace.data(), threads);
  const std::string what = describe(s, threads);
  expect_close(what + " y", y_out, y);
  expect_close(what + " dw", dw_out, dw);
  expect_close(what + " db", db_out, db);

  // The same through the Eigen backend, which must pick the direct kernel and size its
  // scratch.
  auto backend = make_cpu_backend(threads, CpuKernels::kEigen);
  std::vector<float> backend_workspace(std::size_t(backend->conv2d_workspace(s)), nan);
  std::vector<float> y_backend(out_size, nan), dw_backend(w.size(), nan), db_backend(b.size(), nan);
  backend->conv2d_forward(s, x.data(), w.data(), b.data(), y_backend.data(),
                          backend_workspace.data());
  backend->conv2d_backward(s, x.data(), w.data(), dy.data(), nullptr, dw_backend.data(),
                           db_backend.data(), backend_workspace.data());
  EXPECT_EQ(y_backend, y_out) << what;
  EXPECT_EQ(dw_backend, dw_out) << what;
  EXPECT_EQ(db_backend, db_out) << what;
}

// (batch, height, width, 1, out, kernel, 1, padding)
INSTANTIATE_TEST_SUITE_P(
    Shapes, DirectConv,
    ::testing::Combine(::testing::Values(ConvShape{3, 28, 28, 1, 32, 5, 1, 2},  // cnn conv1
                                         ConvShape{2, 28, 28, 1, 6, 5, 1, 0},   // lenet conv1
                                         ConvShape{1, 9, 7, 1, 8, 3, 1, 1},     // one full vector
                                         ConvShape{3, 7, 13, 1, 13, 3, 1, 1},   // 2 vectors, 3 over
                                         ConvShape{5, 6, 5, 1, 17, 3, 1, 3},    // padding > k/2
                                         ConvShape{2, 5, 11, 1, 24, 5, 1, 2},   // 3 full vectors
                                         ConvShape{1, 4, 3, 1, 1, 1, 1, 0},     // 1x1, one channel
                                         ConvShape{4, 10, 29, 1, 31, 4, 1, 0}),  // even kernel
                       ::testing::Values(1, 2)));

TEST(DirectConv, AppliesOnlyWhereItIsCorrect) {
  EXPECT_TRUE(cpu::direct_conv_applies(ConvShape{1, 28, 28, 1, 32, 5, 1, 2}));
  EXPECT_FALSE(cpu::direct_conv_applies(ConvShape{1, 14, 14, 32, 64, 5, 1, 2}));  // 32 inputs
  EXPECT_FALSE(cpu::direct_conv_applies(ConvShape{1, 28, 28, 1, 33, 5, 1, 2}));   // 33 outputs
  EXPECT_FALSE(cpu::direct_conv_applies(ConvShape{1, 28, 28, 1, 8, 5, 2, 2}));    // stride 2
}

}  // namespace
}  // namespace fedchain::train
