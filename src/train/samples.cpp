// Dataset images to the float samples the backends read (samples.hpp).
#include "fedchain/train/samples.hpp"

namespace fedchain::train {

namespace {

Status check_images(const data::ImageSet& images, const PixelScaling& scaling) {
  const auto channels = static_cast<std::size_t>(images.channels);
  for (const auto* values : {&scaling.mean, &scaling.stddev}) {
    if (!values->empty() && values->size() != channels) {
      return config_error("pixel scaling: {} values for {} channels", values->size(), channels);
    }
  }
  for (const float s : scaling.stddev) {
    if (!(s > 0.0f)) {
      return config_error("pixel scaling: the standard deviation must be > 0, got {}", s);
    }
  }
  const bool is_float = images.type == data::PixelType::kFloat32;
  const std::size_t stored = is_float ? images.float_pixels.size() : images.pixels.size();
  if (images.channels < 1 ||
      static_cast<std::int64_t>(stored) != images.count * images.image_size() ||
      static_cast<std::int64_t>(images.labels.size()) != images.count) {
    return config_error(
        "dataset: {} images of {}x{}x{} need {} pixels and {} labels, got {} and {}", images.count,
        images.channels, images.rows, images.cols, images.count * images.image_size(), images.count,
        stored, images.labels.size());
  }
  return {};
}

// out[(n, p, c)] = in[(n, c, p)] * scale[c] - shift[c], p the pixel within a plane.
template <typename T>
std::vector<float> to_channels_last(const std::vector<T>& in, const data::ImageSet& images,
                                    const std::vector<float>& scale,
                                    const std::vector<float>& shift) {
  const auto channels = static_cast<std::size_t>(images.channels);
  const auto plane = static_cast<std::size_t>(images.rows * images.cols);
  std::vector<float> out(in.size(), 0.0f);
  for (std::size_t n = 0; n < static_cast<std::size_t>(images.count); ++n) {
    for (std::size_t c = 0; c < channels; ++c) {
      const T* from = in.data() + (n * channels + c) * plane;
      float* to = out.data() + n * plane * channels + c;
      for (std::size_t p = 0; p < plane; ++p) {
        to[p * channels] = static_cast<float>(from[p]) * scale[c] - shift[c];
      }
    }
  }
  return out;
}

}  // namespace

Result<Samples> to_samples(const data::ImageSet& images, std::int64_t classes,
                           const PixelScaling& scaling) {
  if (auto st = check_images(images, scaling); !st) return st.error();
  const bool is_float = images.type == data::PixelType::kFloat32;
  const auto channels = static_cast<std::size_t>(images.channels);
  // The same two float operations per pixel as before channels existed, so one-channel
  // uint8 data gives the same bits.
  std::vector<float> scale(channels);
  std::vector<float> shift(channels);
  Samples samples;
  samples.fill.resize(channels);
  for (std::size_t c = 0; c < channels; ++c) {
    const float mean = scaling.mean.empty() ? 0.0f : scaling.mean[c];
    const float stddev = scaling.stddev.empty() ? 1.0f : scaling.stddev[c];
    scale[c] = 1.0f / ((is_float ? 1.0f : 255.0f) * stddev);
    shift[c] = mean / stddev;
    samples.fill[c] = 0.0f * scale[c] - shift[c];
  }
  samples.count = images.count;
  samples.height = images.rows;
  samples.width = images.cols;
  samples.channels = images.channels;
  samples.classes = classes;
  samples.pixels = is_float ? to_channels_last(images.float_pixels, images, scale, shift)
                            : to_channels_last(images.pixels, images, scale, shift);
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
