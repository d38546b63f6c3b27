// A pinned model in PyTorch's layout (docs/formats.md, "Exported model"): the tensors that
// `load_state_dict` of the same architecture takes unchanged, and the metadata that names
// the chain, height, state root and architecture. python/fedchain_torch.py reads both.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fedchain/core/error.hpp"
#include "fedchain/serve/pinned_model.hpp"

namespace fedchain::serve {

struct TorchTensor {
  std::string name;  // as fedchain names it: "conv1.weight"
  std::vector<std::int64_t> shape;
  std::vector<float> values;
};

// Conv weights from fedchain's (out, kh, kw, in) to PyTorch's (out, in, kh, kw); the first
// dense layer after a flatten of an (H, W, C) activation gets its input columns reordered
// from fedchain's (H, W, C) flatten order to PyTorch's (C, H, W). Everything else as is.
Result<std::vector<TorchTensor>> torch_tensors(const PinnedModel& model);

// format, chain_id, height, state_root, architecture (JSON text), input (the convention).
std::map<std::string, std::string> export_metadata(const PinnedModel& model);

}  // namespace fedchain::serve
