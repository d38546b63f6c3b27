// cpu_kernels.inc compiled for x86-64-v3 and for x86-64-v4, and the choice between them.
// The target pragmas change only the functions defined between them: the std and fixed
// helpers the kernels inline keep their one baseline definition, so no copy compiled for
// AVX-512 can be picked by the linker for a machine without it.
#include "cpu_kernels.hpp"

#include <cfenv>
#include <cmath>
#include <limits>

#include "fedchain/aggregate/fixed_point.hpp"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FEDCHAIN_CPU_DISPATCH 1
#endif

namespace fedchain::aggregate::cpu {

// Holds the floating-point rounding mode at round-to-nearest-even for its lifetime, then
// gives the caller's back: quantize rounds with rint, which follows the mode, and its result
// must not. Defined once, outside the target pragmas.
class RoundingToNearest {
 public:
  RoundingToNearest() : saved_(std::fegetround()) {
    if (saved_ != FE_TONEAREST) std::fesetround(FE_TONEAREST);
  }
  ~RoundingToNearest() {
    if (saved_ != FE_TONEAREST) std::fesetround(saved_);
  }
  RoundingToNearest(const RoundingToNearest&) = delete;
  RoundingToNearest& operator=(const RoundingToNearest&) = delete;

 private:
  int saved_;
};

#ifdef FEDCHAIN_CPU_DISPATCH
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v3")
#endif
namespace v3 {
#include "cpu_kernels.inc"
}  // namespace v3
#ifdef FEDCHAIN_CPU_DISPATCH
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("arch=x86-64-v4")
namespace v4 {
#include "cpu_kernels.inc"
}  // namespace v4
#pragma GCC pop_options
#endif

const Kernels& kernels() {
#ifdef FEDCHAIN_CPU_DISPATCH
  static const Kernels& chosen = cpu_level() == CpuLevel::kX86_64_v4 ? v4::kKernels : v3::kKernels;
  return chosen;
#else
  return v3::kKernels;
#endif
}

}  // namespace fedchain::aggregate::cpu
