// A direct convolution for layers with one input channel (the first layer of the cnn and of
// lenet). There im2col + GEMM is a poor fit: a patch is only k * k values (25 for 5x5), so
// the GEMM's inner dimension is too short to amortise its packing, and im2col writes 25
// floats for every input pixel. The direct kernel keeps a block of output pixels times all
// output channels in vector registers and reads each input pixel from a zero-padded copy
// of the image, with the weights transposed to (tap, channel) once per call.
//
// Float only, for the CPU backend; tests compare it with the double im2col reference in
// cpu_ops.hpp. Multiply and add stay separate instructions (no FMA: -ffp-contract=off), so
// the sums round as the plain C++ would.
#pragma once

#include <cstdint>

#include "fedchain/train/backend.hpp"

namespace fedchain::train::cpu {

// Output channels the direct kernel keeps in registers at most (four vectors of 8 floats).
inline constexpr std::int64_t kDirectConvMaxChannels = 32;

// True where the direct kernel applies: one input channel, stride 1, at most 32 outputs.
bool direct_conv_applies(const ConvShape& s);

// Floats of scratch for direct_conv_forward and direct_conv_backward_weights with `threads`
// threads: the transposed weights, and per thread a padded image, a padded copy of one
// sample's output gradient and partial dw and db sums.
std::int64_t direct_conv_workspace(const ConvShape& s, int threads);

// y (B, OH, OW, O) = conv(x (B, H, W, 1), w (O, k, k, 1)) + b. Samples are split over the
// threads; each output is computed by one thread in a fixed order.
void direct_conv_forward(const ConvShape& s, const float* x, const float* w, const float* b,
                         float* y, float* workspace, int threads);

// dw (O, k, k, 1) and db (O) from x and dy. Each thread sums its contiguous run of samples
// (one sample at a time, then into its partial); the partials are added in thread order.
void direct_conv_backward_weights(const ConvShape& s, const float* x, const float* dy, float* dw,
                                  float* db, float* workspace, int threads);

}  // namespace fedchain::train::cpu
