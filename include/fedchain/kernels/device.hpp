// GPU discovery. Whether a GPU is usable is decided at run time: a CUDA build on a machine
// without a device (or whose driver answers with an error) simply sees no devices.
// This header shows no CUDA types, so CPU-only code can include it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "fedchain/core/error.hpp"

namespace fedchain::gpu {

struct DeviceInfo {
  int index = 0;
  std::string name;
  std::size_t memory_bytes = 0;
  int compute_major = 0;
  int compute_minor = 0;
  std::string uuid;  // "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", as nvidia-smi -L prints it
};

struct DeviceProbe {
  std::vector<DeviceInfo> devices;
  std::string why_none;  // set when devices is empty: the CUDA error, or "no device"
};

DeviceProbe probe_devices();

// The device a rank takes (probe.devices must not be empty): its index among the ranks on
// its node (OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID or SLURM_LOCALID; 0 when none is
// set) modulo the devices, so that ranks sharing a node spread over its GPUs, and with
// --gpus-per-task=1 each rank takes the one it sees. Training and the NCCL exchange agree.
const DeviceInfo& device_for_this_rank(const DeviceProbe& probe);

// Runs a small kernel on device `index` and checks what it wrote: proves that kernels
// built for this binary's architectures can launch on that device.
Status self_test(int index);

// NCCL's version as "2.x.y", or "" when fedchain was built without NCCL.
std::string nccl_version();

}  // namespace fedchain::gpu
