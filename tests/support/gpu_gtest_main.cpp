// GoogleTest main for GPU tests: where no CUDA device is usable, print why and exit 77,
// which ctest reports as skipped (SKIP_RETURN_CODE 77), never as passed.
#include <cstdio>

#include <gtest/gtest.h>

#include "fedchain/kernels/device.hpp"

int main(int argc, char** argv) {
  const auto probe = fedchain::gpu::probe_devices();
  if (probe.devices.empty()) {
    std::printf("SKIPPED: no usable GPU: %s\n", probe.why_none.c_str());
    return 77;
  }
  std::printf("GPU tests on device 0: %s\n", probe.devices.front().name.c_str());
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
