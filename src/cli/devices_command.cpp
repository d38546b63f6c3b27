// `fedchain devices`: what `train.device = auto` would find on this node.
#include <cstdio>

#include "commands.hpp"
#include "fedchain/core/build_info.hpp"

#ifdef FEDCHAIN_HAVE_CUDA
#include "fedchain/kernels/device.hpp"
#endif

namespace fedchain::cli {

void add_devices_command(CLI::App& app, int& exit_code) {
  auto* devices = app.add_subcommand("devices", "List the GPUs this build can use on this node");
  devices->callback([&exit_code] {
#ifdef FEDCHAIN_HAVE_CUDA
    const auto probe = gpu::probe_devices();
    if (probe.devices.empty()) {
      std::printf("no usable GPU (%s): training runs on the CPU\n", probe.why_none.c_str());
      return;
    }
    for (const auto& d : probe.devices) {
      const auto test = gpu::self_test(d.index);
      std::printf("cuda:%d  %s  %.1f GiB  sm_%d%d  self-test %s\n", d.index, d.name.c_str(),
                  static_cast<double>(d.memory_bytes) / (1 << 30), d.compute_major, d.compute_minor,
                  test ? "ok" : test.error().message.c_str());
      if (!test) exit_code = 1;
    }
    if (const auto nccl = gpu::nccl_version(); !nccl.empty()) {
      std::printf("NCCL %s\n", nccl.c_str());
    }
#else
    std::printf("fedchain %s was built without CUDA: training runs on the CPU\n",
                std::string(build::version()).c_str());
#endif
  });
}

}  // namespace fedchain::cli
