// The layer stacks behind each arch name, their parameter layout in one buffer, and the
// forward/backward walk over them. Layers are plain descriptions dispatched by kind: the
// maths lives in the backend, so this file is the same for every device.
#include "fedchain/train/model.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include <fmt/format.h>

#include "fedchain/core/random.hpp"

namespace fedchain::train {

namespace {

enum class LayerKind { kDense, kConv, kMaxPool, kRelu, kFlatten };

struct Dims {  // one sample, channels-last
  std::int64_t height = 1;
  std::int64_t width = 1;
  std::int64_t channels = 1;
  std::int64_t size() const { return height * width * channels; }
};

struct Layer {
  LayerKind kind = LayerKind::kRelu;
  std::string name;
  Dims in;
  Dims out;
  std::int64_t kernel = 0;  // conv
  std::int64_t stride = 1;
  std::int64_t padding = 0;
  std::int64_t weight_offset = -1;  // into the parameter buffer; -1 without parameters
  std::int64_t bias_offset = -1;
  bool output_layer = false;     // initialised with Glorot rather than He
  bool needs_input_grad = true;  // false before the first layer with parameters
  Buffer output;                 // (max_batch, out) unless the layer works in place
  const float* input = nullptr;  // what the last forward read
  float* result = nullptr;       // where the last forward wrote

  DenseShape dense(std::int64_t batch) const { return {batch, in.size(), out.channels}; }
  ConvShape conv(std::int64_t batch) const {
    return {batch, in.height, in.width, in.channels, out.channels, kernel, stride, padding};
  }
  PoolShape pool(std::int64_t batch) const { return {batch, in.height, in.width, in.channels}; }
};

// Appends layers while tracking the running shape.
class StackBuilder {
 public:
  explicit StackBuilder(Dims input) : shape_(input) {}

  void conv(const std::string& name, std::int64_t filters, std::int64_t kernel,
            std::int64_t padding) {
    Layer layer = make(LayerKind::kConv, name,
                       {shape_.height + 2 * padding - kernel + 1,
                        shape_.width + 2 * padding - kernel + 1, filters});
    layer.kernel = kernel;
    layer.padding = padding;
    push(std::move(layer));
  }
  void dense(const std::string& name, std::int64_t units) {
    push(make(LayerKind::kDense, name, {1, 1, units}));
  }
  void relu() { push(make(LayerKind::kRelu, "relu", shape_)); }
  void pool() {
    push(make(LayerKind::kMaxPool, "maxpool",
              {shape_.height / 2, shape_.width / 2, shape_.channels}));
  }
  void flatten() { push(make(LayerKind::kFlatten, "flatten", {1, 1, shape_.size()})); }
  bool valid() const { return shape_.height > 0 && shape_.width > 0; }
  std::vector<Layer> take() { return std::move(layers_); }

