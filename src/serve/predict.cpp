#include "fedchain/serve/predict.hpp"

#include <algorithm>
#include <fstream>

#include <fmt/format.h>

#include "fedchain/crypto/sha256.hpp"
#include "fedchain/data/dataset.hpp"
#include "fedchain/data/import.hpp"
#include "fedchain/ledger/chain_store.hpp"
#include "fedchain/serve/receipt_log.hpp"
#include "fedchain/train/backend.hpp"

namespace fedchain::serve {

namespace {

bool is_fedchain_dataset(const std::filesystem::path& path) {
  return path.extension() != ".npy" && data::read_dataset_info(path).has_value();
}

Status check_shape(const std::filesystem::path& path, const data::ImageSet& images,
                   std::int64_t channels, const PinnedModel& model) {
  const auto& c = model.config;
  if (images.rows != c.height || images.cols != c.width || channels != c.channels) {
    return config_error(
        "{} holds {}x{} images with {} channel(s), but the model at height {} takes {}x{} with "
        "{} channel(s): predict on images shaped like the data the run trained on",
        path.string(), images.rows, images.cols, channels, model.height, c.height, c.width,
        c.channels);
  }
  return {};
}

}  // namespace

Result<data::ImageSet> read_image_array(const std::filesystem::path& path) {
  return data::read_image_array(path.string());
}

Result<PredictionInput> read_prediction_input(const std::filesystem::path& path,
                                              const std::string& split, std::int64_t limit,
                                              const PinnedModel& model) {
  if (!std::filesystem::exists(path)) {
    return config_error("--input {}: no such file", path.string());
  }
  if (split != "test" && split != "train") {
    return config_error("--split {}: expected test or train", split);
  }
  PredictionInput input;
  data::ImageSet images;
  bool labelled = false;
  if (is_fedchain_dataset(path)) {
    // A limit of 1 on the split not asked for keeps its reading cheap.
    auto dataset =
        split == "test" ? data::read_dataset(path, 1, limit) : data::read_dataset(path, limit, 1);
    if (!dataset) return dataset.error();
    images = split == "test" ? std::move(dataset->test) : std::move(dataset->train);
    labelled = true;
    input.split = split;
  } else {
    auto array = read_image_array(path);
    if (!array) return array.error();
    images = std::move(*array);
  }
  if (auto st = check_shape(path, images, images.channels, model); !st) return st.error();
  if (images.count == 0)
    return config_error("{}: the {} split holds no images", path.string(), split);
  if (!labelled) images.labels.assign(static_cast<std::size_t>(images.count), 0);
  auto samples = to_samples(images, model.config.classes,
                            model.normalized ? model.scaling : train::PixelScaling{});
  if (!samples) return config_error("{}: {}", path.string(), samples.error().message);
  input.samples = std::move(*samples);
  if (!labelled) input.samples.labels.clear();
  return input;
}

Result<io::PredictionTable> run_inference(const PinnedModel& model, const train::Samples& samples,
                                          const InferenceOptions& options) {
  auto backend = train::make_backend(options.device, options.threads);
  if (!backend) return backend.error();
  const std::int64_t batch = std::max<std::int64_t>(1, std::min(options.batch, samples.count));
  auto net = train::Model::create(**backend, model.config, batch);
  if (!net) return net.error();
  if (auto st = net->set_parameters(model.checkpoint.params); !st) return st.error();
  const std::int64_t k = model.config.classes;
  const std::int64_t size = samples.sample_size();
  auto input = (*backend)->allocate(static_cast<std::size_t>(batch * size) * sizeof(float));
  auto probs = (*backend)->allocate(static_cast<std::size_t>(batch * k) * sizeof(float));
  auto logits_out = (*backend)->allocate(static_cast<std::size_t>(batch * k) * sizeof(float));
  auto losses = (*backend)->allocate(static_cast<std::size_t>(batch) * sizeof(float));
  auto labels = (*backend)->allocate(static_cast<std::size_t>(batch) * sizeof(std::int32_t));
  if (!input || !probs || !logits_out || !losses || !labels) {
    return runtime_error("cannot allocate inference buffers on {}", (*backend)->name());
  }
  const std::vector<std::int32_t> zeros(static_cast<std::size_t>(batch), 0);
  (*backend)->upload(*labels, zeros.data(), zeros.size() * sizeof(std::int32_t));
  io::PredictionTable table;
  table.count = samples.count;
  table.classes = k;
  table.logits.resize(static_cast<std::size_t>(samples.count * k));
  table.probabilities.resize(table.logits.size());
  for (std::int64_t start = 0; start < samples.count; start += batch) {
    const std::int64_t n = std::min(batch, samples.count - start);
    (*backend)->upload(*input, samples.pixels.data() + start * size,
                       static_cast<std::size_t>(n * size) * sizeof(float));
    const float* logits = net->forward(input->f32(), n);
    // Softmax through the loss op: labels of 0 are only there for the loss it also computes.
    (*backend)->softmax_xent_forward(n, k, logits, labels->i32(), probs->f32(), losses->f32());
    // The logits live inside the model's buffers: copied to a Buffer of ours to download.
    (*backend)->copy(logits_out->f32(), logits, n * k);
    const std::size_t bytes = static_cast<std::size_t>(n * k) * sizeof(float);
    (*backend)->download(table.probabilities.data() + start * k, *probs, bytes);
    (*backend)->download(table.logits.data() + start * k, *logits_out, bytes);
  }
  for (std::int64_t i = 0; i < samples.count; ++i) {
    const float* row = table.logits.data() + i * k;
    table.predicted.push_back(static_cast<std::int32_t>(std::max_element(row, row + k) - row));
  }
  table.labels = samples.labels;
  return table;
}

Result<Hash32> file_sha256(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return config_error("cannot read {}", path.string());
  crypto::Sha256 hash;
  std::vector<char> piece(std::size_t{1} << 20);
  while (in) {
    in.read(piece.data(), static_cast<std::streamsize>(piece.size()));
    const auto got = static_cast<std::size_t>(in.gcount());
    hash.update({reinterpret_cast<const std::uint8_t*>(piece.data()), got});
  }
  if (in.bad()) return runtime_error("cannot read {}", path.string());
  return hash.finish();
}

Result<std::size_t> check_receipts(const std::filesystem::path& run_dir) {
  const auto path = receipt_log_path(run_dir);
  auto log = read_receipt_log(path);
  if (!log) return log.error();
  if (log->receipts.empty()) return std::size_t{0};
  auto store = ledger::ChainStore::open(run_dir, ledger::OpenMode::kReadOnly);
  if (!store) return store.error();
  for (std::size_t i = 0; i < log->receipts.size(); ++i) {
    const Receipt& r = log->receipts[i];
    auto bad = [&](std::string code, const std::string& why) {
      return reject(std::move(code), "{}: receipt {} ({}): {}", path.string(), i,
                    r.id().short_hex(), why);
    };
    if (!r.signature_valid()) return bad("bad-signature", "its signature does not verify");
    if (r.chain_id != store->genesis().chain_id()) {
      return bad("wrong-chain",
                 fmt::format("it names chain {}, not this run's {}", r.chain_id.short_hex(),
                             store->genesis().chain_id().short_hex()));
    }
    if (r.height > store->height()) {
      return bad("beyond-tip", fmt::format("it names height {}, beyond the chain's tip {}",
                                           r.height, store->height()));
    }
    const Hash32& root = r.height == 0 ? store->genesis().fields().initial_state_root
                                       : store->at(r.height).block.header().state_root;
    if (r.state_root != root) {
      return bad("receipt-state-root",
                 fmt::format("it names state root {} at height {}, but the chain committed {}",
                             r.state_root.short_hex(), r.height, root.short_hex()));
    }
  }
  return log->receipts.size();
}

}  // namespace fedchain::serve
