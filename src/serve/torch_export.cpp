#include "fedchain/serve/torch_export.hpp"

#include <fmt/format.h>

namespace fedchain::serve {

namespace {

// (out, kh, kw, in) -> (out, in, kh, kw)
TorchTensor conv_weight(const std::string& name, const std::vector<std::int64_t>& shape,
                        const float* values) {
  const std::int64_t out = shape[0], kh = shape[1], kw = shape[2], in = shape[3];
  TorchTensor t{
      name, {out, in, kh, kw}, std::vector<float>(static_cast<std::size_t>(out * in * kh * kw))};
  for (std::int64_t o = 0; o < out; ++o) {
    for (std::int64_t y = 0; y < kh; ++y) {
      for (std::int64_t x = 0; x < kw; ++x) {
        for (std::int64_t c = 0; c < in; ++c) {
          t.values[static_cast<std::size_t>(((o * in + c) * kh + y) * kw + x)] =
              values[((o * kh + y) * kw + x) * in + c];
        }
      }
    }
  }
  return t;
}

// (out, H*W*C) in fedchain's (h, w, c) column order -> PyTorch's (c, h, w) order.
TorchTensor dense_weight_after_flatten(const std::string& name,
                                       const std::vector<std::int64_t>& shape, const float* values,
                                       const train::LayerShape& flattened) {
  const std::int64_t h = flattened.height, w = flattened.width, c = flattened.channels;
  const std::int64_t out = shape[0], in = shape[1];
  TorchTensor t{name, shape, std::vector<float>(static_cast<std::size_t>(out * in))};
  for (std::int64_t o = 0; o < out; ++o) {
    for (std::int64_t y = 0; y < h; ++y) {
      for (std::int64_t x = 0; x < w; ++x) {
        for (std::int64_t k = 0; k < c; ++k) {
          t.values[static_cast<std::size_t>(o * in + (k * h + y) * w + x)] =
              values[o * in + (y * w + x) * c + k];
        }
      }
    }
  }
  return t;
}

}  // namespace

Result<std::vector<TorchTensor>> torch_tensors(const PinnedModel& model) {
  auto shapes = train::layer_input_shapes(model.config);
  if (!shapes) return shapes.error();
  // Which layout each parameter layer's weight needs, by layer name.
  std::map<std::string, std::pair<std::string, train::LayerShape>> layout;
  std::optional<train::LayerShape> flattened;  // the (H, W, C) a pending flatten took
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    const train::LayerSpec& spec = model.layers[i];
    if (spec.type == "flatten") {
      flattened = (*shapes)[i];
    } else if (spec.type == "dense") {
      // fedchain's dense reads any input flat, (H, W, C), flatten layer or not.
      const train::LayerShape in = flattened.value_or((*shapes)[i]);
      if (in.height * in.width > 1) layout[spec.name] = {"flattened", in};
      flattened.reset();
    } else if (spec.type == "conv2d") {
      layout[spec.name] = {"conv", {}};
    }
  }
  std::vector<TorchTensor> tensors;
  const io::Checkpoint& ckpt = model.checkpoint;
  std::size_t offset = 0;
  for (std::size_t i = 0; i < ckpt.names.size(); ++i) {
    const std::string& name = ckpt.names[i];
    const auto& shape = ckpt.shapes[i];
    std::int64_t count = 1;
    for (const auto d : shape) count *= d;
    const float* values = ckpt.params.data() + offset;
    offset += static_cast<std::size_t>(count);
    const std::string layer = name.substr(0, name.rfind('.'));
    const auto found = layout.find(layer);
    const bool weight = name.ends_with(".weight");
    if (weight && found != layout.end() && found->second.first == "conv" && shape.size() == 4) {
      tensors.push_back(conv_weight(name, shape, values));
    } else if (weight && found != layout.end() && found->second.first == "flattened" &&
               shape.size() == 2) {
      tensors.push_back(dense_weight_after_flatten(name, shape, values, found->second.second));
    } else {
      tensors.push_back({name, shape, std::vector<float>(values, values + count)});
    }
  }
  return tensors;
}

std::map<std::string, std::string> export_metadata(const PinnedModel& model) {
  return {{"format", "fedchain-export/1"},
          {"chain_id", model.chain_id.hex()},
          {"height", fmt::format("{}", model.height)},
          {"state_root", model.state_root.hex()},
          {"architecture", architecture_json(model)},
          {"input",
           "float32 (N, C, H, W): stored pixels times architecture.input.scale, then "
           "(x - mean) / std per channel where architecture.normalization is set"}};
}

}  // namespace fedchain::serve
