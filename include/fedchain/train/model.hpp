// A model: a fixed stack of layers chosen by name, whose parameters and gradients each live
// in ONE contiguous float32 buffer in the backend's memory. The round loop quantizes,
// hashes and exchanges parameters() as a whole, without copies; ParamView names each
// layer's slice of it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fedchain/core/error.hpp"
#include "fedchain/core/job.hpp"
#include "fedchain/train/backend.hpp"

namespace fedchain::train {

// One layer as a job file spells it (`model.layers`, docs/training.md); every preset arch is
// such a list too (layer_specs), so the model, its summary and its export read one description.
struct LayerSpec {
  std::string type;  // conv2d | maxpool | avgpool | relu | flatten | dense | dropout | groupnorm
  std::string name;  // parameter prefix ("conv1", "fc2", "norm1"); empty without parameters
  std::int64_t out = 0;      // conv2d: output channels; dense: units
  std::int64_t kernel = 0;   // conv2d, maxpool, avgpool: square window
  std::int64_t stride = 0;   // 0: the default (1 for conv2d, the window for pooling)
  std::int64_t padding = 0;  // conv2d: zeros on every side
  std::int64_t groups = 0;   // groupnorm: channel groups (divides the channels)
  double rate = 0.0;         // dropout: probability of zeroing an element, in [0, 1)
};

struct ModelConfig {
  std::string arch = "mlp";  // logreg | mlp | cnn | lenet | mnist-cnn | cifar-cnn | custom
  std::vector<std::int64_t> hidden{200, 200};  // mlp hidden widths
  std::vector<LayerSpec> layers;               // custom: the stack as model.layers lists it
  std::int64_t height = 28;                    // input image, channels-last
  std::int64_t width = 28;
  std::int64_t channels = 1;
  std::int64_t classes = 10;
};

ModelConfig model_config(const ModelSection& section);

// The layers of config's arch (for custom, config.layers), in order, with parameter layers
// named. An unknown arch or a bad width is a config error. Shapes are checked by building
// the model (Model::size_of, summary_of).
Result<std::vector<LayerSpec>> layer_specs(const ModelConfig& config);

// The architecture as one JSON object, what the export's metadata and the PyTorch twins of
// the benches read (python/fedchain_torch.py builds the network from it): {"arch", "input":
// {"channels", "height", "width"}, "classes", "layers": [{"type", and "name", "out",
// "kernel", "stride", "padding", "groups" where not 0, "rate" for dropout}]}.
nlohmann::ordered_json architecture_json(const ModelConfig& config,
                                         const std::vector<LayerSpec>& layers);

// One sample's shape where a layer reads it, channels-last.
struct LayerShape {
  std::int64_t height = 1;
  std::int64_t width = 1;
  std::int64_t channels = 1;
};
// The input shape of each of layer_specs(config), in order: what an export needs to
// re-lay parameters for another framework (a dense layer after a flatten reads (H, W, C)).
Result<std::vector<LayerShape>> layer_input_shapes(const ModelConfig& config);

// One parameter tensor's slice of the model's buffer.
struct ParamView {
  std::string name;                 // "conv1.weight", "fc2.bias"
  std::int64_t offset = 0;          // floats from the start of parameters()
  std::int64_t count = 0;           // floats
  std::vector<std::int64_t> shape;  // dense weight (out, in); conv weight (out, k, k, in);
                                    // groupnorm weight and bias (channels)
};

// How a forward pass runs: for evaluation (dropout passes everything through) unless
// `training`, when each dropout layer draws its mask from `seed` and the layer's index.
struct ForwardPass {
  bool training = false;
  std::uint64_t seed = 0;
};

// What a model of `config` holds, known without allocating it: for sizing a job.
struct ModelSize {
  std::int64_t parameters = 0;
  // Floats of activations, their gradients and conv scratch per sample of batch room
  // (the scratch estimated as the largest conv's im2col rows).
  std::int64_t activation_floats_per_sample = 0;
};

class Model {
 public:
  static Result<ModelSize> size_of(const ModelConfig& config);
  // summary() of a model of `config`, without allocating it. A layer that does not fit its
  // input is a config error naming the layer (model.layers[i] and its type) and the key.
  static Result<std::string> summary_of(const ModelConfig& config);

  // Builds the layer stack for `config` with room for batches of up to max_batch samples;
  // parameters start at zero (call initialize). An unknown arch or an input too small for
  // it is a config error.
  static Result<Model> create(Backend& backend, const ModelConfig& config, std::int64_t max_batch);

  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  const ModelConfig& config() const;
  Backend& backend() const;
  std::int64_t max_batch() const;
  std::int64_t input_size() const;  // floats per sample: height * width * channels
  std::int64_t parameter_count() const;
  const std::vector<ParamView>& parameter_views() const;

  Buffer& parameters();  // (parameter_count) floats, backend memory
  // The parameters themselves, to read and write in place, where the backend's memory is
  // the host's (Backend::memory_is_host); empty elsewhere.
  std::span<float> host_parameters();
  const Buffer& parameters() const;
  Buffer& gradients();  // (parameter_count) floats, same layout as parameters()

  // He-uniform weights for layers followed by ReLU, Glorot-uniform for the output layer,
  // zero biases; the same seed gives the same bits everywhere.
  void initialize(std::uint64_t seed);
  // Host copies of the whole parameter vector; size must equal parameter_count().
  Status set_parameters(std::span<const float> values);
  Status get_parameters(std::span<float> values) const;
  // values = parameters[first, first + values.size()) - base, in one pass where the backend
  // can (Backend::download_difference): a client's update, or a run of it, without a copy of
  // its parameters first. base and values have the same size.
  Status get_parameter_difference(std::span<const float> base, std::span<float> values,
                                  std::int64_t first = 0) const;
  // The same, and the run's parameters set to base (Backend::take_difference): once every
  // run is taken, the model holds base again, as after set_parameters(base).
  Status take_parameter_difference(std::span<const float> base, std::span<float> values,
                                   std::int64_t first = 0);

  // input (batch, H, W, C) in backend memory, batch <= max_batch. Returns the logits
  // (batch, classes) in backend memory, valid until the next forward.
  const float* forward(const float* input, std::int64_t batch, const ForwardPass& pass = {});
  // dlogits (batch, classes) for the batch of the last forward; overwrites gradients().
  void backward(const float* dlogits);

  // A line naming the arch and the parameter count, then one line per layer: index, type,
  // parameter name, output shape (H, W, C), parameter count.
  std::string summary() const;

 private:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  // Whether base and values (of the sizes given) name a run of the parameters from `first`.
  Status check_parameter_run(std::size_t base_size, std::size_t values_size,
                             std::int64_t first) const;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedchain::train
