// oneDNN behind the CPU backend (onednn_ops.hpp). Primitives are created once per shape and
// kept: oneDNN compiles each one for this CPU, which costs milliseconds, and a model sees
// a handful of shapes (its layers at the training batch, the last partial batch, the
// evaluation batch).
#include "onednn_ops.hpp"

#include <map>
#include <mutex>
#include <optional>
#include <tuple>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "fedchain/core/cpu_level.hpp"

namespace fedchain::train::onednn {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Args = std::unordered_map<int, memory>;

memory::desc f32(const memory::dims& dims, Tag tag) {
  return {dims, memory::data_type::f32, tag};
}

// Wraps a backend buffer; oneDNN does not write through the const ones.
memory wrap(const memory::desc& desc, const dnnl::engine& engine, const float* data) {
  return {desc, engine, const_cast<float*>(data)};
}

void cap_isa_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (cpu_level() == CpuLevel::kX86_64_v3) dnnl::set_max_cpu_isa(dnnl::cpu_isa::avx2);
  });
}

// A reorder between the backend's plain layout and a primitive's chosen one; none when they
// are the same.
struct Relayout {
  std::optional<dnnl::reorder> reorder;
  memory chosen;  // the primitive's layout (owned by oneDNN) or empty when plain suffices

  Relayout(const memory::desc& plain, const memory::desc& chosen_desc, const dnnl::engine& engine,
           bool to_plain) {
    if (plain == chosen_desc) return;
    chosen = memory(chosen_desc, engine);
    reorder = to_plain ? dnnl::reorder({engine, chosen_desc, engine, plain})
                       : dnnl::reorder({engine, plain, engine, chosen_desc});
  }
  // The memory the primitive reads: `user` itself, or its copy in the chosen layout.
  memory into_chosen(dnnl::stream& stream, memory user) {
    if (!reorder) return user;
    reorder->execute(stream, user, chosen);
    return chosen;
  }
  // The memory the primitive writes: `user` itself, or the chosen-layout buffer that
  // from_chosen then copies into `user`.
  memory target(const memory& user) const { return reorder ? chosen : user; }
  void from_chosen(dnnl::stream& stream, memory user) {
    if (reorder) reorder->execute(stream, chosen, user);
  }
};

using ConvKey = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                           std::int64_t, std::int64_t, std::int64_t>;

ConvKey key_of(const ConvShape& s) {
  return {s.batch, s.height, s.width, s.in_channels, s.out_channels, s.kernel, s.stride, s.padding};
}

struct ConvDescs {
  memory::desc src, weights, bias, dst, any_weights;
  memory::dims strides, padding;

  explicit ConvDescs(const ConvShape& s)
      : src(f32({s.batch, s.in_channels, s.height, s.width}, Tag::nhwc)),
        weights(f32({s.out_channels, s.in_channels, s.kernel, s.kernel}, Tag::ohwi)),
        bias(f32({s.out_channels}, Tag::a)),
        dst(f32({s.batch, s.out_channels, s.out_height(), s.out_width()}, Tag::nhwc)),
        any_weights(f32({s.out_channels, s.in_channels, s.kernel, s.kernel}, Tag::any)),
        strides{s.stride, s.stride},
        padding{s.padding, s.padding} {}
};

struct ConvBackward {
  dnnl::convolution_backward_data data;
  Relayout data_weights;
  dnnl::convolution_backward_weights weights;
  Relayout grad_weights;
};

struct ConvPlan {
  ConvDescs descs;
  dnnl::convolution_forward::primitive_desc forward_pd;
  dnnl::convolution_forward forward;
  Relayout forward_weights;
  std::optional<ConvBackward> backward;  // on first use: inference needs none

  ConvPlan(const ConvShape& s, const dnnl::engine& engine)
      : descs(s),
        forward_pd(
            {dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct, descs.src,
             descs.any_weights, descs.bias, descs.dst, descs.strides, descs.padding, descs.padding},
            engine),
        forward(forward_pd),
        forward_weights(descs.weights, forward_pd.weights_desc(), engine, false) {}

