// From dataset arrays to what the model reads: channels-first to channels-last, per-channel
// normalisation (mean ~0, std ~1 after it), the same bits as before channels existed for
// one-channel data, and crop_flip augmentation (exact on a tiny image, deterministic for a
// seed, different across rounds).
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "fedchain/core/random.hpp"
#include "fedchain/data/dataset.hpp"
#include "fedchain/train/augment.hpp"
#include "fedchain/train/backend.hpp"
#include "fedchain/train/model.hpp"
#include "fedchain/train/samples.hpp"
#include "fedchain/train/trainer.hpp"

namespace fedchain::train {
namespace {

// n images of 3 channels x rows x cols; channel c is drawn around 40 + 80 c with spread
// 10 + 20 c, so the channels need different normalisations.
data::ImageSet rgb_set(std::int64_t n, std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  SeededRandom random(seed);
  data::ImageSet set;
  set.count = n;
  set.channels = 3;
  set.rows = rows;
  set.cols = cols;
  for (std::int64_t i = 0; i < n; ++i) {
    for (int c = 0; c < 3; ++c) {
      for (std::int64_t p = 0; p < rows * cols; ++p) {
        const double v = 40.0 + 80.0 * c + (10.0 + 20.0 * c) * random.uniform(-1.7, 1.7);
        set.pixels.push_back(static_cast<std::uint8_t>(std::clamp(v, 0.0, 255.0)));
      }
    }
    set.labels.push_back(static_cast<std::uint8_t>(i % 10));
  }
  return set;
}

TEST(Samples, ChannelsFirstBecomeChannelsLast) {
  const data::ImageSet set = rgb_set(2, 2, 3, 1);
  auto samples = to_samples(set, 10);
  ASSERT_TRUE(samples) << samples.error().message;
  EXPECT_EQ(samples->channels, 3);
  EXPECT_EQ(samples->height, 2);
  EXPECT_EQ(samples->width, 3);
  for (std::int64_t n = 0; n < 2; ++n) {
    for (std::int64_t c = 0; c < 3; ++c) {
      for (std::int64_t p = 0; p < 6; ++p) {
        const std::uint8_t stored = set.pixels[std::size_t((n * 3 + c) * 6 + p)];
        EXPECT_EQ(samples->pixels[std::size_t((n * 6 + p) * 3 + c)],
                  static_cast<float>(stored) * (1.0f / 255.0f))
            << n << " " << c << " " << p;
      }
    }
  }
  EXPECT_EQ(samples->fill, (std::vector<float>{0.0f, 0.0f, 0.0f}));
}

TEST(Samples, OneChannelGivesTheBitsOfTheFirstLayout) {
  // The formula before channels: x * (1 / (255 stddev)) - mean / stddev, in float.
  data::ImageSet set;
  set.count = 1;
  set.rows = 1;
  set.cols = 256;
  for (int v = 0; v < 256; ++v) set.pixels.push_back(static_cast<std::uint8_t>(v));
  set.labels = {3};
  const float mean = 0.2860402f;
  const float stddev = 0.3530239f;
  auto samples = to_samples(set, 10, {{mean}, {stddev}});
  ASSERT_TRUE(samples) << samples.error().message;
  const float scale = 1.0f / (255.0f * stddev);
  const float shift = mean / stddev;
  for (int v = 0; v < 256; ++v) {
    EXPECT_EQ(samples->pixels[std::size_t(v)], static_cast<float>(v) * scale - shift) << v;
  }
}

TEST(Samples, NormalizationGivesEachChannelMeanZeroAndStdOne) {
  const data::ImageSet set = rgb_set(200, 4, 4, 2);
  const data::PixelStats stats = data::pixel_stats(set);
  PixelScaling scaling;
  for (int c = 0; c < 3; ++c) {
    scaling.mean.push_back(static_cast<float>(stats.mean[std::size_t(c)]));
    scaling.stddev.push_back(static_cast<float>(stats.stddev[std::size_t(c)]));
  }
  EXPECT_GT(scaling.mean[2] - scaling.mean[0], 0.5f) << "the channels differ before";
  auto samples = to_samples(set, 10, scaling);
  ASSERT_TRUE(samples) << samples.error().message;
  for (std::size_t c = 0; c < 3; ++c) {
    double sum = 0.0;
    double squares = 0.0;
    const auto n = samples->pixels.size() / 3;
    for (std::size_t i = c; i < samples->pixels.size(); i += 3) sum += samples->pixels[i];
    const double mean = sum / double(n);
    for (std::size_t i = c; i < samples->pixels.size(); i += 3) {
      squares += (samples->pixels[i] - mean) * (samples->pixels[i] - mean);
    }
    EXPECT_NEAR(mean, 0.0, 1e-4) << c;
    EXPECT_NEAR(std::sqrt(squares / double(n)), 1.0, 1e-4) << c;
    EXPECT_NEAR(samples->fill[c], -scaling.mean[c] / scaling.stddev[c], 1e-6) << c;
  }
}

TEST(Samples, Float32DataIsNotScaledBy255) {
  data::ImageSet set;
  set.count = 1;
  set.channels = 2;
  set.rows = 1;
  set.cols = 1;
  set.type = data::PixelType::kFloat32;
  set.float_pixels = {-3.5f, 7.0f};
  set.labels = {0};
  auto samples = to_samples(set, 2);
  ASSERT_TRUE(samples) << samples.error().message;
  EXPECT_EQ(samples->pixels, (std::vector<float>{-3.5f, 7.0f}));
  auto mismatched = to_samples(set, 2, {{0.0f}, {1.0f}});
  ASSERT_FALSE(mismatched) << "one value for two channels";
}

// A 3 x 4 image of 2 channels: channel 0 = 10 y + x, channel 1 = 100 + 10 y + x.
std::vector<float> tiny_image() {
  std::vector<float> image;
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 4; ++x) {
      image.push_back(float(10 * y + x));
      image.push_back(float(100 + 10 * y + x));
    }
  }
  return image;
}

