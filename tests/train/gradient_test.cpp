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
    cpu::maxpool_forward(s, x.data(), y.data());
    return dot(y, r);
  };
  Vec dx(in_size);
  cpu::maxpool_backward(s, x.data(), r.data(), dx.data());
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
  cpu::maxpool_backward(s, x.data(), dy.data(), dx.data());
  Vec expected(x.size(), 0.0);
  expected[at(0, 0, 0)] = 10.0;
  expected[at(0, 1, 1)] = 20.0;
  expected[at(0, 2, 0)] = 30.0;  // the second window: all -9, a tie of four
  expected[at(0, 2, 1)] = 40.0;
  EXPECT_EQ(dx, expected);
}

// Any window and stride, max and average: overlapping windows (stride below the kernel)
// sum their gradients, wider strides skip pixels, and a trailing row or column no window
// reaches gets none.
class PoolGradient : public ::testing::TestWithParam<PoolShape> {};

TEST_P(PoolGradient, MatchesFiniteDifferences) {
  const PoolShape s = GetParam();
  const auto in_size = static_cast<std::size_t>(s.batch * s.height * s.width * s.channels);
  const auto out_size =
      static_cast<std::size_t>(s.batch * s.out_height() * s.out_width() * s.channels);
  ASSERT_GT(out_size, 0u);
  Vec x = random_vector(in_size, 31);
  const Vec r = random_vector(out_size, 32);
  auto max_loss = [&] {
    Vec y(out_size);
    cpu::maxpool_forward(s, x.data(), y.data());
    return dot(y, r);
  };
  auto avg_loss = [&] {
    Vec y(out_size);
    cpu::avgpool_forward(s, x.data(), y.data());
    return dot(y, r);
  };
  Vec max_dx(in_size, std::nan("")), avg_dx(in_size, std::nan(""));
  cpu::maxpool_backward(s, x.data(), r.data(), max_dx.data());
  cpu::avgpool_backward(s, r.data(), avg_dx.data());
  expect_matches_finite_differences("maxpool dx", x, max_dx, max_loss);
  expect_matches_finite_differences("avgpool dx", x, avg_dx, avg_loss);
}

// (batch, height, width, channels, kernel, stride)
INSTANTIATE_TEST_SUITE_P(Windows, PoolGradient,
                         ::testing::Values(PoolShape{2, 7, 6, 3, 3, 2}, PoolShape{1, 8, 9, 2, 3, 3},
                                           PoolShape{2, 5, 5, 2, 2, 1}, PoolShape{1, 6, 7, 4, 4, 2},
                                           PoolShape{2, 5, 4, 3, 2, 2},
                                           PoolShape{1, 3, 3, 2, 3, 1}));

// Overlapping windows: a pixel that is the first maximum of two windows gets both gradients,
// and of tied values the first in row-major order wins each window.
TEST(MaxPool, OverlappingWindowsSumAndTiesGoFirst) {
  const PoolShape s{1, 1, 4, 1, 2, 1};  // rows of 1 cannot hold a 2x2 window...
  EXPECT_EQ(s.out_height(), 0);
  const PoolShape t{1, 2, 3, 1, 2, 1};  // ...two rows hold two windows, overlapping in column 1
  const Vec x{0.0, 5.0, 5.0, 1.0, 2.0, 3.0};
  const Vec dy{10.0, 100.0};
  Vec y(2), dx(6, std::nan(""));
  cpu::maxpool_forward(t, x.data(), y.data());
  cpu::maxpool_backward(t, x.data(), dy.data(), dx.data());
  EXPECT_EQ(y, (Vec{5.0, 5.0}));
  EXPECT_EQ(dx, (Vec{0.0, 110.0, 0.0, 0.0, 0.0, 0.0}));
}

class GroupNormGradient : public ::testing::TestWithParam<GroupNormShape> {};

