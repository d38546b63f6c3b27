// HDF5 helpers shared by the files io/ writes (checkpoints, the update archive): a handle
// that closes itself, and the scalar attributes both formats use. Private to io/; HDF5's
// own error printing is switched off by the callers, which report better-named errors.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "fedchain/core/error.hpp"

namespace fedchain::io::h5 {

// Closes an HDF5 handle on scope exit with the matching H5?close.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

// Fixed-length, NUL-padded string attribute (h5py reads it as bytes).
bool write_string_attribute(hid_t object, const char* name, const std::string& value);
bool write_u64_attribute(hid_t object, const char* name, std::uint64_t value);
// nullopt when absent or not of that kind.
std::optional<std::string> read_string_attribute(hid_t object, const char* name);
std::optional<std::uint64_t> read_u64_attribute(hid_t object, const char* name);

// Writes an HDF5 file durably (temp name, fsync, rename): `fill` builds it in memory (the
// core driver, no backing store), then the image is written by core/durable_file. HDF5
// itself never writes to disk, so a full disk fails that write cleanly; an HDF5 file whose
// own close failed on a full disk made the library crash at exit. `what` names the file
// in errors ("checkpoint", "archived update").
Status write_file_image(const std::filesystem::path& path, const char* what,
                        const std::function<bool(hid_t file)>& fill);

}  // namespace fedchain::io::h5
