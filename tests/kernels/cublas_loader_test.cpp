// cuBLAS is loaded with dlopen when a CUDA backend is made (kernels/train_backend.cu): check,
// without a GPU, that the library this build was compiled against loads and has every entry
// point the backend calls, so a GPU session does not find out first.
#include <gtest/gtest.h>

#include "fedchain/kernels/train_backend.hpp"

namespace fedchain::gpu {
namespace {

TEST(CublasLoader, LoadsTheLibraryAndEveryEntryPoint) {
  const Status first = load_cublas();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(load_cublas()) << "a second load answers from the first";
}

}  // namespace
}  // namespace fedchain::gpu