 private:
  Layer make(LayerKind kind, const std::string& name, Dims out) const {
    Layer layer;
    layer.kind = kind;
    layer.name = name;
    layer.in = shape_;
    layer.out = out;
    return layer;
  }
  void push(Layer layer) {
    shape_ = layer.out;
    layers_.push_back(std::move(layer));
  }
  Dims shape_;
  std::vector<Layer> layers_;
};

LayerSpec layer(std::string type, std::string name = {}, std::int64_t out = 0,
                std::int64_t kernel = 0, std::int64_t padding = 0) {
  LayerSpec spec;
  spec.type = std::move(type);
  spec.name = std::move(name);
  spec.out = out;
  spec.kernel = kernel;
  spec.padding = padding;
  return spec;
}
LayerSpec conv2d(std::string name, std::int64_t out, std::int64_t kernel, std::int64_t padding) {
  return layer("conv2d", std::move(name), out, kernel, padding);
}
LayerSpec dense(std::string name, std::int64_t out) {
  return layer("dense", std::move(name), out);
}
LayerSpec relu() {
  return layer("relu");
}
LayerSpec maxpool2() {
  return layer("maxpool", {}, 0, 2);
}
LayerSpec flatten() {
  return layer("flatten");
}

Result<std::vector<Layer>> build_stack(const ModelConfig& config) {
  auto specs = layer_specs(config);
  if (!specs) return specs.error();
  StackBuilder stack({config.height, config.width, config.channels});
  for (const LayerSpec& spec : *specs) {
    if (spec.type == "conv2d") {
      stack.conv(spec.name, spec.out, spec.kernel, spec.padding);
    } else if (spec.type == "dense") {
      stack.dense(spec.name, spec.out);
    } else if (spec.type == "relu") {
      stack.relu();
    } else if (spec.type == "maxpool") {
      stack.pool();
    } else {
      stack.flatten();
    }
  }
  if (!stack.valid()) {
    return config_error("model.arch = \"{}\" needs a larger input than {}x{}", config.arch,
                        config.height, config.width);
  }
  return stack.take();
}

}  // namespace

Result<std::vector<LayerSpec>> layer_specs(const ModelConfig& config) {
  std::vector<LayerSpec> specs;
  if (config.arch == "logreg") {
    specs = {flatten(), dense("fc", config.classes)};
  } else if (config.arch == "mlp") {
    specs.push_back(flatten());
    for (std::size_t i = 0; i < config.hidden.size(); ++i) {
      if (config.hidden[i] < 1) return config_error("model.hidden: widths must be >= 1");
      specs.push_back(dense(fmt::format("fc{}", i + 1), config.hidden[i]));
      specs.push_back(relu());
    }
    specs.push_back(dense(fmt::format("fc{}", config.hidden.size() + 1), config.classes));
  } else if (config.arch == "cnn") {  // McMahan et al. 2017, 'same' padding
    specs = {conv2d("conv1", 32, 5, 2),
             relu(),
             maxpool2(),
             conv2d("conv2", 64, 5, 2),
             relu(),
             maxpool2(),
             flatten(),
             dense("fc1", 512),
             relu(),
             dense("fc2", config.classes)};
  } else if (config.arch == "lenet") {  // NIID-Bench's simple CNN, 'valid' padding
    specs = {conv2d("conv1", 6, 5, 0),
             relu(),
             maxpool2(),
             conv2d("conv2", 16, 5, 0),
             relu(),
             maxpool2(),
             flatten(),
             dense("fc1", 120),
             relu(),
             dense("fc2", 84),
             relu(),
             dense("fc3", config.classes)};
  } else {
    return config_error("model.arch = \"{}\": expected logreg, mlp, cnn or lenet", config.arch);
  }
  return specs;
}

Result<std::vector<LayerShape>> layer_input_shapes(const ModelConfig& config) {
  auto stack = build_stack(config);
  if (!stack) return stack.error();
  std::vector<LayerShape> shapes;
  for (const Layer& layer : *stack) {
    shapes.push_back({layer.in.height, layer.in.width, layer.in.channels});
  }
  return shapes;
}

ModelConfig model_config(const ModelSection& section) {
  ModelConfig config;
  config.arch = section.arch;
  config.hidden = section.hidden;
  return config;
}

struct Model::Impl {
  Backend* backend = nullptr;
  ModelConfig config;
  std::int64_t max_batch = 0;
  std::int64_t batch = 0;  // of the last forward
  std::vector<Layer> layers;
  std::vector<ParamView> views;
  std::int64_t parameter_count = 0;
  Buffer parameters;
  Buffer gradients;
  Buffer grad_a;  // ping-pong activation gradients, (max_batch, largest layer output)
  Buffer grad_b;
  Buffer workspace;  // conv scratch, the largest conv2d_workspace of any layer
};

Result<ModelSize> Model::size_of(const ModelConfig& config) {
  auto stack = build_stack(config);
  if (!stack) return stack.error();
  ModelSize size;
  std::int64_t largest_activation = config.height * config.width * config.channels;
  std::int64_t largest_im2col = 0;
  for (const Layer& layer : *stack) {
    largest_activation = std::max(largest_activation, layer.out.size());
    if (layer.kind == LayerKind::kDense) {
      size.parameters += layer.out.channels * (layer.in.size() + 1);
    }
    if (layer.kind == LayerKind::kConv) {
      const ConvShape shape = layer.conv(1);
      size.parameters += layer.out.channels * (shape.patch_size() + 1);
      largest_im2col =
          std::max(largest_im2col, shape.out_height() * shape.out_width() * shape.patch_size());
    }
    if (layer.kind == LayerKind::kDense || layer.kind == LayerKind::kConv ||
        layer.kind == LayerKind::kMaxPool) {
      size.activation_floats_per_sample += layer.out.size();
    }
  }
  // grad_a and grad_b, as Model::create allocates them.
  size.activation_floats_per_sample += 2 * largest_activation + largest_im2col;
  return size;
}

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

Result<Model> Model::create(Backend& backend, const ModelConfig& config, std::int64_t max_batch) {
  if (max_batch < 1) return config_error("model: max batch must be >= 1, got {}", max_batch);
  auto stack = build_stack(config);
  if (!stack) return stack.error();
  auto impl = std::make_unique<Impl>();
  impl->backend = &backend;
  impl->config = config;
  impl->max_batch = max_batch;
  impl->layers = std::move(stack.value());

  auto alloc = [&](std::int64_t floats) {
    return backend.allocate(static_cast<std::size_t>(floats) * sizeof(float));
  };
  std::int64_t largest_activation = config.height * config.width * config.channels;
  std::int64_t largest_workspace = 0;
  bool seen_parameters = false;
  for (std::size_t i = 0; i < impl->layers.size(); ++i) {
    Layer& layer = impl->layers[i];
    layer.needs_input_grad = seen_parameters;
    largest_activation = std::max(largest_activation, layer.out.size());
    if (layer.kind == LayerKind::kDense || layer.kind == LayerKind::kConv) {
      seen_parameters = true;
      const std::int64_t fan_in = layer.kind == LayerKind::kDense
                                      ? layer.in.size()
                                      : layer.kernel * layer.kernel * layer.in.channels;
      const std::int64_t units = layer.out.channels;
      std::vector<std::int64_t> shape =
          layer.kind == LayerKind::kDense
              ? std::vector<std::int64_t>{units, fan_in}
              : std::vector<std::int64_t>{units, layer.kernel, layer.kernel, layer.in.channels};
      layer.weight_offset = impl->parameter_count;
      impl->views.push_back({layer.name + ".weight", layer.weight_offset, units * fan_in, shape});
      impl->parameter_count += units * fan_in;
      layer.bias_offset = impl->parameter_count;
      impl->views.push_back({layer.name + ".bias", layer.bias_offset, units, {units}});
      impl->parameter_count += units;
    }
    if (layer.kind == LayerKind::kConv) {
      largest_workspace =
          std::max(largest_workspace, backend.conv2d_workspace(layer.conv(max_batch)));
    }
    if (layer.kind == LayerKind::kDense || layer.kind == LayerKind::kConv ||
        layer.kind == LayerKind::kMaxPool) {
      auto buffer = alloc(max_batch * layer.out.size());
      if (!buffer) return buffer.error();
      layer.output = std::move(buffer.value());
    }
  }
  // The last dense layer is the output layer.
  for (auto it = impl->layers.rbegin(); it != impl->layers.rend(); ++it) {
    if (it->kind == LayerKind::kDense) {
      it->output_layer = true;
      break;
    }
  }
  for (auto [buffer, floats] : {std::pair{&impl->parameters, impl->parameter_count},
                                std::pair{&impl->gradients, impl->parameter_count},
                                std::pair{&impl->grad_a, max_batch * largest_activation},
                                std::pair{&impl->grad_b, max_batch * largest_activation},
                                std::pair{&impl->workspace, largest_workspace}}) {
    auto allocated = alloc(floats);
    if (!allocated) return allocated.error();
    *buffer = std::move(allocated.value());
  }
  return Model(std::move(impl));
}

const ModelConfig& Model::config() const {
  return impl_->config;
}
Backend& Model::backend() const {
  return *impl_->backend;
}
std::int64_t Model::max_batch() const {
  return impl_->max_batch;
}
std::int64_t Model::input_size() const {
  return impl_->config.height * impl_->config.width * impl_->config.channels;
}
std::int64_t Model::parameter_count() const {
  return impl_->parameter_count;
}
const std::vector<ParamView>& Model::parameter_views() const {
  return impl_->views;
}
Buffer& Model::parameters() {
  return impl_->parameters;
}
const Buffer& Model::parameters() const {
  return impl_->parameters;
}
Buffer& Model::gradients() {
  return impl_->gradients;
}

void Model::initialize(std::uint64_t seed) {
  SeededRandom random(seed);
  std::vector<float> values(static_cast<std::size_t>(impl_->parameter_count), 0.0f);
  for (const Layer& layer : impl_->layers) {
    if (layer.weight_offset < 0) continue;
    const std::int64_t fan_in = layer.kind == LayerKind::kDense
                                    ? layer.in.size()
                                    : layer.kernel * layer.kernel * layer.in.channels;
    const std::int64_t fan_out = layer.kind == LayerKind::kDense
                                     ? layer.out.channels
                                     : layer.kernel * layer.kernel * layer.out.channels;
    // He: Var = 2 / fan_in keeps ReLU activations' scale; Glorot: Var = 2 / (in + out).
    // Uniform(-l, l) has Var = l^2 / 3, so l = sqrt(6 / fan): only sqrt, no libm variance.
    const double limit = layer.output_layer ? std::sqrt(6.0 / double(fan_in + fan_out))
                                            : std::sqrt(6.0 / double(fan_in));
    const std::int64_t count = layer.out.channels * fan_in;
    for (std::int64_t i = 0; i < count; ++i) {
      values[static_cast<std::size_t>(layer.weight_offset + i)] =
          static_cast<float>(random.uniform(-limit, limit));
    }
  }
  impl_->backend->upload(impl_->parameters, values.data(), values.size() * sizeof(float));
}

Status Model::set_parameters(std::span<const float> values) {
  if (static_cast<std::int64_t>(values.size()) != impl_->parameter_count) {
    return config_error("model {}: expected {} parameters, got {}", impl_->config.arch,
                        impl_->parameter_count, values.size());
  }
  impl_->backend->upload(impl_->parameters, values.data(), values.size() * sizeof(float));
  return {};
}

Status Model::get_parameters(std::span<float> values) const {
  if (static_cast<std::int64_t>(values.size()) != impl_->parameter_count) {
    return config_error("model {}: expected room for {} parameters, got {}", impl_->config.arch,
                        impl_->parameter_count, values.size());
  }
  impl_->backend->download(values.data(), impl_->parameters, values.size() * sizeof(float));
  return {};
}

const float* Model::forward(const float* input, std::int64_t batch) {
  Backend& backend = *impl_->backend;
  const float* params = impl_->parameters.f32();
  impl_->batch = batch;
  const float* x = input;
  for (Layer& layer : impl_->layers) {
    layer.input = x;
    switch (layer.kind) {
      case LayerKind::kDense:
        layer.result = layer.output.f32();
        backend.dense_forward(layer.dense(batch), x, params + layer.weight_offset,
                              params + layer.bias_offset, layer.result);
        break;
      case LayerKind::kConv:
        layer.result = layer.output.f32();
        backend.conv2d_forward(layer.conv(batch), x, params + layer.weight_offset,
                               params + layer.bias_offset, layer.result, impl_->workspace.f32());
        break;
      case LayerKind::kMaxPool:
        layer.result = layer.output.f32();
        backend.maxpool2x2_forward(layer.pool(batch), x, layer.result);
        break;
      case LayerKind::kRelu:  // in place: the layer before keeps no use for its raw output
        layer.result = const_cast<float*>(x);
        backend.relu_forward(batch * layer.out.size(), x, layer.result);
        break;
      case LayerKind::kFlatten:  // channels-last is already flat
        layer.result = const_cast<float*>(x);
        break;
    }
    x = layer.result;
  }
  return x;
}

void Model::backward(const float* dlogits) {
  Backend& backend = *impl_->backend;
  const float* params = impl_->parameters.f32();
  float* grads = impl_->gradients.f32();
  const std::int64_t batch = impl_->batch;
  const float* dy = dlogits;
  for (auto it = impl_->layers.rbegin(); it != impl_->layers.rend(); ++it) {
    Layer& layer = *it;
    if (!layer.needs_input_grad && layer.weight_offset < 0) break;
    // Write dx into whichever scratch buffer dy is not in.
    float* dx_buffer = dy == impl_->grad_a.f32() ? impl_->grad_b.f32() : impl_->grad_a.f32();
    float* dx = layer.needs_input_grad ? dx_buffer : nullptr;
    switch (layer.kind) {
      case LayerKind::kDense:
        backend.dense_backward(layer.dense(batch), layer.input, params + layer.weight_offset, dy,
                               dx, grads + layer.weight_offset, grads + layer.bias_offset);
        break;
      case LayerKind::kConv:
        backend.conv2d_backward(layer.conv(batch), layer.input, params + layer.weight_offset, dy,
                                dx, grads + layer.weight_offset, grads + layer.bias_offset,
                                impl_->workspace.f32());
        break;
      case LayerKind::kMaxPool:
        backend.maxpool2x2_backward(layer.pool(batch), layer.input, dy, dx_buffer);
        dx = dx_buffer;
        break;
      case LayerKind::kRelu:
        backend.relu_backward(batch * layer.out.size(), layer.result, dy, dx_buffer);
        dx = dx_buffer;
        break;
      case LayerKind::kFlatten:
        dx = const_cast<float*>(dy);
        break;
    }
    if (dx == nullptr) break;
    dy = dx;
  }
}

std::string Model::summary() const {
  std::string text =
      fmt::format("{} ({} parameters)\n", impl_->config.arch, impl_->parameter_count);
  for (const Layer& layer : impl_->layers) {
    const std::int64_t params =
        layer.weight_offset < 0
            ? 0
            : layer.out.channels * (layer.kind == LayerKind::kDense
                                        ? layer.in.size()
                                        : layer.kernel * layer.kernel * layer.in.channels) +
                  layer.out.channels;
    text += fmt::format("  {:<8} -> ({}, {}, {}) {:>10}\n", layer.name, layer.out.height,
                        layer.out.width, layer.out.channels, params);
  }
  return text;
}

}  // namespace fedchain::train
