// The direct single-input-channel convolution (see cpu_direct_conv.hpp for why).
//
// Register blocking: forward holds kPixels output pixels x kVectors vectors of 8 output
// channels, backward kTaps taps x kVectors, sized so that the accumulators and the operands
// of one step fit in the 16 AVX registers.
#include "cpu_direct_conv.hpp"

#include <algorithm>
#include <cstring>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace fedchain::train::cpu {

namespace {

constexpr std::int64_t kLanes = 8;
using Vec = float __attribute__((vector_size(kLanes * sizeof(float))));

// Unaligned vector access (workspace and activations need only float alignment).
inline Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof(Vec));
  return v;
}
inline void store(float* p, Vec v) {
  std::memcpy(p, &v, sizeof(Vec));
}

int thread_index() {
#if defined(_OPENMP)
  return omp_get_thread_num();
#else
  return 0;
#endif
}
int thread_count() {
#if defined(_OPENMP)
  return omp_get_num_threads();
#else
  return 1;
#endif
}

// Geometry shared by forward and backward.
struct Layout {
  std::int64_t vectors;        // output channels in vectors of 8, rounded up
  std::int64_t stride;         // vectors * 8: a padded channel row
  std::int64_t taps;           // k * k
  std::int64_t padded_height;  // H + 2p
  std::int64_t padded_width;   // W + 2p
  std::int64_t out_height;
  std::int64_t out_width;

  explicit Layout(const ConvShape& s)
      : vectors((s.out_channels + kLanes - 1) / kLanes),
        stride(vectors * kLanes),
        taps(s.kernel * s.kernel),
        padded_height(s.height + 2 * s.padding),
        padded_width(s.width + 2 * s.padding),
        out_height(s.out_height()),
        out_width(s.out_width()) {}
  std::int64_t image() const { return padded_height * padded_width; }
  std::int64_t pixels() const { return out_height * out_width; }
  // Per thread: padded image, padded dy of one sample, partial dw (taps x stride) and db.
  std::int64_t per_thread() const { return image() + pixels() * stride + (taps + 1) * stride; }
};

// Copies sample x (H, W) into the middle of a zeroed (H + 2p, W + 2p) image.
void pad_image(const ConvShape& s, const Layout& l, const float* x, float* padded) {
  std::fill(padded, padded + l.image(), 0.0f);
  for (std::int64_t row = 0; row < s.height; ++row) {
    std::memcpy(padded + (row + s.padding) * l.padded_width + s.padding, x + row * s.width,
                static_cast<std::size_t>(s.width) * sizeof(float));
  }
}

// wt (taps, stride): wt[t][o] = w[o][t], zero for the padding channels.
void transpose_weights(const ConvShape& s, const Layout& l, const float* w, float* wt) {
  std::fill(wt, wt + l.taps * l.stride, 0.0f);
  for (std::int64_t o = 0; o < s.out_channels; ++o) {
    for (std::int64_t t = 0; t < l.taps; ++t) wt[t * l.stride + o] = w[o * l.taps + t];
  }
}

// kPixels consecutive output pixels of one row, starting at padded input `in` (the top-left
// tap of the first pixel). Writes out_channels floats per pixel at `out`.
template <int kVectors, int kPixels>
void forward_pixels(const Layout& l, std::int64_t kernel, const float* in, const float* wt,
                    const float* bias, std::int64_t out_channels, float* out) {
  Vec acc[kPixels][kVectors];
  for (int v = 0; v < kVectors; ++v) {
    const Vec b = load(bias + v * kLanes);
    for (int p = 0; p < kPixels; ++p) acc[p][v] = b;
  }
  for (std::int64_t ky = 0; ky < kernel; ++ky) {
    const float* row = in + ky * l.padded_width;
    for (std::int64_t kx = 0; kx < kernel; ++kx) {
      const float* tap = wt + (ky * kernel + kx) * l.stride;
      Vec weights[kVectors];
      for (int v = 0; v < kVectors; ++v) weights[v] = load(tap + v * kLanes);
      for (int p = 0; p < kPixels; ++p) {
        const float pixel = row[kx + p];
        for (int v = 0; v < kVectors; ++v) acc[p][v] += pixel * weights[v];
      }
    }
  }
  for (int p = 0; p < kPixels; ++p) {
    float* dst = out + p * out_channels;
    if (out_channels == kVectors * kLanes) {
      for (int v = 0; v < kVectors; ++v) store(dst + v * kLanes, acc[p][v]);
    } else {
      float lanes[kVectors * kLanes];
      std::memcpy(lanes, acc[p], sizeof(lanes));
      std::memcpy(dst, lanes, static_cast<std::size_t>(out_channels) * sizeof(float));
    }
  }
}

