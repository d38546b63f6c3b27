// The PyTorch layout of exported tensors, on LeNet (two convs, a flatten of a 4x4x16
// activation, three dense layers): each parameter holds its own index, so every value's
// place in the export says where it came from.
#include <gtest/gtest.h>

#include "fedchain/serve/torch_export.hpp"
#include "fedchain/train/backend.hpp"

namespace fedchain::serve {
namespace {

PinnedModel lenet_with_indices() {
  PinnedModel model;
  model.config.arch = "lenet";
  model.layers = train::layer_specs(model.config).value();
  auto backend = train::make_cpu_backend(1);
  auto net = train::Model::create(*backend, model.config, 1);
  for (const auto& view : net->parameter_views()) {
    model.checkpoint.names.push_back(view.name);
    model.checkpoint.shapes.push_back(view.shape);
  }
  model.checkpoint.params.resize(static_cast<std::size_t>(net->parameter_count()));
  for (std::size_t i = 0; i < model.checkpoint.params.size(); ++i) {
    model.checkpoint.params[i] = static_cast<float>(i);
  }
  return model;
}

const TorchTensor& find(const std::vector<TorchTensor>& tensors, const std::string& name) {
  for (const auto& t : tensors) {
    if (t.name == name) return t;
  }
  throw std::runtime_error("no tensor " + name);
}

TEST(TorchExport, ConvWeightsBecomeOutInKhKw) {
  const PinnedModel model = lenet_with_indices();
  auto tensors = torch_tensors(model);
  ASSERT_TRUE(tensors) << tensors.error().message;
  // conv2: fedchain (16, 5, 5, 6) at offset 6*5*5*1 + 6 = 156.
  const TorchTensor& w = find(*tensors, "conv2.weight");
  ASSERT_EQ(w.shape, (std::vector<std::int64_t>{16, 6, 5, 5}));
  const std::int64_t offset = 156;
  for (std::int64_t o : {0, 7, 15}) {
    for (std::int64_t c : {0, 5}) {
      for (std::int64_t y : {0, 3}) {
        for (std::int64_t x : {1, 4}) {
          EXPECT_EQ(w.values[static_cast<std::size_t>(((o * 6 + c) * 5 + y) * 5 + x)],
                    static_cast<float>(offset + ((o * 5 + y) * 5 + x) * 6 + c));
        }
      }
    }
  }
}

TEST(TorchExport, TheDenseLayerAfterTheFlattenReadsChannelsFirst) {
  const PinnedModel model = lenet_with_indices();
  auto tensors = torch_tensors(model);
  ASSERT_TRUE(tensors);
  // fc1: fedchain (120, 256) reading a (4, 4, 16) activation flattened as (h, w, c).
  const std::int64_t offset = 156 + 16 * 5 * 5 * 6 + 16;
  const TorchTensor& w = find(*tensors, "fc1.weight");
  ASSERT_EQ(w.shape, (std::vector<std::int64_t>{120, 256}));
  for (std::int64_t o : {0, 119}) {
    for (std::int64_t c : {0, 9, 15}) {
      for (std::int64_t y : {0, 3}) {
        for (std::int64_t x : {0, 2}) {
          EXPECT_EQ(w.values[static_cast<std::size_t>(o * 256 + (c * 4 + y) * 4 + x)],
                    static_cast<float>(offset + o * 256 + (y * 4 + x) * 16 + c));
        }
      }
    }
  }
  // fc2 reads fc1's units: as it is; biases as they are.
  const TorchTensor& fc2 = find(*tensors, "fc2.weight");
  EXPECT_EQ(fc2.values[5], static_cast<float>(offset + 120 * 256 + 120 + 5));
  EXPECT_EQ(find(*tensors, "conv1.bias").values[2], 152.0f);
}

}  // namespace
}  // namespace fedchain::serve
