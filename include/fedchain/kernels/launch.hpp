// How a kernel is launched, chosen by the caller (tests run several shapes). Kernels loop
// over their elements with a grid stride, so every shape gives the same result.
#pragma once

namespace fedchain::gpu {

struct Launch {
  int block_size = 256;
  int grid_size = 0;  // 0: one thread per element, up to a cap of resident blocks
};

}  // namespace fedchain::gpu
