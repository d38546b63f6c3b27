// Training-time augmentation (data.augment, docs/data.md "Augmentation"): per sample of each
// training batch, crop_flip pads the image with 4 pixels of the stored value 0 on every side,
// takes a random crop of the original size and flips it left to right with probability 1/2,
// as the usual CIFAR recipe does. Draws come from a stream seeded by the local training
// seed (job seed, client, round), in batch order, so a client's augmented batches are the
// same bits on any rank and differ from round to round.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "fedchain/core/error.hpp"
#include "fedchain/core/random.hpp"

namespace fedchain::train {

enum class Augment { kNone, kCropFlip };

// "none" | "crop_flip"; anything else is a config error naming data.augment.
Result<Augment> augment_from_name(std::string_view name);

inline constexpr std::int64_t kCropPadding = 4;

// One sample's draw: the crop's offset from the centred position, each in [-4, 4], and
// whether it is flipped.
struct CropFlip {
  std::int64_t dy = 0;
  std::int64_t dx = 0;
  bool flip = false;
};

// dy = below(9) - 4, then dx = below(9) - 4, then flip = below(2) == 1.
CropFlip draw_crop_flip(SeededRandom& random);

// out(y, x, c) = in(y + dy, x' + dx, c) with x' = W - 1 - x when flipped (else x), or
// fill[c] where that falls outside the image. in and out are (H, W, C), distinct.
void apply_crop_flip(std::span<const float> in, std::span<float> out, std::int64_t height,
                     std::int64_t width, std::span<const float> fill, const CropFlip& draw);

// The seed of the augmentation stream for a local training seed: apart from the batch
// order's stream, so turning augmentation on does not change which samples a batch holds.
std::uint64_t augment_seed(std::uint64_t training_seed);

}  // namespace fedchain::train
