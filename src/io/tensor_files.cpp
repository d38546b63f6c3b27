#include "fedchain/io/tensor_files.hpp"

#include <hdf5.h>

#include <bit>
#include <cstring>

#include <nlohmann/json.hpp>

#include "fedchain/core/durable_file.hpp"
#include "hdf5_file.hpp"

namespace fedchain::io {

namespace {

using h5::Handle;

bool write_dataset(hid_t parent, const std::string& name, std::span<const std::int64_t> shape,
                   hid_t file_type, hid_t memory_type, const void* values) {
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle set(H5Dcreate2(parent, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT,
                        H5P_DEFAULT),
             H5Dclose);
  return set.valid() &&
         H5Dwrite(set.get(), memory_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0;
}

bool write_attributes(hid_t file, const std::map<std::string, std::string>& attributes) {
  for (const auto& [key, value] : attributes) {
    if (!h5::write_string_attribute(file, key.c_str(), value)) return false;
  }
  return true;
}

}  // namespace

Status write_safetensors(const std::filesystem::path& path, std::span<const TensorView> tensors,
                         const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  header["__metadata__"] = metadata;
  std::size_t offset = 0;
  for (const auto& t : tensors) {
    const std::size_t bytes = t.values.size() * sizeof(float);
    header[t.name] = {
        {"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  Bytes file(8 + text.size() + offset);
  const std::uint64_t length = text.size();
  for (int i = 0; i < 8; ++i)
    file[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(length >> (8 * i));
  std::memcpy(file.data() + 8, text.data(), text.size());
  std::uint8_t* data = file.data() + 8 + text.size();
  static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");
  for (const auto& t : tensors) {
    std::memcpy(data, t.values.data(), t.values.size() * sizeof(float));
    data += t.values.size() * sizeof(float);
  }
  if (auto st = write_file_atomically(path, file); !st) {
    return runtime_error("cannot write {}: {}", path.string(), st.error().message);
  }
  return {};
}

Status write_tensors_hdf5(const std::filesystem::path& path, std::span<const TensorView> tensors,
                          const std::map<std::string, std::string>& metadata) {
  return h5::write_file_image(path, "exported model", [&](hid_t file) {
    std::string order;
    for (const auto& t : tensors) order += t.name + "\n";
    if (!write_attributes(file, metadata) ||
        !h5::write_string_attribute(file, "tensor_order", order)) {
      return false;
    }
    Handle group(H5Gcreate2(file, "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (!group.valid()) return false;
    for (const auto& t : tensors) {
      if (!write_dataset(group.get(), t.name, t.shape, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                         t.values.data())) {
        return false;
      }
    }
    return true;
  });
}

Status write_predictions(const std::filesystem::path& path, const PredictionTable& table) {
  return h5::write_file_image(path, "predictions", [&](hid_t file) {
    const std::vector<std::int64_t> rows{table.count};
    const std::vector<std::int64_t> matrix{table.count, table.classes};
    return write_attributes(file, table.attributes) &&
           write_dataset(file, "classes", rows, H5T_STD_I32LE, H5T_NATIVE_INT32,
                         table.predicted.data()) &&
           write_dataset(file, "probabilities", matrix, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                         table.probabilities.data()) &&
           write_dataset(file, "logits", matrix, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                         table.logits.data()) &&
           (table.labels.empty() || write_dataset(file, "labels", rows, H5T_STD_I32LE,
                                                  H5T_NATIVE_INT32, table.labels.data()));
  });
}

}  // namespace fedchain::io
