// Crop-and-flip augmentation (augment.hpp).
#include "fedchain/train/augment.hpp"

#include <algorithm>

namespace fedchain::train {

Result<Augment> augment_from_name(std::string_view name) {
  if (name == "none") return Augment::kNone;
  if (name == "crop_flip") return Augment::kCropFlip;
  return config_error("data.augment = '{}' is not one of none | crop_flip", name);
}

CropFlip draw_crop_flip(SeededRandom& random) {
  CropFlip draw;
  draw.dy = static_cast<std::int64_t>(random.below(2 * kCropPadding + 1)) - kCropPadding;
  draw.dx = static_cast<std::int64_t>(random.below(2 * kCropPadding + 1)) - kCropPadding;
  draw.flip = random.below(2) == 1;
  return draw;
}

void apply_crop_flip(std::span<const float> in, std::span<float> out, std::int64_t height,
                     std::int64_t width, std::span<const float> fill, const CropFlip& draw) {
  const auto channels = static_cast<std::int64_t>(fill.size());
  for (std::int64_t y = 0; y < height; ++y) {
    const std::int64_t from_y = y + draw.dy;
    for (std::int64_t x = 0; x < width; ++x) {
      const std::int64_t from_x = (draw.flip ? width - 1 - x : x) + draw.dx;
      float* to = out.data() + (y * width + x) * channels;
      if (from_y < 0 || from_y >= height || from_x < 0 || from_x >= width) {
        std::copy(fill.begin(), fill.end(), to);
      } else {
        std::copy_n(in.data() + (from_y * width + from_x) * channels, channels, to);
      }
    }
  }
}

std::uint64_t augment_seed(std::uint64_t training_seed) {
  // "augment" in ASCII: a stream index no rank or round number reaches.
  return derive_seed(training_seed, 0x0061'7567'6d65'6e74ULL, 0);
}

}  // namespace fedchain::train
