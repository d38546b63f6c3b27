// Every op's backward against central finite differences, all in double: the CPU ops are
// templates, so this checks the very code the float backend runs. The loss is
// L = sum(y * r) for a fixed random r, so dL/dy = r and dL/dx is what backward returns.
#include <cmath>
#include <functional>
#include <random>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "cpu_ops.hpp"

namespace fedchain::train {
namespace {

using Vec = std::vector<double>;

Vec random_vector(std::size_t n, std::uint64_t seed, double low = -1.0, double high = 1.0) {
  std::mt19937_64 engine(seed);
  Vec v(n);
  for (double& x : v) x = low + (high - low) * double(engine() >> 11) * 0x1.0p-53;
  return v;
}

double dot(const Vec& a, const Vec& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

// Checks analytic[i] against (loss(x + h e_i) - loss(x - h e_i)) / 2h for every i.
void expect_matches_finite_differences(const char* what, Vec& x, const Vec& analytic,
                                       const std::function<double()>& loss) {
  ASSERT_EQ(x.size(), analytic.size()) << what;
  constexpr double kStep = 1e-6;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double saved = x[i];
    x[i] = saved + kStep;
    const double up = loss();
    x[i] = saved - kStep;
    const double down = loss();
    x[i] = saved;
    const double numeric = (up - down) / (2 * kStep);
    EXPECT_NEAR(analytic[i], numeric, 1e-6 + 1e-6 * std::abs(numeric)) << what << "[" << i << "]";
  }
}

TEST(Gradient, Dense) {
  const DenseShape s{3, 5, 4};
  Vec x = random_vector(15, 1), w = random_vector(20, 2), b = random_vector(4, 3);
  const Vec r = random_vector(12, 4);
  auto loss = [&] {
    Vec y(12);
    cpu::dense_forward(s, x.data(), w.data(), b.data(), y.data());
    return dot(y, r);
  };
  Vec dx(15), dw(20), db(4);
  cpu::dense_backward(s, x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data());
  expect_matches_finite_differences("dx", x, dx, loss);
  expect_matches_finite_differences("dw", w, dw, loss);
  expect_matches_finite_differences("db", b, db, loss);
}

// (shape, block_floats, threads): a block of 1 float splits the batch into one-sample
// blocks, so the blocked walk (and dw's sum over blocks) is checked too; with 2 threads each
// thread sums its own blocks and the partial dw are added afterwards.
class ConvGradient : public ::testing::TestWithParam<std::tuple<ConvShape, std::int64_t, int>> {};

TEST_P(ConvGradient, MatchesFiniteDifferences) {
  const auto [s, block_floats, threads] = GetParam();
  const auto in_size = static_cast<std::size_t>(s.batch * s.height * s.width * s.in_channels);
  const auto out_size =
      static_cast<std::size_t>(s.batch * s.out_height() * s.out_width() * s.out_channels);
  const auto w_size = static_cast<std::size_t>(s.out_channels * s.patch_size());
  Vec x = random_vector(in_size, 5), w = random_vector(w_size, 6),
      b = random_vector(static_cast<std::size_t>(s.out_channels), 7);
  const Vec r = random_vector(out_size, 8);
  Vec workspace(static_cast<std::size_t>(cpu::conv2d_workspace(s, block_floats, threads)));
  auto loss = [&] {
    Vec y(out_size);
    cpu::conv2d_forward(s, x.data(), w.data(), b.data(), y.data(), workspace.data(), block_floats,
                        threads);
    return dot(y, r);
  };
  Vec dx(in_size), dw(w_size), db(b.size());
  cpu::conv2d_backward(s, x.data(), w.data(), r.data(), dx.data(), dw.data(), db.data(),
                       workspace.data(), block_floats, threads);
  expect_matches_finite_differences("dx", x, dx, loss);
  expect_matches_finite_differences("dw", w, dw, loss);
  expect_matches_finite_differences("db", b, db, loss);
}

// (batch, height, width, in, out, kernel, stride, padding): odd sizes, strides, padding
// wider and narrower than the kernel's half, one input channel as in the first layer.
INSTANTIATE_TEST_SUITE_P(Shapes, ConvGradient,
                         ::testing::Combine(::testing::Values(ConvShape{2, 5, 6, 3, 4, 3, 1, 1},
                                                              ConvShape{1, 7, 7, 2, 3, 3, 2, 0},
                                                              ConvShape{2, 6, 5, 1, 2, 5, 1, 2},
                                                              ConvShape{1, 8, 8, 2, 2, 3, 2, 1},
                                                              ConvShape{3, 4, 4, 2, 1, 1, 1, 0}),
                                            ::testing::Values(std::int64_t{1} << 19, 1),
                                            ::testing::Values(1, 2)));

TEST(Gradient, MaxPool) {
  const PoolShape s{2, 5, 4, 3};  // odd height: the last row is dropped
  const std::size_t in_size = 2 * 5 * 4 * 3, out_size = 2 * 2 * 2 * 3;
  Vec x = random_vector(in_size, 9);
  const Vec r = random_vector(out_size, 10);
  auto loss = [&] {
    Vec y(out_size);
    cpu::maxpool2x2_forward(s, x.data(), y.data());
    return dot(y, r);
  };
  Vec dx(in_size);
  cpu::maxpool2x2_backward(s, x.data(), r.data(), dx.data());
  expect_matches_finite_differences("dx", x, dx, loss);
}

// Ties go to the first maximum (top-left, top-right, bottom-left, bottom-right), as the
// CUDA kernel must do too; every element of dx is written, including the dropped odd row and
// column, so a dx full of garbage comes back clean.
TEST(MaxPool, TiesGoToTheFirstMaximumAndEveryGradientIsWritten) {
  const PoolShape s{1, 3, 5, 2};  // one 2x2 window row, a dropped row and column
  // channel 0: all four equal; channel 1: top-right and bottom-right tie for the maximum.
  Vec x(3 * 5 * 2, -9.0);
  auto at = [&](std::int64_t y, std::int64_t xx, std::int64_t ch) {
    return std::size_t((y * 5 + xx) * 2 + ch);
  };
  for (std::int64_t y = 0; y < 2; ++y) {
    for (std::int64_t xx = 0; xx < 2; ++xx) x[at(y, xx, 0)] = 1.0;
  }
  x[at(0, 0, 1)] = 0.0;
  x[at(0, 1, 1)] = 2.0;
  x[at(1, 0, 1)] = 1.0;
  x[at(1, 1, 1)] = 2.0;
  const Vec dy{10.0, 20.0, 30.0, 40.0};  // (1, 1, 2, 2)
  Vec dx(x.size(), std::nan(""));
  cpu::maxpool2x2_backward(s, x.data(), dy.data(), dx.data());
  Vec expected(x.size(), 0.0);
  expected[at(0, 0, 0)] = 10.0;
  expected[at(0, 1, 1)] = 20.0;
  expected[at(0, 2, 0)] = 30.0;  // the second window: all -9, a tie of four
  expected[at(0, 2, 1)] = 40.0;
  EXPECT_EQ(dx, expected);
}

TEST(Gradient, Relu) {
  Vec x = random_vector(40, 11);
  const Vec r = random_vector(40, 12);
  auto loss = [&] {
    Vec y(40);
    cpu::relu_forward(40, x.data(), y.data());
    return dot(y, r);
  };
  Vec y(40), dx(40);
  cpu::relu_forward(40, x.data(), y.data());
  cpu::relu_backward(40, y.data(), r.data(), dx.data());
  expect_matches_finite_differences("dx", x, dx, loss);
}

TEST(Gradient, SoftmaxCrossEntropy) {
  const std::int64_t batch = 4, classes = 5;
  Vec logits = random_vector(20, 13, -3.0, 3.0);
  const std::vector<std::int32_t> labels{0, 3, 4, 3};
  auto loss = [&] {
    Vec probs(20), losses(4);
    cpu::softmax_xent_forward(batch, classes, logits.data(), labels.data(), probs.data(),
                              losses.data());
    return (losses[0] + losses[1] + losses[2] + losses[3]) / double(batch);
  };
  Vec probs(20), losses(4), dlogits(20);
  cpu::softmax_xent_forward(batch, classes, logits.data(), labels.data(), probs.data(),
                            losses.data());
  cpu::softmax_xent_backward(batch, classes, probs.data(), labels.data(), dlogits.data());
  expect_matches_finite_differences("dlogits", logits, dlogits, loss);
}

TEST(SoftmaxCrossEntropy, StableForHugeLogits) {
  const std::vector<float> logits{1000.0f, 0.0f, -1000.0f, 3000.0f, 3000.0f, 3000.0f};
  const std::vector<std::int32_t> labels{0, 2};
  std::vector<float> probs(6), losses(2);
  cpu::softmax_xent_forward<float>(2, 3, logits.data(), labels.data(), probs.data(), losses.data());
  EXPECT_FLOAT_EQ(losses[0], 0.0f);
  EXPECT_NEAR(losses[1], std::log(3.0f), 1e-6);
  for (const float p : probs) EXPECT_TRUE(std::isfinite(p));
}

}  // namespace
}  // namespace fedchain::train
