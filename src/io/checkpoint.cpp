#include "fedchain/io/checkpoint.hpp"

#include <hdf5.h>

#include <numeric>
#include <sstream>

#include <fmt/format.h>

#include "hdf5_file.hpp"

namespace fedchain::io {

namespace {

constexpr std::int64_t kFormatVersion = 1;

using h5::Handle;
using h5::read_string_attribute;
using h5::read_u64_attribute;
using h5::write_string_attribute;
using h5::write_u64_attribute;

// The checkpoint's attributes and one dataset per tensor under /params.
bool fill_checkpoint(hid_t file, const CheckpointMeta& meta, std::span<const TensorView> tensors) {
  std::string order;
  for (const auto& t : tensors) order += t.name + "\n";
  if (!write_u64_attribute(file, "format_version", kFormatVersion) ||
      !write_u64_attribute(file, "height", meta.height) ||
      !write_string_attribute(file, "state_root", meta.state_root.hex()) ||
      !write_string_attribute(file, "block_hash", meta.block_hash.hex()) ||
      !write_string_attribute(file, "chain_id", meta.chain_id.hex()) ||
      !write_string_attribute(file, "tensor_order", order)) {
    return false;
  }
  Handle group(H5Gcreate2(file, "params", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
  if (!group.valid()) return false;
  for (const auto& t : tensors) {
    std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
    Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
    Handle set(H5Dcreate2(group.get(), t.name.c_str(), H5T_IEEE_F32LE, space.get(), H5P_DEFAULT,
                          H5P_DEFAULT, H5P_DEFAULT),
               H5Dclose);
    if (!set.valid() ||
        H5Dwrite(set.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.values.data()) < 0) {
      return false;
    }
  }
  return true;
}

}  // namespace

Status write_checkpoint(const std::filesystem::path& path, const CheckpointMeta& meta,
                        std::span<const TensorView> tensors) {
  for (const auto& t : tensors) {
    const auto n =
        std::accumulate(t.shape.begin(), t.shape.end(), std::int64_t{1}, std::multiplies<>());
    if (n != static_cast<std::int64_t>(t.values.size())) {
      return runtime_error("checkpoint tensor '{}': shape holds {} values, given {}", t.name, n,
                           t.values.size());
    }
  }
  // A checkpoints/ folder someone removed is made again: the chain holds what matters.
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) {
    return runtime_error("cannot create {} for checkpoint {}: {}", path.parent_path().string(),
                         path.filename().string(), ec.message());
  }
  return h5::write_file_image(path, "checkpoint",
                              [&](hid_t file) { return fill_checkpoint(file, meta, tensors); });
}

Result<Checkpoint> read_checkpoint(const std::filesystem::path& path) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  auto bad = [&](std::string_view what) {
    return runtime_error("checkpoint {}: {}", path.string(), what);
  };
  if (H5Fis_hdf5(path.c_str()) <= 0) return bad("missing or not an HDF5 file");
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) return bad("cannot open");
  const auto version = read_u64_attribute(file.get(), "format_version");
  if (!version) return bad("no format_version attribute: not a fedchain checkpoint");
  if (*version != kFormatVersion) {
    return bad(fmt::format("format version {} (this build reads {})", *version, kFormatVersion));
  }
  Checkpoint out;
  const auto height = read_u64_attribute(file.get(), "height");
  const auto state_root = read_string_attribute(file.get(), "state_root");
  const auto block_hash = read_string_attribute(file.get(), "block_hash");
  const auto chain_id = read_string_attribute(file.get(), "chain_id");
  const auto order = read_string_attribute(file.get(), "tensor_order");
  if (!height || !state_root || !block_hash || !chain_id || !order) {
    return bad("missing attributes (height, state_root, block_hash, chain_id, tensor_order)");
  }
  const auto root = Hash32::from_hex(*state_root);
  const auto block = Hash32::from_hex(*block_hash);
  const auto chain = Hash32::from_hex(*chain_id);
  if (!root || !block || !chain) return bad("a hash attribute is not 64 hex characters");
  out.meta = {*height, *root, *block, *chain};

  std::istringstream names(*order);
  for (std::string name; std::getline(names, name);) {
    Handle set(H5Dopen2(file.get(), ("params/" + name).c_str(), H5P_DEFAULT), H5Dclose);
    if (!set.valid()) return bad(fmt::format("tensor '{}' is listed but missing", name));
    Handle space(H5Dget_space(set.get()), H5Sclose);
    const int rank = H5Sget_simple_extent_ndims(space.get());
    if (rank < 0 || rank > 8) return bad(fmt::format("tensor '{}' has a bad shape", name));
    std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
    H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
    std::vector<std::int64_t> shape(dims.begin(), dims.end());
    const auto n = static_cast<std::size_t>(
        std::accumulate(shape.begin(), shape.end(), std::int64_t{1}, std::multiplies<>()));
    const std::size_t offset = out.params.size();
    out.params.resize(offset + n);
    if (H5Dread(set.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                out.params.data() + offset) < 0) {
      return bad(fmt::format("cannot read tensor '{}' (corrupt file?)", name));
    }
    out.names.push_back(name);
    out.shapes.push_back(std::move(shape));
  }
  return out;
}

}  // namespace fedchain::io
