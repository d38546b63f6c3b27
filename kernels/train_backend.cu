// The CUDA training backend (fedchain/kernels/train_backend.hpp): train::Backend's ops on
// one GPU. The element bodies, GEMM shapes and call order are train_ops.hpp's (shared with
// the host twin test); this file runs them on the device: one generic grid-stride kernel
// for the element functions, cublasSgemm for the products, a block reduction for column
// sums, all in order on one stream.
// defines: load_cublas, make_cuda_backend; kernels for_each_kernel, column_sums_kernel
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "fedchain/kernels/train_backend.hpp"
#include "launch.cuh"
#include "train_ops.hpp"

namespace fedchain::gpu {

namespace {

using train::Buffer;

constexpr int kThreads = 256;

// cuBLAS is loaded when the first CUDA backend is made, not linked: loading libcublasLt
// costs every process about 0.1 s and 200 MB resident (fedchain --version: 0.01 s and 15 MB
// without it, 0.11 s and 230 MB with it), and only ranks that train on a GPU use it.
struct Cublas {
  decltype(&cublasCreate) create = nullptr;
  decltype(&cublasDestroy) destroy = nullptr;
  decltype(&cublasSetStream) set_stream = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;
  decltype(&cublasSetAtomicsMode) set_atomics_mode = nullptr;
  decltype(&cublasSgemm) sgemm = nullptr;
  decltype(&cublasGetStatusString) status_string = nullptr;
};

#define FEDCHAIN_STRINGIFY2(x) #x
#define FEDCHAIN_STRINGIFY(x) FEDCHAIN_STRINGIFY2(x)
// The soname of the cuBLAS this file was compiled against.
constexpr const char* kCublasLibrary = "libcublas.so." FEDCHAIN_STRINGIFY(CUBLAS_VER_MAJOR);

Result<Cublas> open_cublas() {
  void* library = dlopen(kCublasLibrary, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    return runtime_error(
        "cannot load {} ({}): put the CUDA toolkit's library folder on LD_LIBRARY_PATH",
        kCublasLibrary, dlerror());
  }
  Cublas cublas;
  std::string missing;
  // The exported names: cublas_v2.h maps cublasCreate to cublasCreate_v2 and so on.
  auto resolve = [&](auto& entry, const char* name) {
    entry = reinterpret_cast<std::remove_reference_t<decltype(entry)>>(dlsym(library, name));
    if (entry == nullptr) missing += fmt::format(" {}", name);
  };
  resolve(cublas.create, "cublasCreate_v2");
  resolve(cublas.destroy, "cublasDestroy_v2");
  resolve(cublas.set_stream, "cublasSetStream_v2");
  resolve(cublas.set_math_mode, "cublasSetMathMode");
  resolve(cublas.set_atomics_mode, "cublasSetAtomicsMode");
  resolve(cublas.sgemm, "cublasSgemm_v2");
  resolve(cublas.status_string, "cublasGetStatusString");
  if (!missing.empty()) {
    dlclose(library);
    return runtime_error("{} lacks{}: is it older than the cuBLAS fedchain was built with?",
                         kCublasLibrary, missing);
  }
  return cublas;  // the library stays loaded for the life of the process
}

// Loaded once per process; later calls return the same result.
const Result<Cublas>& cublas_library() {
  static const Result<Cublas> library = open_cublas();
  return library;
}

// f(i) for i in [0, n), one thread per i over a grid-stride loop: every output is written
// by one thread, so the launch shape cannot change a result.
template <class F>
__global__ void for_each_kernel(std::int64_t n, F f) {
  const auto stride = static_cast<std::int64_t>(grid_stride());
  for (auto i = static_cast<std::int64_t>(first_index()); i < n; i += stride) f(i);
}

// A block covers kSumColumns adjacent columns (a warp reads 32 consecutive floats of a row)
// with train_ops::kSumLanes row lanes; thread (column, lane) computes that lane's sum, then
// lane 0 adds the lane sums in lane order: train_ops::column_lane_sum's fixed order.
constexpr int kSumColumns = 32;

__global__ void column_sums_kernel(const float* a, std::int64_t rows, std::int64_t cols,
                                   float* sums) {
  __shared__ float lane_sums[train_ops::kSumLanes][kSumColumns + 1];  // +1: no bank conflicts
  const std::int64_t column = static_cast<std::int64_t>(blockIdx.x) * kSumColumns + threadIdx.x;
  lane_sums[threadIdx.y][threadIdx.x] =
      column < cols ? train_ops::column_lane_sum(a, rows, cols, column, threadIdx.y) : 0.0f;
  __syncthreads();
  if (threadIdx.y == 0 && column < cols) {
    float total = 0.0f;
    for (int lane = 0; lane < train_ops::kSumLanes; ++lane) total += lane_sums[lane][threadIdx.x];
    sums[column] = total;
  }
}

void free_device(void* pointer) {
  // Nothing to report to: a deleter returns void, and at process exit the runtime may
  // already be unloading.
  if (pointer != nullptr) cudaFree(pointer);
}

// train_ops' Device on a GPU: the stream and cuBLAS handle, and the error policy of the
// header for ops that return void (print the op, the device and the error; abort).
class CudaDevice {
 public:
  CudaDevice(int device, cudaStream_t stream, const Cublas& cublas, cublasHandle_t blas)
      : name_(fmt::format("cuda:{}", device)), stream_(stream), cublas_(cublas), blas_(blas) {}