float at(const std::vector<float>& image, int y, int x, int c) {
  return image[std::size_t((y * 4 + x) * 2 + c)];
}

TEST(Augment, CropAndFlipMoveTheRightPixels) {
  const std::vector<float> in = tiny_image();
  const std::vector<float> fill{-1.0f, -2.0f};
  std::vector<float> out(in.size());
  apply_crop_flip(in, out, 3, 4, fill, {0, 0, false});
  EXPECT_EQ(out, in) << "the centred crop without a flip is the image";

  apply_crop_flip(in, out, 3, 4, fill, {0, 0, true});
  for (int y = 0; y < 3; ++y) {
    for (int x = 0; x < 4; ++x) {
      EXPECT_EQ(at(out, y, x, 0), at(in, y, 3 - x, 0));
      EXPECT_EQ(at(out, y, x, 1), at(in, y, 3 - x, 1));
    }
  }

  // dy = 1, dx = -2: out(y, x) = in(y + 1, x - 2); the last row and first two columns are
  // padding.
  apply_crop_flip(in, out, 3, 4, fill, {1, -2, false});
  EXPECT_EQ(at(out, 0, 2, 0), at(in, 1, 0, 0));
  EXPECT_EQ(at(out, 1, 3, 1), at(in, 2, 1, 1));
  EXPECT_EQ(at(out, 0, 1, 0), -1.0f);
  EXPECT_EQ(at(out, 0, 1, 1), -2.0f);
  EXPECT_EQ(at(out, 2, 3, 0), -1.0f);

  // Crop then flip: out(y, x) = in(y, (3 - x) + 1).
  apply_crop_flip(in, out, 3, 4, fill, {0, 1, true});
  EXPECT_EQ(at(out, 1, 0, 0), -1.0f) << "x' = 4 is outside";
  EXPECT_EQ(at(out, 1, 1, 0), at(in, 1, 3, 0));
  EXPECT_EQ(at(out, 1, 3, 1), at(in, 1, 1, 1));

  // Four pixels of padding: a 4-pixel shift of a 3-row image is all padding.
  apply_crop_flip(in, out, 3, 4, fill, {-4, 0, false});
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i], fill[i % 2]);
}

