// The CUDA training backend: every train::Backend op on one GPU, through one CUDA stream
// and a cuBLAS handle bound to it (kernels/train_backend.cu). train::make_backend("cuda")
// builds it; tests/kernels/train_backend_test.cpp holds it to the same double reference as
// the CPU backend. This header shows no CUDA types, so CPU-only code can include it.
//
// Determinism: for a given binary and GPU model, every op gives the same bits on every run.
// No atomics anywhere; reductions (bias gradients, col2im) run in a fixed order; cuBLAS in
// CUBLAS_PEDANTIC_MATH (no TF32, no reduced-precision tricks) with atomics disallowed,
// on one stream. Results differ from the CPU backend in the last bits (another summation
// order), within the normalised tolerance of tests/train/backend_ops.hpp.
//
// Errors: make_cuda_backend returns a Result (a config error when the device index names no
// device, a runtime error when cuBLAS cannot be loaded or the stream or the cuBLAS handle
// cannot be made), and allocate returns a runtime error when cudaMalloc fails. The other ops
// return void in train::Backend, so a CUDA or cuBLAS error there prints the op, the device
// and the error to stderr and aborts the process: a CUDA error leaves the context unusable, and
// training on after one would commit garbage. An aborted rank leaves its run directory as it was
// (the chain and checkpoints are only ever written whole), so the run resumes. Kernel
// faults surface at the next call that checks (often synchronize or download), so the
// op named may be a later one; CUDA_LAUNCH_BLOCKING=1 names the faulting kernel.
#pragma once

#include <memory>

#include "fedchain/core/error.hpp"
#include "fedchain/train/backend.hpp"

namespace fedchain::gpu {

// cuBLAS is loaded (dlopen) on first use rather than linked, so that processes that train
// on the CPU do not pay for loading it. Loads it once per process and resolves the entry
// points the backend calls; make_cuda_backend calls it. A runtime error names the library
// and what is missing.
Status load_cublas();

// A backend on device device_index (0-based, as cudaSetDevice counts). It makes that device
// current for the calling thread, so use it from that thread (one rank, one thread). Its
// threads() is 1: one host thread issues the work.
Result<std::unique_ptr<train::Backend>> make_cuda_backend(int device_index);

}  // namespace fedchain::gpu