template <int kVectors>
void forward_sample(const ConvShape& s, const Layout& l, const float* padded, const float* wt,
                    const float* bias, float* y) {
  constexpr int kPixels = 12 / kVectors;  // the weights are memory operands
  for (std::int64_t oy = 0; oy < l.out_height; ++oy) {
    const float* in = padded + oy * l.padded_width;
    float* out = y + oy * l.out_width * s.out_channels;
    std::int64_t ox = 0;
    for (; ox + kPixels <= l.out_width; ox += kPixels) {
      forward_pixels<kVectors, kPixels>(l, s.kernel, in + ox, wt, bias, s.out_channels,
                                        out + ox * s.out_channels);
    }
    for (; ox < l.out_width; ++ox) {
      forward_pixels<kVectors, 1>(l, s.kernel, in + ox, wt, bias, s.out_channels,
                                  out + ox * s.out_channels);
    }
  }
}

// dw_partial[tap][o] += sum over the sample's output pixels of dy[pixel][o] * x[pixel + tap],
// for kTaps taps starting at `first_tap`. dy is padded to l.stride channels.
template <int kVectors, int kTaps>
void weight_taps(const Layout& l, std::int64_t kernel, std::int64_t first_tap, const float* padded,
                 const float* dy, float* dw_partial) {
  std::int64_t offsets[kTaps];
  for (int j = 0; j < kTaps; ++j) {
    const std::int64_t tap = first_tap + j;
    offsets[j] = (tap / kernel) * l.padded_width + tap % kernel;
  }
  Vec acc[kTaps][kVectors] = {};
  for (std::int64_t oy = 0; oy < l.out_height; ++oy) {
    for (std::int64_t ox = 0; ox < l.out_width; ++ox) {
      const float* grad = dy + (oy * l.out_width + ox) * l.stride;
      const float* in = padded + oy * l.padded_width + ox;
      Vec g[kVectors];
      for (int v = 0; v < kVectors; ++v) g[v] = load(grad + v * kLanes);
      for (int j = 0; j < kTaps; ++j) {
        const float pixel = in[offsets[j]];
        for (int v = 0; v < kVectors; ++v) acc[j][v] += pixel * g[v];
      }
    }
  }
  for (int j = 0; j < kTaps; ++j) {
    float* dst = dw_partial + (first_tap + j) * l.stride;
    for (int v = 0; v < kVectors; ++v) store(dst + v * kLanes, load(dst + v * kLanes) + acc[j][v]);
  }
}

template <int kVectors>
void weight_sample(const ConvShape& s, const Layout& l, const float* padded, const float* dy,
                   float* dw_partial) {
  constexpr int kTaps = (15 - kVectors) / kVectors;  // + kVectors of dy + one pixel
  std::int64_t tap = 0;
  for (; tap + kTaps <= l.taps; tap += kTaps) {
    weight_taps<kVectors, kTaps>(l, s.kernel, tap, padded, dy, dw_partial);
  }
  for (; tap < l.taps; ++tap) weight_taps<kVectors, 1>(l, s.kernel, tap, padded, dy, dw_partial);
}

template <typename Fn>
void dispatch_vectors(std::int64_t vectors, Fn&& fn) {
  switch (vectors) {
    case 1:
      fn.template operator()<1>();
      break;
    case 2:
      fn.template operator()<2>();
      break;
    case 3:
      fn.template operator()<3>();
      break;
    default:
      fn.template operator()<4>();
      break;
  }
}

}  // namespace