  const std::string& name() const { return name_; }

  template <class F>
  void for_each(const char* op, std::int64_t n, const F& f) {
    if (n <= 0) return;
    const unsigned blocks = grid_for(Launch{kThreads, 0}, static_cast<std::size_t>(n));
    for_each_kernel<<<blocks, kThreads, 0, stream_>>>(n, f);
    check(cudaGetLastError(), op);
  }

  // Every size must fit cuBLAS's int (the conv blocks keep them far below).
  void gemm(const char* op, const train_ops::Gemm& g, const float* a, const float* b, float* c) {
    if (g.m <= 0 || g.n <= 0) return;
    for (const std::int64_t size : {g.m, g.n, g.k, g.lda, g.ldb, g.ldc}) {
      if (size > INT_MAX) fail(op, fmt::format("a GEMM size of {} exceeds cuBLAS's int", size));
    }
    const float alpha = 1.0f;
    const cublasStatus_t status = cublas_.sgemm(
        blas_, g.transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, g.transpose_b ? CUBLAS_OP_T : CUBLAS_OP_N,
        static_cast<int>(g.m), static_cast<int>(g.n), static_cast<int>(g.k), &alpha, a,
        static_cast<int>(g.lda), b, static_cast<int>(g.ldb), &g.beta, c, static_cast<int>(g.ldc));
    if (status != CUBLAS_STATUS_SUCCESS) {
      fail(op, fmt::format("cuBLAS status {} ({})", static_cast<int>(status),
                           cublas_.status_string(status)));
    }
  }

  void column_sums(const char* op, const float* a, std::int64_t rows, std::int64_t cols,
                   float* sums) {
    if (cols <= 0) return;
    const auto tiles = static_cast<unsigned>((cols + kSumColumns - 1) / kSumColumns);
    column_sums_kernel<<<tiles, dim3(kSumColumns, train_ops::kSumLanes), 0, stream_>>>(a, rows,
                                                                                       cols, sums);
    check(cudaGetLastError(), op);
  }

  void check(cudaError_t status, const char* op) const {
    if (status != cudaSuccess) {
      fail(op,
           fmt::format("CUDA error {} ({})", static_cast<int>(status), cudaGetErrorString(status)));
    }
  }

  [[noreturn]] void fail(const char* op, const std::string& what) const {
    std::fprintf(stderr,
                 "fedchain: %s: %s failed: %s. This rank stops here; its run directory is left "
                 "as it was and the run can be resumed. (Kernel faults are reported by a later "
                 "call: rerun with CUDA_LAUNCH_BLOCKING=1 to name the kernel.)\n",
                 name_.c_str(), op, what.c_str());
    std::fflush(stderr);
    std::abort();
  }

 private:
  std::string name_;
  cudaStream_t stream_;
  const Cublas& cublas_;
  cublasHandle_t blas_;
};

// The compute ops come from train_ops::TrainOps over a CudaDevice; this adds device memory.
class CudaBackend final : public train_ops::TrainOps<CudaDevice> {
 public:
  CudaBackend(int device, std::string kernels, cudaStream_t stream, const Cublas& cublas,
              cublasHandle_t blas)
      : TrainOps(train_ops::kConvBlockFloats, device, stream, cublas, blas),
        kernels_(std::move(kernels)),
        stream_(stream),
        cublas_(cublas),
        blas_(blas) {}
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;
  // Unchecked: a destructor has no one to report to, and aborting while a rank unwinds (or
  // the runtime unloads at exit) would only hide the error that got it there.
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    cublas_.destroy(blas_);
    cudaStreamDestroy(stream_);
  }

  std::string name() const override { return device_.name(); }
  std::string kernels() const override { return kernels_; }
  int threads() const override { return 1; }

  Result<Buffer> allocate(std::size_t bytes) override {
    if (bytes == 0) return Buffer(nullptr, 0, [](void*) {});
    void* data = nullptr;
    if (const cudaError_t status = cudaMalloc(&data, bytes); status != cudaSuccess) {
      cudaGetLastError();  // out of memory is not sticky: clear it so later checks pass
      return runtime_error("{}: cannot allocate {} bytes of device memory: CUDA error {} ({})",
                           device_.name(), bytes, static_cast<int>(status),
                           cudaGetErrorString(status));
    }
    // Zeroed, as the CPU backend's buffers are; on the stream, so it lands before any op.
    if (const cudaError_t status = cudaMemsetAsync(data, 0, bytes, stream_);
        status != cudaSuccess) {
      cudaFree(data);
      return runtime_error("{}: cannot clear {} new bytes: CUDA error {} ({})", device_.name(),
                           bytes, static_cast<int>(status), cudaGetErrorString(status));
    }
    return Buffer(data, bytes, free_device);
  }

