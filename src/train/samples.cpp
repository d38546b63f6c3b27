// uint8 images to the float samples the backends read.
#include "fedchain/train/samples.hpp"

namespace fedchain::train {

Result<Samples> to_samples(const data::ImageSet& images, std::int64_t classes,
                           const PixelScaling& scaling) {
  const std::int64_t size = images.rows * images.cols;
  if (!(scaling.stddev > 0.0f)) {
    return config_error("pixel scaling: the standard deviation must be > 0, got {}",
                        scaling.stddev);
  }
  if (static_cast<std::int64_t>(images.pixels.size()) != images.count * size ||
      static_cast<std::int64_t>(images.labels.size()) != images.count) {
    return config_error("dataset: {} images of {}x{} need {} pixels and {} labels, got {} and {}",
                        images.count, images.rows, images.cols, images.count * size, images.count,
                        images.pixels.size(), images.labels.size());
  }
  Samples samples;
  samples.count = images.count;
  samples.height = images.rows;
  samples.width = images.cols;
  samples.channels = 1;
  samples.classes = classes;
  samples.pixels.resize(images.pixels.size());
  const float scale = 1.0f / (255.0f * scaling.stddev);
  const float shift = scaling.mean / scaling.stddev;
  for (std::size_t i = 0; i < images.pixels.size(); ++i) {
    samples.pixels[i] = static_cast<float>(images.pixels[i]) * scale - shift;
  }
  samples.labels.resize(images.labels.size());
  for (std::size_t i = 0; i < images.labels.size(); ++i) {
    if (images.labels[i] >= classes) {
      return config_error("dataset: sample {} has label {}, but the model has {} classes", i,
                          images.labels[i], classes);
    }
    samples.labels[i] = images.labels[i];
  }
  return samples;
}

}  // namespace fedchain::train