TEST(Augment, DrawsCoverEveryOffsetAndBothFlips) {
  SeededRandom random(11);
  std::vector<int> dy(9, 0);
  std::vector<int> dx(9, 0);
  int flips = 0;
  for (int i = 0; i < 9000; ++i) {
    const CropFlip draw = draw_crop_flip(random);
    ASSERT_GE(draw.dy, -4);
    ASSERT_LE(draw.dy, 4);
    ASSERT_GE(draw.dx, -4);
    ASSERT_LE(draw.dx, 4);
    ++dy[std::size_t(draw.dy + 4)];
    ++dx[std::size_t(draw.dx + 4)];
    flips += draw.flip ? 1 : 0;
  }
  for (int k = 0; k < 9; ++k) {
    EXPECT_GT(dy[std::size_t(k)], 800) << k;
    EXPECT_GT(dx[std::size_t(k)], 800) << k;
  }
  EXPECT_GT(flips, 4200);
  EXPECT_LT(flips, 4800);
  EXPECT_FALSE(augment_from_name("rotate"));
}

TEST(Augment, StreamIsFixedBySeedClientAndRound) {
  const auto draws = [](std::uint64_t client, std::uint64_t round) {
    SeededRandom random(augment_seed(derive_seed(42, client, round)));
    std::vector<std::int64_t> out;
    for (int i = 0; i < 20; ++i) {
      const CropFlip d = draw_crop_flip(random);
      out.insert(out.end(), {d.dy, d.dx, d.flip ? 1 : 0});
    }
    return out;
  };
  EXPECT_EQ(draws(3, 1), draws(3, 1));
  EXPECT_NE(draws(3, 1), draws(3, 2)) << "rounds differ";
  EXPECT_NE(draws(3, 1), draws(4, 1)) << "clients differ";
}

// Training on 3-channel 8 x 8 samples: the same seed gives the same bits, augmentation
// changes them, and another round's seed changes them again.
TEST(Augment, TrainingIsBitwiseReproducibleAndDependsOnTheRound) {
  auto samples = to_samples(rgb_set(24, 8, 8, 3), 10);
  ASSERT_TRUE(samples) << samples.error().message;
  auto backend = make_cpu_backend(1);
  ModelConfig config;
  config.arch = "cnn";
  config.height = 8;
  config.width = 8;
  config.channels = 3;
  config.classes = 10;
  const auto trained = [&](Augment augment, std::uint64_t seed) {
    auto model = Model::create(*backend, config, 8);
    EXPECT_TRUE(model) << model.error().message;
    model->initialize(5);
    TrainOptions options;
    options.batch_size = 8;
    options.steps = 3;
    auto trainer = LocalTrainer::create(*model, options, augment);
    EXPECT_TRUE(trainer);
    std::vector<std::int64_t> shard(24);
    for (std::size_t i = 0; i < shard.size(); ++i) shard[i] = std::int64_t(i);
    EXPECT_TRUE(trainer->train(*samples, shard, seed));
    std::vector<float> theta(std::size_t(model->parameter_count()));
    EXPECT_TRUE(model->get_parameters(theta));
    return theta;
  };
  const auto round1 = derive_seed(9, 0, 1);
  const auto round2 = derive_seed(9, 0, 2);
  const auto augmented = trained(Augment::kCropFlip, round1);
  EXPECT_EQ(augmented, trained(Augment::kCropFlip, round1));
  EXPECT_NE(augmented, trained(Augment::kNone, round1));
  EXPECT_NE(augmented, trained(Augment::kCropFlip, round2));
}

}  // namespace
}  // namespace fedchain::train
