// `fedchain predict RUN_DIR [--height H] --input FILE --out PRED.h5 [--key KEY]`: the model
// of height H, checked against the chain, run on a dataset split or an image array; the
// per-sample classes, probabilities and logits go to PRED.h5, and a signed receipt of the
// task is appended to RUN_DIR/receipts.log and printed as JSON on stdout (docs/export.md).
// Reads the chain without run.lock, so it runs beside a job that is training.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "fedchain/crypto/key_file.hpp"
#include "fedchain/serve/predict.hpp"
#include "fedchain/serve/receipt_log.hpp"

namespace fedchain::cli {

namespace {

struct PredictArgs {
  std::string run_dir;
  std::optional<std::uint64_t> height;
  std::string input;
  std::string split = "test";
  std::int64_t limit = 0;
  std::string out;
  std::string key;
  std::string data_path;
  std::optional<int> threads;
  std::string device;
  std::int64_t batch = 256;
  bool force = false;
};

// The key the user named, checked (with --out) before anything is written; unset without
// --key: the run's predictor key is made or read once the input is known good.
Result<std::optional<crypto::SigningKey>> check_outputs_and_key(const PredictArgs& args) {
  if (auto st = check_new_output(args.out, args.force); !st) return st.error();
  if (args.key.empty()) return std::optional<crypto::SigningKey>{};
  auto key = crypto::read_private_key(args.key);
  if (!key) return config_error("--key: {}", key.error().message);
  return std::optional<crypto::SigningKey>{*key};
}

serve::Receipt make_receipt(const serve::PinnedModel& model, const serve::PredictionInput& input,
                            const Hash32& input_hash, const Hash32& output_hash) {
  serve::Receipt r;
  r.chain_id = model.chain_id;
  r.height = model.height;
  r.state_root = model.state_root;
  r.input_sha256 = input_hash;
  r.split = input.split;
  r.samples = static_cast<std::uint64_t>(input.samples.count);
  r.output_sha256 = output_hash;
  r.architecture = serve::architecture_json(model);
  r.time_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
  return r;
}

void print_accuracy(const io::PredictionTable& table) {
  if (table.labels.empty()) return;
  std::int64_t correct = 0;
  for (std::int64_t i = 0; i < table.count; ++i) {
    correct +=
        table.predicted[static_cast<std::size_t>(i)] == table.labels[static_cast<std::size_t>(i)];
  }
  std::fprintf(stderr, "accuracy %.4f (%lld of %lld samples)\n",
               static_cast<double>(correct) / static_cast<double>(table.count),
               static_cast<long long>(correct), static_cast<long long>(table.count));
}

int run_predict(const PredictArgs& args) {
  auto named_key = check_outputs_and_key(args);
  if (!named_key) return report(named_key.error());
  std::optional<crypto::SigningKey> key = *named_key;
  const auto log_path = serve::receipt_log_path(args.run_dir);
  if (auto log = serve::read_receipt_log(log_path); !log) return report(log.error());
  auto model = serve::pin_model(args.run_dir, {args.height, args.data_path});
  if (!model) return report(model.error());
  auto input = serve::read_prediction_input(args.input, args.split, args.limit, *model);
  if (!input) return report(input.error());
  if (!key) {
    auto made =
        crypto::load_or_create_private_key(std::filesystem::path(args.run_dir) / "predictor.key");
    if (!made) return report(made.error());
    key = *made;
  }
  const serve::InferenceOptions options{
      model->job.train.device, args.threads.value_or(static_cast<int>(model->job.train.threads)),
      args.batch};
  auto table = serve::run_inference(*model, input->samples, options);
  if (!table) return report(table.error());
  auto input_hash = serve::file_sha256(args.input);
  if (!input_hash) return report(input_hash.error());
  table->attributes = {{"chain_id", model->chain_id.hex()},
                       {"height", std::to_string(model->height)},
                       {"state_root", model->state_root.hex()},
                       {"input_sha256", input_hash->hex()},
                       {"split", input->split}};
  if (auto st = io::write_predictions(args.out, *table); !st) return report(st.error());
  auto output_hash = serve::file_sha256(args.out);
  if (!output_hash) return report(output_hash.error());
  serve::Receipt receipt = make_receipt(*model, *input, *input_hash, *output_hash);
  receipt.sign(*key);
  if (auto st = serve::append_receipt(log_path, receipt); !st) return report(st.error());
  print_accuracy(*table);
  std::printf("%s\n", receipt.to_json().c_str());
  return 0;
}

}  // namespace

void add_predict_command(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<PredictArgs>();
  auto* cmd = app.add_subcommand(
      "predict",
      "Run a run's model at a height on images; write the predictions and a signed "
      "receipt");
  cmd->add_option("run_dir", args->run_dir, "Run directory (holds chain/blocks.log)")->required();
  cmd->add_option("--height", args->height, "Block height (default: the chain's tip)");
  cmd->add_option("--input", args->input, "A fedchain dataset file, or an image array")->required();
  cmd->add_option("--split", args->split, "The dataset file's split: test (default) or train");
  cmd->add_option("--limit", args->limit, "Only the first N samples (0: all)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--out", args->out, "Predictions file to write (HDF5)")->required();
  cmd->add_flag("--force", args->force, "Replace --out if it exists");
  cmd->add_option("--key", args->key,
                  "The predictor's Ed25519 private key (PEM, as keygen writes); default "
                  "RUN_DIR/predictor.key, made once");
  cmd->add_option("--threads", args->threads, "CPU threads (default: the job's train.threads)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--device", args->device, "auto, cpu or cuda (default: the job's train.device)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--batch", args->batch, "Samples per forward pass")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--data", args->data_path,
                  "The run's dataset, where the job's data.path does not resolve from here");
  cmd->callback([args, &exit_code] { exit_code = run_predict(*args); });
}

}  // namespace fedchain::cli