bool direct_conv_applies(const ConvShape& s) {
  return s.in_channels == 1 && s.stride == 1 && s.out_channels <= kDirectConvMaxChannels &&
         s.out_height() > 0 && s.out_width() > 0;
}

std::int64_t direct_conv_workspace(const ConvShape& s, int threads) {
  const Layout l(s);
  return l.taps * l.stride + l.stride + std::max(threads, 1) * l.per_thread();
}

void direct_conv_forward(const ConvShape& s, const float* x, const float* w, const float* b,
                         float* y, float* workspace, int threads) {
  const Layout l(s);
  float* wt = workspace;
  float* bias = wt + l.taps * l.stride;
  float* scratch = bias + l.stride;
  transpose_weights(s, l, w, wt);
  std::fill(bias, bias + l.stride, 0.0f);
  std::copy(b, b + s.out_channels, bias);
#if defined(_OPENMP)
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && s.batch > 1)
#endif
  for (std::int64_t sample = 0; sample < s.batch; ++sample) {
    float* padded = scratch + thread_index() * l.per_thread();
    pad_image(s, l, x + sample * s.height * s.width, padded);
    float* out = y + sample * l.pixels() * s.out_channels;
    dispatch_vectors(
        l.vectors, [&]<int kVectors>() { forward_sample<kVectors>(s, l, padded, wt, bias, out); });
  }
}

void direct_conv_backward_weights(const ConvShape& s, const float* x, const float* dy, float* dw,
                                  float* db, float* workspace, int threads) {
  const Layout l(s);
  float* scratch = workspace + l.taps * l.stride + l.stride;
  int used_threads = 1;
#if defined(_OPENMP)
#pragma omp parallel num_threads(threads) if (threads > 1 && s.batch > 1)
#endif
  {
    const int thread = thread_index();
    const int team = thread_count();
    if (thread == 0) used_threads = team;
    float* padded = scratch + thread * l.per_thread();
    float* grad = padded + l.image();
    float* dw_partial = grad + l.pixels() * l.stride;
    float* db_partial = dw_partial + l.taps * l.stride;
    std::fill(dw_partial, dw_partial + (l.taps + 1) * l.stride, 0.0f);
    std::fill(grad, grad + l.pixels() * l.stride, 0.0f);  // the padding channels stay 0
    for (std::int64_t sample = s.batch * thread / team; sample < s.batch * (thread + 1) / team;
         ++sample) {
      pad_image(s, l, x + sample * s.height * s.width, padded);
      const float* sample_dy = dy + sample * l.pixels() * s.out_channels;
      for (std::int64_t p = 0; p < l.pixels(); ++p) {
        std::memcpy(grad + p * l.stride, sample_dy + p * s.out_channels,
                    static_cast<std::size_t>(s.out_channels) * sizeof(float));
      }
      dispatch_vectors(l.vectors, [&]<int kVectors>() {
        weight_sample<kVectors>(s, l, padded, grad, dw_partial);
      });
      Vec sum[4] = {};
      for (std::int64_t p = 0; p < l.pixels(); ++p) {
        for (std::int64_t v = 0; v < l.vectors; ++v)
          sum[v] += load(grad + p * l.stride + v * kLanes);
      }
      for (std::int64_t v = 0; v < l.vectors; ++v) {
        store(db_partial + v * kLanes, load(db_partial + v * kLanes) + sum[v]);
      }
    }
  }
  // Thread 0's partial, then each later thread's, in order.
  for (int thread = 0; thread < used_threads; ++thread) {
    const float* dw_partial = scratch + thread * l.per_thread() + l.image() + l.pixels() * l.stride;
    const float* db_partial = dw_partial + l.taps * l.stride;
    for (std::int64_t o = 0; o < s.out_channels; ++o) {
      for (std::int64_t t = 0; t < l.taps; ++t) {
        const float value = dw_partial[t * l.stride + o];
        dw[o * l.taps + t] = thread == 0 ? value : dw[o * l.taps + t] + value;
      }
      db[o] = thread == 0 ? db_partial[o] : db[o] + db_partial[o];
    }
  }
}

}  // namespace fedchain::train::cpu