  ConvBackward& backward_for(const dnnl::engine& engine) {
    if (backward) return *backward;
    const dnnl::convolution_backward_data::primitive_desc data_pd(
        {dnnl::algorithm::convolution_direct, descs.src, descs.any_weights, descs.dst,
         descs.strides, descs.padding, descs.padding},
        engine, forward_pd);
    const dnnl::convolution_backward_weights::primitive_desc weights_pd(
        {dnnl::algorithm::convolution_direct, descs.src, descs.any_weights, descs.bias, descs.dst,
         descs.strides, descs.padding, descs.padding},
        engine, forward_pd);
    backward.emplace(
        ConvBackward{dnnl::convolution_backward_data(data_pd),
                     Relayout(descs.weights, data_pd.weights_desc(), engine, false),
                     dnnl::convolution_backward_weights(weights_pd),
                     Relayout(descs.weights, weights_pd.diff_weights_desc(), engine, true)});
    return *backward;
  }
};

// A matmul C (m, n) = A (m, k) B (k, n) [+ bias], each operand plain row-major or its
// transpose (tag ba): the dense layer's three products.
struct MatmulDescs {
  memory::desc a, b, c;
  std::optional<memory::desc> bias;  // the forward product's
};

using MatmulKey = std::tuple<int, std::int64_t, std::int64_t, std::int64_t>;

enum Product : int { kForward, kWeightGrad, kInputGrad };

}  // namespace

std::string effective_isa() {
  cap_isa_once();
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::sse41:
      return "sse41";
    default:
      return "other";
  }
}

struct Kernels::Impl {
  int threads;
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::map<ConvKey, ConvPlan> convs;
  std::map<MatmulKey, std::pair<MatmulDescs, dnnl::matmul>> matmuls;

  ConvPlan& conv(const ConvShape& s) {
    const ConvKey key = key_of(s);
    auto it = convs.find(key);
    if (it == convs.end()) it = convs.emplace(key, ConvPlan(s, engine)).first;
    return it->second;
  }

  // The product's descriptors and primitive for a dense layer of this shape.
  std::pair<MatmulDescs, dnnl::matmul>& matmul(Product product, const DenseShape& s) {
    const MatmulKey key{product, s.batch, s.in, s.out};
    auto it = matmuls.find(key);
    if (it != matmuls.end()) return it->second;
    MatmulDescs d;
    switch (product) {
      case kForward:  // y (batch, out) = x (batch, in) w^T + b; w is (out, in) row-major
        d = {f32({s.batch, s.in}, Tag::ab), f32({s.in, s.out}, Tag::ba),
             f32({s.batch, s.out}, Tag::ab), f32({1, s.out}, Tag::ab)};
        break;
      case kWeightGrad:  // dw (out, in) = dy^T x
        d = {f32({s.out, s.batch}, Tag::ba), f32({s.batch, s.in}, Tag::ab),
             f32({s.out, s.in}, Tag::ab), std::nullopt};
        break;
      case kInputGrad:  // dx (batch, in) = dy w
        d = {f32({s.batch, s.out}, Tag::ab), f32({s.out, s.in}, Tag::ab),
             f32({s.batch, s.in}, Tag::ab), std::nullopt};
        break;
    }
    const auto desc =
        d.bias ? dnnl::matmul::desc(d.a, d.b, *d.bias, d.c) : dnnl::matmul::desc(d.a, d.b, d.c);
    dnnl::matmul primitive(dnnl::matmul::primitive_desc(desc, engine));
    return matmuls.emplace(key, std::pair{d, std::move(primitive)}).first->second;
  }

  void run_matmul(Product product, const DenseShape& s, const float* a, const float* b,
                  const float* bias, float* c) {
    auto& [d, primitive] = matmul(product, s);
    Args args{{DNNL_ARG_SRC, wrap(d.a, engine, a)},
              {DNNL_ARG_WEIGHTS, wrap(d.b, engine, b)},
              {DNNL_ARG_DST, wrap(d.c, engine, c)}};
    if (bias != nullptr) args.emplace(DNNL_ARG_BIAS, wrap(*d.bias, engine, bias));
    primitive.execute(stream, args);
  }

