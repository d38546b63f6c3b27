// Training data as the model reads it: float pixels scaled to [0, 1] (and optionally
// standardised) once at load, channels-last, labels as int32. Converting once keeps the
// per-batch work to a gather.
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
  std::int64_t sample_size() const { return height * width * channels; }
};

// x -> (x / 255 - mean) / stddev. The default leaves pixels in [0, 1]; with [data]
// normalize = true, callers take mean and stddev of the training split
// (data::pixel_stats) and apply them to both splits.
struct PixelScaling {
  float mean = 0.0f;
  float stddev = 1.0f;
};

// A label >= classes is a config error naming the sample.
Result<Samples> to_samples(const data::ImageSet& images, std::int64_t classes,
                           const PixelScaling& scaling = {});

}  // namespace fedchain::train