TEST_P(GroupNormGradient, MatchesFiniteDifferences) {
  const GroupNormShape s = GetParam();
  const auto size = static_cast<std::size_t>(s.batch * s.pixels * s.channels);
  const auto channels = static_cast<std::size_t>(s.channels);
  Vec x = random_vector(size, 41, -2.0, 3.0), weight = random_vector(channels, 42, 0.5, 1.5),
      bias = random_vector(channels, 43);
  const Vec r = random_vector(size, 44);
  Vec stats(static_cast<std::size_t>(s.batch * s.groups * 2));
  auto loss = [&] {
    Vec y(size);
    cpu::groupnorm_forward(s, x.data(), weight.data(), bias.data(), y.data(), stats.data());
    return dot(y, r);
  };
  // The normalised output: each group's mean 0 and variance var / (var + eps), var the
  // group's (biased) variance of x.
  {
    const Vec unit(channels, 1.0), zero(channels, 0.0);
    Vec y(size);
    cpu::groupnorm_forward(s, x.data(), unit.data(), zero.data(), y.data(), stats.data());
    const std::int64_t per_group = s.channels / s.groups;
    for (std::int64_t b = 0; b < s.batch; ++b) {
      for (std::int64_t g = 0; g < s.groups; ++g) {
        double sum = 0, squares = 0, x_sum = 0, x_squares = 0;
        for (std::int64_t p = 0; p < s.pixels; ++p) {
          for (std::int64_t c = g * per_group; c < (g + 1) * per_group; ++c) {
            const auto at = std::size_t((b * s.pixels + p) * s.channels + c);
            sum += y[at];
            squares += y[at] * y[at];
            x_sum += x[at];
            x_squares += x[at] * x[at];
          }
        }
        const double n = double(s.group_size());
        const double var = x_squares / n - (x_sum / n) * (x_sum / n);
        EXPECT_NEAR(sum / n, 0.0, 1e-12);
        EXPECT_NEAR(squares / n, var / (var + double(kGroupNormEpsilon)), 1e-9);
      }
    }
  }
  loss();
  Vec dx(size), dweight(channels), dbias(channels);
  cpu::groupnorm_backward(s, x.data(), weight.data(), stats.data(), r.data(), dx.data(),
                          dweight.data(), dbias.data());
  expect_matches_finite_differences("dx", x, dx, loss);
  expect_matches_finite_differences("dweight", weight, dweight, loss);
  expect_matches_finite_differences("dbias", bias, dbias, loss);
  // Without dx (a first layer) the parameter gradients are the same.
  Vec dweight_only(channels), dbias_only(channels);
  cpu::groupnorm_backward<double>(s, x.data(), weight.data(), stats.data(), r.data(), nullptr,
                                  dweight_only.data(), dbias_only.data());
  EXPECT_EQ(dweight_only, dweight);
  EXPECT_EQ(dbias_only, dbias);
}

// (batch, pixels, channels, groups): one group (layer norm), one channel per group
// (instance norm), and between.
INSTANTIATE_TEST_SUITE_P(Groups, GroupNormGradient,
                         ::testing::Values(GroupNormShape{2, 6, 4, 2}, GroupNormShape{3, 5, 6, 1},
                                           GroupNormShape{1, 4, 3, 3}, GroupNormShape{2, 1, 8, 4}));

// Dropout is linear in x for a fixed mask; about `rate` of the elements are zeroed, the rest
// scaled by 1 / (1 - rate); the same seed gives the same mask and another seed another.
TEST(Gradient, Dropout) {
  constexpr std::int64_t n = 4000;
  const DropoutMask mask = dropout_mask(0.3, 77);
  Vec x = random_vector(n, 51, 0.5, 1.5);
  const Vec r = random_vector(n, 52);
  auto loss = [&] {
    Vec y(n);
    cpu::dropout(n, mask, x.data(), y.data());
    return dot(y, r);
  };
  Vec dx(n);
  cpu::dropout(n, mask, r.data(), dx.data());
  expect_matches_finite_differences("dx", x, dx, loss);
  Vec y(n);
  cpu::dropout(n, mask, x.data(), y.data());
  std::int64_t zeros = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (y[std::size_t(i)] == 0.0) {
      ++zeros;
    } else {
      EXPECT_EQ(y[std::size_t(i)], x[std::size_t(i)] * double(float(1.0 / 0.7)));
    }
  }
  EXPECT_NEAR(double(zeros) / n, 0.3, 0.03);
  Vec again(n), other(n);
  cpu::dropout(n, dropout_mask(0.3, 77), x.data(), again.data());
  cpu::dropout(n, dropout_mask(0.3, 78), x.data(), other.data());
  EXPECT_EQ(again, y);
  EXPECT_NE(other, y);
  Vec kept(n);
  cpu::dropout(n, dropout_mask(0.0, 77), x.data(), kept.data());
  EXPECT_EQ(kept, x);
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
