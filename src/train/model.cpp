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

enum class LayerKind { kDense, kConv, kMaxPool, kAvgPool, kRelu, kFlatten, kGroupNorm, kDropout };

struct Dims {  // one sample, channels-last
  std::int64_t height = 1;
  std::int64_t width = 1;
  std::int64_t channels = 1;
  std::int64_t size() const { return height * width * channels; }
};

struct Layer {
  LayerKind kind = LayerKind::kRelu;
  std::string type;  // as LayerSpec spells it
  std::string name;
  Dims in;
  Dims out;
  std::int64_t kernel = 0;  // conv, pools
  std::int64_t stride = 1;
  std::int64_t padding = 0;
  std::int64_t groups = 1;          // groupnorm
  double rate = 0.0;                // dropout
  std::int64_t weight_offset = -1;  // into the parameter buffer; -1 without parameters
  std::int64_t bias_offset = -1;
  bool output_layer = false;     // initialised with Glorot rather than He
  bool needs_input_grad = true;  // false before the first layer with parameters
  Buffer output;                 // (max_batch, out) unless the layer works in place
  Buffer stats;                  // groupnorm: (max_batch, groups, 2)
  const float* input = nullptr;  // what the last forward read
  float* result = nullptr;       // where the last forward wrote
  bool dropped = false;          // dropout: the last forward applied `mask`
  DropoutMask mask;

  bool has_parameters() const {
    return kind == LayerKind::kDense || kind == LayerKind::kConv || kind == LayerKind::kGroupNorm;
  }
  // Layers that write their own output buffer (the others work in place or pass through).
  bool owns_output() const {
    return has_parameters() || kind == LayerKind::kMaxPool || kind == LayerKind::kAvgPool ||
           (kind == LayerKind::kDropout && rate > 0.0);
  }
  std::int64_t fan_in() const {
    return kind == LayerKind::kDense ? in.size() : kernel * kernel * in.channels;
  }
  std::int64_t weight_count() const {
    return kind == LayerKind::kGroupNorm ? out.channels : out.channels * fan_in();
  }
  std::int64_t parameter_count() const {
    return has_parameters() ? weight_count() + out.channels : 0;
  }
  std::vector<std::int64_t> weight_shape() const {
    if (kind == LayerKind::kDense) return {out.channels, fan_in()};
    if (kind == LayerKind::kConv) return {out.channels, kernel, kernel, in.channels};
    return {out.channels};
  }

  DenseShape dense(std::int64_t batch) const { return {batch, in.size(), out.channels}; }
  ConvShape conv(std::int64_t batch) const {
    return {batch, in.height, in.width, in.channels, out.channels, kernel, stride, padding};
  }
  PoolShape pool(std::int64_t batch) const {
    return {batch, in.height, in.width, in.channels, kernel, stride};
  }
  GroupNormShape norm(std::int64_t batch) const {
    return {batch, in.height * in.width, in.channels, groups};
  }
};

// Which layer an error is about: the job-file entry for custom stacks, the arch's layer for
// presets.
std::string layer_at(const ModelConfig& config, std::size_t index, const LayerSpec& spec) {
  if (config.arch == "custom") return fmt::format("model.layers[{}] ({})", index, spec.type);
  return fmt::format("model.arch = \"{}\": layer {} ({})", config.arch, index, spec.type);
}