  // Returns once the bytes are on the device, so the caller may reuse src at once (a
  // pinned src would otherwise still be read after the call).
  void upload(Buffer& dst, const void* src, std::size_t bytes, std::size_t offset) override {
    if (bytes == 0) return;
    device_.check(cudaMemcpyAsync(static_cast<char*>(dst.data()) + offset, src, bytes,
                                  cudaMemcpyHostToDevice, stream_),
                  "upload");
    device_.check(cudaStreamSynchronize(stream_), "upload");
  }
  void download(void* dst, const Buffer& src, std::size_t bytes, std::size_t offset) override {
    if (bytes == 0) return;
    device_.check(cudaMemcpyAsync(dst, static_cast<const char*>(src.data()) + offset, bytes,
                                  cudaMemcpyDeviceToHost, stream_),
                  "download");
    device_.check(cudaStreamSynchronize(stream_), "download");
  }
  void fill(float* x, std::int64_t n, float value) override {
    device_.for_each("fill", n, train_ops::Fill{x, value});
  }
  void copy(float* dst, const float* src, std::int64_t n) override {
    if (n <= 0) return;
    device_.check(cudaMemcpyAsync(dst, src, static_cast<std::size_t>(n) * sizeof(float),
                                  cudaMemcpyDeviceToDevice, stream_),
                  "copy");
  }
  void synchronize() override { device_.check(cudaStreamSynchronize(stream_), "synchronize"); }

 private:
  std::string kernels_;
  cudaStream_t stream_;
  const Cublas& cublas_;
  cublasHandle_t blas_;
};

Error setup_error(int device, const char* what, cudaError_t status) {
  return runtime_error("cuda:{}: {} failed: CUDA error {} ({})", device, what,
                       static_cast<int>(status), cudaGetErrorString(status));
}

}  // namespace

Status load_cublas() {
  if (const auto& library = cublas_library(); !library) return library.error();
  return {};
}

Result<std::unique_ptr<train::Backend>> make_cuda_backend(int device_index) {
  int count = 0;
  if (const cudaError_t status = cudaGetDeviceCount(&count); status != cudaSuccess) {
    cudaGetLastError();
    return config_error("no usable CUDA device: cudaGetDeviceCount failed with error {} ({})",
                        static_cast<int>(status), cudaGetErrorString(status));
  }
  if (device_index < 0 || device_index >= count) {
    return config_error("CUDA device {} does not exist: this node shows {} device(s)", device_index,
                        count);
  }
  if (const cudaError_t status = cudaSetDevice(device_index); status != cudaSuccess) {
    return setup_error(device_index, "cudaSetDevice", status);
  }
  const auto& library = cublas_library();
  if (!library) return library.error();
  const Cublas& cublas = library.value();
  // A blocking stream: it still orders with work other code puts on the legacy default
  // stream (the aggregation kernels).
  cudaStream_t stream = nullptr;
  if (const cudaError_t status = cudaStreamCreate(&stream); status != cudaSuccess) {
    return setup_error(device_index, "cudaStreamCreate", status);
  }
  cublasHandle_t blas = nullptr;
  if (const cublasStatus_t status = cublas.create(&blas); status != CUBLAS_STATUS_SUCCESS) {
    cudaStreamDestroy(stream);
    return runtime_error("cuda:{}: cublasCreate failed: cuBLAS status {} ({})", device_index,
                         static_cast<int>(status), cublas.status_string(status));
  }
  // Determinism: every call on the one stream, no TF32 or other reduced-precision paths,
  // no atomics in cuBLAS's kernels.
  const char* what = "cublasSetStream";
  cublasStatus_t status = cublas.set_stream(blas, stream);
  if (status == CUBLAS_STATUS_SUCCESS) {
    what = "cublasSetMathMode";
    status = cublas.set_math_mode(blas, CUBLAS_PEDANTIC_MATH);
  }
  if (status == CUBLAS_STATUS_SUCCESS) {
    what = "cublasSetAtomicsMode";
    status = cublas.set_atomics_mode(blas, CUBLAS_ATOMICS_NOT_ALLOWED);
  }
  if (status != CUBLAS_STATUS_SUCCESS) {
    cublas.destroy(blas);
    cudaStreamDestroy(stream);
    return runtime_error("cuda:{}: {} failed: cuBLAS status {} ({})", device_index, what,
                         static_cast<int>(status), cublas.status_string(status));
  }
  // cuBLAS picks its GEMM kernels by architecture: ranks on one kind of GPU train the same
  // bits, on another kind they may not.
  int major = 0;
  int minor = 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device_index);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device_index);
  return std::unique_ptr<train::Backend>(new CudaBackend(
      device_index, fmt::format("cuda sm_{}{}", major, minor), stream, cublas, blas));
}

}  // namespace fedchain::gpu