  // oneDNN's OpenMP kernels take the calling thread's team size; another backend in the
  // process (a test's, the evaluator's) may have changed it since this one was made.
  void use_threads() const {
#if defined(_OPENMP)
    omp_set_num_threads(threads);
#endif
  }
};

Kernels::Kernels(int threads) : impl_(std::make_unique<Impl>()) {
  cap_isa_once();
  impl_->threads = threads;
}

Kernels::~Kernels() = default;

void Kernels::conv2d_forward(const ConvShape& s, const float* x, const float* w, const float* b,
                             float* y) {
  impl_->use_threads();
  auto& engine = impl_->engine;
  auto& stream = impl_->stream;
  ConvPlan& plan = impl_->conv(s);
  const memory weights =
      plan.forward_weights.into_chosen(stream, wrap(plan.descs.weights, engine, w));
  plan.forward.execute(stream, {{DNNL_ARG_SRC, wrap(plan.descs.src, engine, x)},
                                {DNNL_ARG_WEIGHTS, weights},
                                {DNNL_ARG_BIAS, wrap(plan.descs.bias, engine, b)},
                                {DNNL_ARG_DST, wrap(plan.descs.dst, engine, y)}});
  stream.wait();
}

void Kernels::conv2d_backward(const ConvShape& s, const float* x, const float* w, const float* dy,
                              float* dx, float* dw, float* db) {
  impl_->use_threads();
  auto& engine = impl_->engine;
  auto& stream = impl_->stream;
  ConvPlan& plan = impl_->conv(s);
  ConvBackward& backward = plan.backward_for(engine);
  const memory grad_out = wrap(plan.descs.dst, engine, dy);
  const memory grad_weights = wrap(plan.descs.weights, engine, dw);
  backward.weights.execute(stream,
                           {{DNNL_ARG_SRC, wrap(plan.descs.src, engine, x)},
                            {DNNL_ARG_DIFF_DST, grad_out},
                            {DNNL_ARG_DIFF_WEIGHTS, backward.grad_weights.target(grad_weights)},
                            {DNNL_ARG_DIFF_BIAS, wrap(plan.descs.bias, engine, db)}});
  backward.grad_weights.from_chosen(stream, grad_weights);
  if (dx != nullptr) {
    const memory weights =
        backward.data_weights.into_chosen(stream, wrap(plan.descs.weights, engine, w));
    backward.data.execute(stream, {{DNNL_ARG_DIFF_DST, grad_out},
                                   {DNNL_ARG_WEIGHTS, weights},
                                   {DNNL_ARG_DIFF_SRC, wrap(plan.descs.src, engine, dx)}});
  }
  stream.wait();
}

void Kernels::dense_forward(const DenseShape& s, const float* x, const float* w, const float* b,
                            float* y) {
  impl_->use_threads();
  impl_->run_matmul(kForward, s, x, w, b, y);
  impl_->stream.wait();
}

void Kernels::dense_backward(const DenseShape& s, const float* x, const float* w, const float* dy,
                             float* dx, float* dw, float* db) {
  impl_->use_threads();
  impl_->run_matmul(kWeightGrad, s, dy, x, nullptr, dw);
  if (dx != nullptr) impl_->run_matmul(kInputGrad, s, dy, w, nullptr, dx);
  // The bias gradient sums dy's rows in batch order: cheap, and the same bits on any CPU.
  std::fill(db, db + s.out, 0.0f);
  for (std::int64_t row = 0; row < s.batch; ++row) {
    const float* grad = dy + row * s.out;
    for (std::int64_t o = 0; o < s.out; ++o) db[o] += grad[o];
  }
  impl_->stream.wait();
}

}  // namespace fedchain::train::onednn
