// Attribute helpers for io/ (hdf5_file.hpp).
#include "hdf5_file.hpp"

#include "fedchain/core/bytes.hpp"
#include "fedchain/core/durable_file.hpp"

namespace fedchain::io::h5 {

namespace {

std::optional<Bytes> file_image(const std::filesystem::path& path,
                                const std::function<bool(hid_t file)>& fill) {
  Handle access(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (!access.valid() || H5Pset_fapl_core(access.get(), std::size_t{1} << 20, 0) < 0) {
    return std::nullopt;
  }
  Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), H5Fclose);
  if (!file.valid() || !fill(file.get()) || H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) {
    return std::nullopt;
  }
  const ssize_t size = H5Fget_file_image(file.get(), nullptr, 0);
  if (size <= 0) return std::nullopt;
  Bytes image(static_cast<std::size_t>(size));
  if (H5Fget_file_image(file.get(), image.data(), image.size()) != size) return std::nullopt;
  return image;
}

}  // namespace

Status write_file_image(const std::filesystem::path& path, const char* what,
                        const std::function<bool(hid_t file)>& fill) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are reported by us, once
  const auto image = file_image(path, fill);
  if (!image) return runtime_error("cannot encode {} {} (HDF5 error)", what, path.string());
  if (auto st = write_file_atomically(path, *image); !st) {
    return runtime_error("cannot write {} {}: {}", what, path.string(), st.error().message);
  }
  return {};
}

bool write_string_attribute(hid_t object, const char* name, const std::string& value) {
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), value.empty() ? 1 : value.size());
  H5Tset_strpad(type.get(), H5T_STR_NULLPAD);
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(object, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  return attr.valid() && H5Awrite(attr.get(), type.get(), value.c_str()) >= 0;
}

bool write_u64_attribute(hid_t object, const char* name, std::uint64_t value) {
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(H5Acreate2(object, name, H5T_STD_U64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
              H5Aclose);
  return attr.valid() && H5Awrite(attr.get(), H5T_NATIVE_UINT64, &value) >= 0;
}

std::optional<std::string> read_string_attribute(hid_t object, const char* name) {
  if (H5Aexists(object, name) <= 0) return std::nullopt;
  Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING || H5Tis_variable_str(type.get()) > 0) {
    return std::nullopt;
  }
  std::string value(H5Tget_size(type.get()), '\0');
  if (H5Aread(attr.get(), type.get(), value.data()) < 0) return std::nullopt;
  value.resize(value.find('\0') == std::string::npos ? value.size() : value.find('\0'));
  return value;
}

std::optional<std::uint64_t> read_u64_attribute(hid_t object, const char* name) {
  if (H5Aexists(object, name) <= 0) return std::nullopt;
  Handle attr(H5Aopen(object, name, H5P_DEFAULT), H5Aclose);
  std::uint64_t value = 0;
  if (H5Aread(attr.get(), H5T_NATIVE_UINT64, &value) < 0) return std::nullopt;
  return value;
}

}  // namespace fedchain::io::h5
