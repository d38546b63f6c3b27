// `fedchain export RUN_DIR [--height H] --format safetensors|hdf5 --out FILE`: the model
// of height H (default: the tip), checked against the state root the chain committed there,
// in PyTorch's layout with the chain id, height, root and architecture as metadata
// (docs/export.md). python/fedchain_torch.py loads it.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "commands.hpp"
#include "fedchain/io/tensor_files.hpp"
#include "fedchain/serve/pinned_model.hpp"
#include "fedchain/serve/torch_export.hpp"

namespace fedchain::cli {

namespace {

struct ExportArgs {
  std::string run_dir;
  std::optional<std::uint64_t> height;
  std::string format;
  std::string out;
  std::string data_path;
  bool force = false;
};

int run_export(const ExportArgs& args) {
  if (auto st = check_new_output(args.out, args.force); !st) return report(st.error());
  auto model = serve::pin_model(args.run_dir, {args.height, args.data_path});
  if (!model) return report(model.error());
  auto tensors = serve::torch_tensors(*model);
  if (!tensors) return report(tensors.error());
  std::vector<io::TensorView> views;
  std::int64_t parameters = 0;
  for (const auto& t : *tensors) {
    views.push_back({t.name, t.shape, t.values});
    parameters += static_cast<std::int64_t>(t.values.size());
  }
  const auto metadata = serve::export_metadata(*model);
  const Status written = args.format == "safetensors"
                             ? io::write_safetensors(args.out, views, metadata)
                             : io::write_tensors_hdf5(args.out, views, metadata);
  if (!written) return report(written.error());
  std::printf(
      "exported %s: %s at height %llu (state root %s, chain %s), %zu tensors, %lld "
      "parameters, as %s\n",
      args.out.c_str(), model->config.arch.c_str(), static_cast<unsigned long long>(model->height),
      model->state_root.hex().c_str(), model->chain_id.short_hex().c_str(), views.size(),
      static_cast<long long>(parameters), args.format.c_str());
  return 0;
}

}  // namespace

void add_export_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand(
      "export", "Write a run's model at a height, checked against the chain, for PyTorch");
  cmd->add_option("run_dir", args->run_dir, "Run directory (holds chain/blocks.log)")->required();
  cmd->add_option("--height", args->height, "Block height (default: the chain's tip)");
  cmd->add_option("--format", args->format, "safetensors or hdf5")
      ->required()
      ->check(CLI::IsMember({"safetensors", "hdf5"}));
  cmd->add_option("--out", args->out, "File to write")->required();
  cmd->add_flag("--force", args->force, "Replace --out if it exists");
  cmd->add_option("--data", args->data_path,
                  "Dataset file, where the job's data.path does not resolve from here (its "
                  "shape and, with data.normalize, its training statistics are read)");
  cmd->callback([args, &exit_code] { exit_code = run_export(*args); });
}

}  // namespace fedchain::cli
