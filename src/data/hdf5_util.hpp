// Small RAII helpers over the HDF5 C API for data/: handles that close themselves, a guard
// that keeps HDF5's own error stack off stderr (we report our own, better-named errors),
// and typed attribute access. Private to data/.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace fedchain::data::h5 {

class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), close_(closer) {}
  Handle(Handle&& other) noexcept
      : id_(std::exchange(other.id_, H5I_INVALID_HID)), close_(other.close_) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
      close_ = other.close_;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now and reports whether HDF5 managed to (it flushes on close).
  bool close() {
    if (!valid()) return true;
    const herr_t rc = close_(id_);
    id_ = H5I_INVALID_HID;
    return rc >= 0;
  }

 private:
  void reset() {
    if (valid()) close_(id_);
    id_ = H5I_INVALID_HID;
  }
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// While alive, HDF5 does not print its error stack; the previous handler comes back after.
class QuietErrors {
 public:
  QuietErrors() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~QuietErrors() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  QuietErrors(const QuietErrors&) = delete;
  QuietErrors& operator=(const QuietErrors&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// Variable-length UTF-8 string attribute (h5py reads it as str).
bool write_string_attribute(hid_t object, const char* name, const std::string& value);
bool write_int64_attribute(hid_t object, const char* name, std::int64_t value);
// nullopt when absent or not of that kind; strings may be fixed or variable length.
std::optional<std::string> read_string_attribute(hid_t object, const char* name);
std::optional<std::int64_t> read_int64_attribute(hid_t object, const char* name);

}  // namespace fedchain::data::h5
