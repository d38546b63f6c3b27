// Training data as the model reads it: float pixels (uint8 scaled to [0, 1], float32 as
// stored), optionally standardised per channel, converted once at load from the dataset's
// channels-first (N, C, H, W) to the channels-last (N, H, W, C) the layers read, labels as
// int32. Converting once keeps the per-batch work to a gather.
#pragma once

#include <cstdint>
#include <vector>

#include "fedchain/core/error.hpp"
#include "fedchain/data/dataset.hpp"

namespace fedchain::train {

struct Samples {
  std::int64_t count = 0;
  std::int64_t height = 0;
  std::int64_t width = 0;
  std::int64_t channels = 1;
  std::int64_t classes = 10;
  std::vector<float> pixels;         // (count, height, width, channels)
  std::vector<std::int32_t> labels;  // (count), each in [0, classes)
  std::vector<float> fill;           // (channels): what a stored 0 becomes (augmentation's padding)
  std::int64_t sample_size() const { return height * width * channels; }
};

// Channel c: x -> x * (1 / (s * stddev[c])) - mean[c] / stddev[c], with s = 255 for uint8
// data and 1 for float32. Empty vectors mean 0 and 1 for every channel: uint8 pixels land in
// [0, 1]. With [data] normalize = true, callers take the training split's per-channel mean
// and stddev (data::pixel_stats) and apply them to both splits.
struct PixelScaling {
  std::vector<float> mean;    // (channels) or empty
  std::vector<float> stddev;  // (channels) or empty
};

// A label >= classes is a config error naming the sample.
Result<Samples> to_samples(const data::ImageSet& images, std::int64_t classes,
                           const PixelScaling& scaling = {});

}  // namespace fedchain::train
