// The CPU backend's convolutions and dense layers through oneDNN, which compiles them at run
// time for the best instruction set the CPU has (AVX-512 where present, else AVX2). On an
// AVX-512 Xeon this runs the cnn's conv2 2.7x faster than im2col and Eigen's AVX2 GEMM, and
// it is the library PyTorch's CPU path uses (docs/PERFORMANCE.md, "Training"). Results are
// the same bits for the same machine kind, thread count and build, like the Eigen path's.
//
// Tensors keep the backend's layouts (backend.hpp): activations NHWC, conv weights
// (out, kernel, kernel, in), dense weights (out, in); oneDNN's blocked weight layouts are
// reordered to and from them inside each call.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fedchain/train/backend.hpp"

namespace fedchain::train::onednn {

// The instruction set oneDNN's kernels use in this process, e.g. "avx512_core", "avx2".
std::string effective_isa();

class Kernels {
 public:
  // Caps oneDNN at AVX2 when FEDCHAIN_CPU_LEVEL forces x86-64-v3 (core/cpu_level.hpp), so
  // one switch picks the training and the aggregation kernels' instruction set.
  explicit Kernels(int threads);
  ~Kernels();
  Kernels(const Kernels&) = delete;
  Kernels& operator=(const Kernels&) = delete;

  void conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b, float* y);
  // dx may be null (a first layer needs no input gradient).
  void conv2d_backward(const ConvShape& s, const float* x, const float* w, const float* dy,
                       float* dx, float* dw, float* db);
  void dense_forward(const DenseShape& s, const float* x, const float* w, const float* b, float* y);
  // dx may be null.
  void dense_backward(const DenseShape& s, const float* x, const float* w, const float* dy,
                      float* dx, float* dw, float* db);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedchain::train::onednn
