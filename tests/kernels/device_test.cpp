#include <gtest/gtest.h>

#include "fedchain/kernels/device.hpp"

namespace fedchain::gpu {
namespace {

TEST(Device, EveryDeviceRunsTheSelfTestKernel) {
  const auto probe = probe_devices();
  ASSERT_FALSE(probe.devices.empty());
  for (const auto& device : probe.devices) {
    EXPECT_GT(device.memory_bytes, 0u);
    EXPECT_GE(device.compute_major, 7) << device.name;
    auto status = self_test(device.index);
    EXPECT_TRUE(status) << status.error().message;
  }
}

}  // namespace
}  // namespace fedchain::gpu
