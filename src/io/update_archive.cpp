// The update archive (update_archive.hpp; layout in docs/formats.md, "Update archive").
#include "fedchain/io/update_archive.hpp"

#include <hdf5.h>

#include <algorithm>
#include <regex>

#include <fmt/format.h>

#include "fedchain/core/durable_file.hpp"
#include "hdf5_file.hpp"

namespace fedchain::io {

namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kFormatVersion = 1;
constexpr const char* kDataset = "q";

// The update's attributes and its values as dataset "q".
bool fill_update(hid_t file, const ArchivedUpdate& update) {
  if (!h5::write_u64_attribute(file, "format_version", kFormatVersion) ||
      !h5::write_u64_attribute(file, "height", update.height) ||
      !h5::write_u64_attribute(file, "client", update.client) ||
      !h5::write_string_attribute(file, "chain_id", update.chain_id.hex()) ||
      !h5::write_string_attribute(file, "update_root", update.update_root.hex())) {
    return false;
  }
  const hsize_t count = update.values.size();
  h5::Handle space(H5Screate_simple(1, &count, nullptr), H5Sclose);
  h5::Handle set(
      H5Dcreate2(file, kDataset, H5T_STD_I32LE, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      H5Dclose);
  return set.valid() && H5Dwrite(set.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                 update.values.data()) >= 0;
}

// The height a file name "height-00000012.h5" names, if it is one.
std::optional<std::uint64_t> height_of(const fs::path& file) {
  static const std::regex kName(R"(height-(\d{8,})\.h5)");
  std::smatch match;
  const std::string name = file.filename().string();
  if (!std::regex_match(name, match, kName)) return std::nullopt;
  return std::stoull(match[1].str());
}

// A temp file left by a writer that was killed: "height-00000012.h5.tmp.PID".
bool is_temp_file(const fs::path& file) {
  return file.filename().string().find(".h5.tmp.") != std::string::npos;
}

}  // namespace

fs::path UpdateArchive::client_dir(std::uint32_t client) const {
  return dir_ / fmt::format("client-{:04d}", client);
}

fs::path UpdateArchive::path(std::uint32_t client, std::uint64_t height) const {
  return client_dir(client) / fmt::format("height-{:08d}.h5", height);
}

Status UpdateArchive::write(const ArchivedUpdate& update) const {
  const fs::path target = path(update.client, update.height);
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec) {
    return runtime_error("cannot create the update archive folder {}: {}",
                         target.parent_path().string(), ec.message());
  }
  return h5::write_file_image(target, "archived update",
                              [&](hid_t file) { return fill_update(file, update); });
}

Result<ArchivedUpdate> UpdateArchive::read(std::uint32_t client, std::uint64_t height) const {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const fs::path file_path = path(client, height);
  std::error_code ec;
  if (!fs::exists(file_path, ec)) {
    return reject("archive-missing",
                  "client {}'s update for height {} is not archived ({} is missing)", client,
                  height, file_path.string());
  }
  auto unreadable = [&](std::string_view what) {
    return reject("archive-unreadable", "archived update {} (client {}, height {}): {}",
                  file_path.string(), client, height, what);
  };
  if (H5Fis_hdf5(file_path.c_str()) <= 0) return unreadable("not a readable HDF5 file (torn?)");
  h5::Handle file(H5Fopen(file_path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!file.valid()) return unreadable("HDF5 cannot open it (torn?)");
  const auto version = h5::read_u64_attribute(file.get(), "format_version");
  if (!version) return unreadable("no format_version attribute");
  if (*version != kFormatVersion) {
    return unreadable(
        fmt::format("format version {} (this build reads {})", *version, kFormatVersion));
  }
  const auto stored_height = h5::read_u64_attribute(file.get(), "height");
  const auto stored_client = h5::read_u64_attribute(file.get(), "client");
  const auto chain_id = h5::read_string_attribute(file.get(), "chain_id");
  const auto update_root = h5::read_string_attribute(file.get(), "update_root");
  if (!stored_height || !stored_client || !chain_id || !update_root) {
    return unreadable("missing attributes (height, client, chain_id, update_root)");
  }
  if (*stored_height != height || *stored_client != client) {
    return reject("archive-mismatch",
                  "archived update {} says it is client {}'s for height {}, not client {}'s for "
                  "height {}",
                  file_path.string(), *stored_client, *stored_height, client, height);
  }
  ArchivedUpdate out;
  out.height = height;
  out.client = client;
  const auto chain = Hash32::from_hex(*chain_id);
  const auto root = Hash32::from_hex(*update_root);
  if (!chain || !root) return unreadable("a hash attribute is not 64 hex characters");
  out.chain_id = *chain;
  out.update_root = *root;

  h5::Handle set(H5Dopen2(file.get(), kDataset, H5P_DEFAULT), H5Dclose);
  if (!set.valid()) return unreadable("no /q dataset");
  h5::Handle type(H5Dget_type(set.get()), H5Tclose);
  h5::Handle space(H5Dget_space(set.get()), H5Sclose);
  if (H5Tget_class(type.get()) != H5T_INTEGER || H5Tget_size(type.get()) != 4 ||
      H5Tget_sign(type.get()) != H5T_SGN_2 || H5Sget_simple_extent_ndims(space.get()) != 1) {
    return unreadable("/q is not a one-dimensional int32 dataset");
  }
  hsize_t count = 0;
  H5Sget_simple_extent_dims(space.get(), &count, nullptr);
  out.values.resize(count);
  if (H5Dread(set.get(), H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.values.data()) < 0) {
    return unreadable("cannot read /q (torn?)");
  }
  return out;
}

std::vector<std::uint64_t> UpdateArchive::heights(std::uint32_t client) const {
  std::vector<std::uint64_t> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(client_dir(client), ec)) {
    if (const auto height = height_of(entry.path())) out.push_back(*height);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::size_t> UpdateArchive::remove_uncommitted(std::uint32_t client,
                                                      std::uint64_t tip) const {
  std::vector<fs::path> doomed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(client_dir(client), ec)) {
    const auto height = height_of(entry.path());
    if ((height && *height > tip) || is_temp_file(entry.path())) doomed.push_back(entry.path());
  }
  for (const auto& file : doomed) {
    if (!fs::remove(file, ec) && ec) {
      return runtime_error("cannot remove uncommitted archived update {}: {}", file.string(),
                           ec.message());
    }
  }
  if (!doomed.empty()) {
    if (auto st = fsync_directory(client_dir(client)); !st) return st.error();
  }
  return doomed.size();
}

}  // namespace fedchain::io
