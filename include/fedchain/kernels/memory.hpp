// Device memory without CUDA types in the interface: an owning array of T on the GPU and
// the copies in and out of it. Used by the round path's kernels, their tests and benches.
#pragma once

#include <cstddef>
#include <utility>

#include "fedchain/core/error.hpp"

namespace fedchain::gpu {

Result<void*> device_allocate(std::size_t bytes);
void device_free(void* pointer);
Status copy_to_device(void* device, const void* host, std::size_t bytes);
Status copy_to_host(void* host, const void* device, std::size_t bytes);
Status copy_on_device(void* to, const void* from, std::size_t bytes);
// Waits for every kernel launched so far; returns the first error any of them raised.
Status synchronize();

// count values of T in device memory; freed when it goes out of scope.
template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  static Result<DeviceArray> allocate(std::size_t count) {
    auto pointer = device_allocate(count * sizeof(T));
    if (!pointer) return pointer.error();
    DeviceArray array;
    array.data_ = static_cast<T*>(*pointer);
    array.size_ = count;
    return Result<DeviceArray>(std::move(array));  // explicit: nvcc compiles C++17
  }
  DeviceArray(DeviceArray&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  DeviceArray& operator=(DeviceArray&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() { device_free(data_); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }

  // Copies `count` values from host memory to the front of the array.
  Status upload(const T* host, std::size_t count) {
    if (count > size_) return runtime_error("upload of {} values into {}", count, size_);
    return copy_to_device(data_, host, count * sizeof(T));
  }
  Status download(T* host, std::size_t count) const {
    if (count > size_) return runtime_error("download of {} values from {}", count, size_);
    return copy_to_host(host, data_, count * sizeof(T));
  }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace fedchain::gpu