// One layer from its spec and the running shape; flat: a flatten or dense came before.
Result<Layer> make_layer(const ModelConfig& config, std::size_t index, const LayerSpec& spec,
                         const Dims& in, bool flat) {
  const std::string at = layer_at(config, index, spec);
  Layer layer;
  layer.type = spec.type;
  layer.name = spec.name;
  layer.in = in;
  layer.out = in;
  if (spec.type == "conv2d" || spec.type == "maxpool" || spec.type == "avgpool") {
    const bool conv = spec.type == "conv2d";
    layer.kind = conv ? LayerKind::kConv
                      : (spec.type == "maxpool" ? LayerKind::kMaxPool : LayerKind::kAvgPool);
    layer.kernel = spec.kernel;
    layer.stride = spec.stride > 0 ? spec.stride : (conv ? 1 : spec.kernel);
    layer.padding = conv ? spec.padding : 0;
    if (flat) return config_error("{}: follows a flatten or dense layer: it needs an image", at);
    if (spec.kernel < 1) return config_error("{}: key 'kernel' must be >= 1", at);
    if (conv && spec.out < 1) return config_error("{}: key 'out' must be >= 1", at);
    const std::int64_t height = in.height + 2 * layer.padding;
    const std::int64_t width = in.width + 2 * layer.padding;
    if (spec.kernel > height || spec.kernel > width) {
      return config_error("{}: key 'kernel' = {} is larger than its {}x{} input{}", at, spec.kernel,
                          in.height, in.width,
                          layer.padding > 0 ? fmt::format(" padded by {}", layer.padding) : "");
    }
    layer.out = {(height - spec.kernel) / layer.stride + 1,
                 (width - spec.kernel) / layer.stride + 1, conv ? spec.out : in.channels};
  } else if (spec.type == "dense") {
    layer.kind = LayerKind::kDense;
    if (!flat) {
      return config_error("{}: its input is {}x{}x{}: put a flatten before it", at, in.height,
                          in.width, in.channels);
    }
    if (spec.out < 1) return config_error("{}: key 'out' must be >= 1", at);
    layer.out = {1, 1, spec.out};
  } else if (spec.type == "groupnorm") {
    layer.kind = LayerKind::kGroupNorm;
    layer.groups = spec.groups;
    if (spec.groups < 1 || in.channels % spec.groups != 0) {
      return config_error("{}: key 'groups' = {} does not divide its {} channels", at, spec.groups,
                          in.channels);
    }
  } else if (spec.type == "dropout") {
    layer.kind = LayerKind::kDropout;
    layer.rate = spec.rate;
    if (!(spec.rate >= 0.0 && spec.rate < 1.0)) {
      return config_error("{}: key 'rate' = {} is outside [0, 1)", at, spec.rate);
    }
  } else if (spec.type == "relu") {
    layer.kind = LayerKind::kRelu;
  } else if (spec.type == "flatten") {
    layer.kind = LayerKind::kFlatten;
    layer.out = {1, 1, in.size()};
  } else {
    return config_error(
        "{}: unknown type: expected conv2d, maxpool, avgpool, relu, flatten, dense, dropout or "
        "groupnorm",
        at);
  }
  return layer;
}

Result<std::vector<Layer>> build_stack(const ModelConfig& config) {
  auto specs = layer_specs(config);
  if (!specs) return specs.error();
  std::vector<Layer> layers;
  Dims shape{config.height, config.width, config.channels};
  bool flat = false;
  for (std::size_t i = 0; i < specs->size(); ++i) {
    auto layer = make_layer(config, i, (*specs)[i], shape, flat);
    if (!layer) return layer.error();
    flat = flat || layer->kind == LayerKind::kFlatten || layer->kind == LayerKind::kDense;
    shape = layer->out;
    layers.push_back(std::move(layer.value()));
  }
  const std::string what = config.arch == "custom"
                               ? std::string("model.layers")
                               : fmt::format("model.arch = \"{}\"", config.arch);
  if (!flat || shape.size() != config.classes) {
    return config_error(
        "{}: the last layer ({}) gives {}x{}x{} values{}: end with {}a dense layer of out = {}",
        what, layers.back().type, shape.height, shape.width, shape.channels,
        flat ? fmt::format(", but the data has {} classes", config.classes) : "",
        flat ? "" : "a flatten and ", config.classes);
  }
  return layers;
}

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
LayerSpec dropout(double rate) {
  LayerSpec spec = layer("dropout");
  spec.rate = rate;
  return spec;
}

// model.layers with parameter layers named by type and count: conv1, conv2, fc1, norm1.
std::vector<LayerSpec> named_custom_layers(const std::vector<LayerSpec>& layers) {
  std::vector<LayerSpec> named = layers;
  std::int64_t convs = 0, denses = 0, norms = 0;
  for (LayerSpec& spec : named) {
    if (spec.type == "conv2d") spec.name = fmt::format("conv{}", ++convs);
    if (spec.type == "dense") spec.name = fmt::format("fc{}", ++denses);
    if (spec.type == "groupnorm") spec.name = fmt::format("norm{}", ++norms);
  }
  return named;
}

}  // namespace

