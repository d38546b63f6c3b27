// The models the training and inference benches run, and their layer lists as JSON for the
// PyTorch twins (bench/train/torch_baseline.py builds each network from it), so both sides
// run the same stack. cifar-cnn takes 32x32x3 images, the others 28x28x1.
#pragma once

#include <string>
#include <vector>

#include <fmt/format.h>

#include "fedchain/core/error.hpp"
#include "fedchain/train/model.hpp"

namespace fedchain::bench {

inline train::ModelConfig model_config_for(const std::string& arch) {
  train::ModelConfig config;
  config.arch = arch;
  if (arch == "cifar-cnn") {
    config.height = 32;
    config.width = 32;
    config.channels = 3;
  }
  return config;
}

// {"arch": {"input": [H, W, C], "classes": K, "layers": [{"type": ..., "out": ...}, ...]}}
inline Result<std::string> layers_json(const std::vector<std::string>& models) {
  std::string json = "{";
  for (const std::string& arch : models) {
    const auto config = model_config_for(arch);
    auto specs = train::layer_specs(config);
    if (!specs) return specs.error();
    json += fmt::format("{}\n  \"{}\": {{\"input\": [{}, {}, {}], \"classes\": {}, \"layers\": [",
                        json.size() > 1 ? "," : "", arch, config.height, config.width,
                        config.channels, config.classes);
    for (std::size_t i = 0; i < specs->size(); ++i) {
      const auto& l = (*specs)[i];
      json += fmt::format(
          "{}\n    {{\"type\": \"{}\", \"out\": {}, \"kernel\": {}, \"stride\": {}, "
          "\"padding\": {}, \"groups\": {}, \"rate\": {}}}",
          i > 0 ? "," : "", l.type, l.out, l.kernel, l.stride, l.padding, l.groups, l.rate);
    }
    json += "]}";
  }
  return json + "\n}\n";
}

}  // namespace fedchain::bench