Result<std::vector<LayerSpec>> layer_specs(const ModelConfig& config) {
  std::vector<LayerSpec> specs;
  if (config.arch == "custom") {
    if (config.layers.empty()) return config_error("model.arch = \"custom\" needs model.layers");
    specs = named_custom_layers(config.layers);
  } else if (config.arch == "logreg") {
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
  } else if (config.arch == "mnist-cnn") {  // PyTorch's examples/mnist Net
    specs = {conv2d("conv1", 32, 3, 0),
             relu(),
             conv2d("conv2", 64, 3, 0),
             relu(),
             maxpool2(),
             dropout(0.25),
             flatten(),
             dense("fc1", 128),
             relu(),
             dropout(0.5),
             dense("fc2", config.classes)};
  } else if (config.arch == "cifar-cnn") {  // Keras' examples/cifar10_cnn
    specs = {conv2d("conv1", 32, 3, 1),
             relu(),
             conv2d("conv2", 32, 3, 0),
             relu(),
             maxpool2(),
             dropout(0.25),
             conv2d("conv3", 64, 3, 1),
             relu(),
             conv2d("conv4", 64, 3, 0),
             relu(),
             maxpool2(),
             dropout(0.25),
             flatten(),
             dense("fc1", 512),
             relu(),
             dropout(0.5),
             dense("fc2", config.classes)};
  } else {
    return config_error(
        "model.arch = \"{}\": expected logreg, mlp, cnn, lenet, mnist-cnn, cifar-cnn or custom "
        "(with model.layers)",
        config.arch);
  }
  return specs;
}

nlohmann::ordered_json architecture_json(const ModelConfig& config,
                                         const std::vector<LayerSpec>& layers) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const LayerSpec& spec : layers) {
    nlohmann::ordered_json layer{{"type", spec.type}};
    if (!spec.name.empty()) layer["name"] = spec.name;
    for (const auto& [key, value] :
         {std::pair{"out", spec.out}, std::pair{"kernel", spec.kernel},
          std::pair{"stride", spec.stride}, std::pair{"padding", spec.padding},
          std::pair{"groups", spec.groups}}) {
      if (value != 0) layer[key] = value;
    }
    if (spec.type == "dropout") layer["rate"] = spec.rate;
    list.push_back(std::move(layer));
  }
  return {{"arch", config.arch},
          {"input",
           {{"channels", config.channels}, {"height", config.height}, {"width", config.width}}},
          {"classes", config.classes},
          {"layers", std::move(list)}};
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
  for (const LayerSection& entry : section.layers) {
    LayerSpec spec;
    spec.type = entry.type;
    spec.out = entry.out;
    spec.kernel = entry.kernel;
    spec.stride = entry.stride;
    spec.padding = entry.padding;
    spec.groups = entry.groups;
    spec.rate = entry.rate;
    config.layers.push_back(std::move(spec));
  }
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
  Buffer workspace;  // conv and group-norm scratch, the largest any layer asks for
};

namespace {

std::string describe(const ModelConfig& config, const std::vector<Layer>& layers) {
  std::int64_t total = 0;
  for (const Layer& layer : layers) total += layer.parameter_count();
  std::string text = fmt::format("{} ({} parameters)\n", config.arch, total);
  text +=
      fmt::format("  {:>3} {:<9} {:<6} {:>16} {:>10}\n", "#", "type", "name", "output", "params");
  text += fmt::format("  {:>3} {:<9} {:<6} {:>16} {:>10}\n", "-", "input", "",
                      fmt::format("({}, {}, {})", config.height, config.width, config.channels), 0);
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const Layer& layer = layers[i];
    text += fmt::format(
        "  {:>3} {:<9} {:<6} {:>16} {:>10}\n", i, layer.type, layer.name.empty() ? "-" : layer.name,
        fmt::format("({}, {}, {})", layer.out.height, layer.out.width, layer.out.channels),
        layer.parameter_count());
  }
  return text;
}

}  // namespace

Result<ModelSize> Model::size_of(const ModelConfig& config) {
  auto stack = build_stack(config);
  if (!stack) return stack.error();
  ModelSize size;
  std::int64_t largest_activation = config.height * config.width * config.channels;
  std::int64_t largest_scratch = 0;
  for (const Layer& layer : *stack) {
    largest_activation = std::max(largest_activation, layer.out.size());
    size.parameters += layer.parameter_count();
    if (layer.kind == LayerKind::kConv) {
      const ConvShape shape = layer.conv(1);
      largest_scratch =
          std::max(largest_scratch, shape.out_height() * shape.out_width() * shape.patch_size());
    }
    if (layer.kind == LayerKind::kGroupNorm) {  // the CUDA backend's dweight terms and sums
      largest_scratch = std::max(largest_scratch, layer.out.size() + 2 * layer.groups);
      size.activation_floats_per_sample += 2 * layer.groups;  // the stats
    }
    if (layer.owns_output()) size.activation_floats_per_sample += layer.out.size();
  }
  // grad_a and grad_b, as Model::create allocates them.
  size.activation_floats_per_sample += 2 * largest_activation + largest_scratch;
  return size;
}

Result<std::string> Model::summary_of(const ModelConfig& config) {
  auto stack = build_stack(config);
  if (!stack) return stack.error();
  return describe(config, *stack);
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
  for (Layer& layer : impl->layers) {
    layer.needs_input_grad = seen_parameters;
    largest_activation = std::max(largest_activation, layer.out.size());
    if (layer.has_parameters()) {
      seen_parameters = true;
      const std::int64_t weights = layer.weight_count();
      layer.weight_offset = impl->parameter_count;
      impl->views.push_back(
          {layer.name + ".weight", layer.weight_offset, weights, layer.weight_shape()});
      impl->parameter_count += weights;
      const std::int64_t units = layer.out.channels;
      layer.bias_offset = impl->parameter_count;
      impl->views.push_back({layer.name + ".bias", layer.bias_offset, units, {units}});
      impl->parameter_count += units;
    }
    if (layer.kind == LayerKind::kConv) {
      largest_workspace =
          std::max(largest_workspace, backend.conv2d_workspace(layer.conv(max_batch)));
    }
    if (layer.kind == LayerKind::kGroupNorm) {
      largest_workspace =
          std::max(largest_workspace, backend.groupnorm_workspace(layer.norm(max_batch)));
      auto stats = alloc(max_batch * layer.groups * 2);
      if (!stats) return stats.error();
      layer.stats = std::move(stats.value());
    }
    if (layer.owns_output()) {
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
std::span<float> Model::host_parameters() {
  if (!impl_->backend->memory_is_host()) return {};
  return {impl_->parameters.f32(), static_cast<std::size_t>(impl_->parameter_count)};
}
Buffer& Model::gradients() {
  return impl_->gradients;
}

void Model::initialize(std::uint64_t seed) {
  SeededRandom random(seed);
  std::vector<float> values(static_cast<std::size_t>(impl_->parameter_count), 0.0f);
  for (const Layer& layer : impl_->layers) {
    if (layer.kind == LayerKind::kGroupNorm) {  // the identity: weight 1, bias 0; no draws
      std::fill_n(values.begin() + layer.weight_offset, layer.weight_count(), 1.0f);
      continue;
    }
    if (layer.weight_offset < 0) continue;
    const std::int64_t fan_in = layer.fan_in();
    const std::int64_t fan_out = layer.kind == LayerKind::kDense
                                     ? layer.out.channels
                                     : layer.kernel * layer.kernel * layer.out.channels;
    // He: Var = 2 / fan_in keeps ReLU activations' scale; Glorot: Var = 2 / (in + out).
    // Uniform(-l, l) has Var = l^2 / 3, so l = sqrt(6 / fan): only sqrt, no libm variance.
    const double limit = layer.output_layer ? std::sqrt(6.0 / double(fan_in + fan_out))
                                            : std::sqrt(6.0 / double(fan_in));
    const std::int64_t count = layer.weight_count();
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

Status Model::check_parameter_run(std::size_t base_size, std::size_t values_size,
                                  std::int64_t first) const {
  const auto n = static_cast<std::int64_t>(values_size);
  if (base_size != values_size || first < 0 || n > impl_->parameter_count - first) {
    return config_error(
        "model {}: parameters [{}, {}) and {} base values are not a run of its {} parameters",
        impl_->config.arch, first, first + n, base_size, impl_->parameter_count);
  }
  return {};
}

Status Model::get_parameter_difference(std::span<const float> base, std::span<float> values,
                                       std::int64_t first) const {
  if (auto st = check_parameter_run(base.size(), values.size(), first); !st) return st;
  impl_->backend->download_difference(values.data(), impl_->parameters, base.data(),
                                      static_cast<std::int64_t>(values.size()), first);
  return {};
}

Status Model::take_parameter_difference(std::span<const float> base, std::span<float> values,
                                        std::int64_t first) {
  if (auto st = check_parameter_run(base.size(), values.size(), first); !st) return st;
  impl_->backend->take_difference(values.data(), impl_->parameters, base.data(),
                                  static_cast<std::int64_t>(values.size()), first);
  return {};
}

namespace {

// Runs one layer forward on x; sets layer.input and layer.result.
void forward_layer(Backend& backend, Layer& layer, std::size_t index, const float* params,
                   float* workspace, const float* x, std::int64_t batch, const ForwardPass& pass) {
  layer.input = x;
  layer.result = layer.owns_output() ? layer.output.f32() : const_cast<float*>(x);
  switch (layer.kind) {
    case LayerKind::kDense:
      backend.dense_forward(layer.dense(batch), x, params + layer.weight_offset,
                            params + layer.bias_offset, layer.result);
      break;
    case LayerKind::kConv:
      backend.conv2d_forward(layer.conv(batch), x, params + layer.weight_offset,
                             params + layer.bias_offset, layer.result, workspace);
      break;
    case LayerKind::kMaxPool:
      backend.maxpool_forward(layer.pool(batch), x, layer.result);
      break;
    case LayerKind::kAvgPool:
      backend.avgpool_forward(layer.pool(batch), x, layer.result);
      break;
    case LayerKind::kGroupNorm:
      backend.groupnorm_forward(layer.norm(batch), x, params + layer.weight_offset,
                                params + layer.bias_offset, layer.result, layer.stats.f32());
      break;
    case LayerKind::kDropout:  // evaluation passes x through
      layer.dropped = pass.training && layer.rate > 0.0;
      if (!layer.dropped) {
        layer.result = const_cast<float*>(x);
        break;
      }
      layer.mask = dropout_mask(layer.rate, derive_seed(pass.seed, index, 0));
      backend.dropout_forward(batch * layer.out.size(), layer.mask, x, layer.result);
      break;
    case LayerKind::kRelu:  // in place: the layer before keeps no use for its raw output
      backend.relu_forward(batch * layer.out.size(), x, layer.result);
      break;
    case LayerKind::kFlatten:  // channels-last is already flat
      break;
  }
}

}  // namespace

const float* Model::forward(const float* input, std::int64_t batch, const ForwardPass& pass) {
  impl_->batch = batch;
  const float* x = input;
  for (std::size_t i = 0; i < impl_->layers.size(); ++i) {
    forward_layer(*impl_->backend, impl_->layers[i], i, impl_->parameters.f32(),
                  impl_->workspace.f32(), x, batch, pass);
    x = impl_->layers[i].result;
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
      case LayerKind::kGroupNorm:
        backend.groupnorm_backward(layer.norm(batch), layer.input, params + layer.weight_offset,
                                   layer.stats.f32(), dy, dx, grads + layer.weight_offset,
                                   grads + layer.bias_offset, impl_->workspace.f32());
        break;
      case LayerKind::kMaxPool:
        backend.maxpool_backward(layer.pool(batch), layer.input, dy, dx_buffer);
        dx = dx_buffer;
        break;
      case LayerKind::kAvgPool:
        backend.avgpool_backward(layer.pool(batch), dy, dx_buffer);
        dx = dx_buffer;
        break;
      case LayerKind::kDropout:
        if (layer.dropped) {
          backend.dropout_backward(batch * layer.out.size(), layer.mask, dy, dx_buffer);
          dx = dx_buffer;
        } else {
          dx = const_cast<float*>(dy);
        }
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
  return describe(impl_->config, impl_->layers);
}

}  // namespace fedchain::train
