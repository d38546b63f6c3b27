#include "fedchain/core/cpu_level.hpp"

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace fedchain {

namespace {

CpuLevel detect() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  const CpuLevel best =
      __builtin_cpu_supports("x86-64-v4") ? CpuLevel::kX86_64_v4 : CpuLevel::kX86_64_v3;
#else
  const CpuLevel best = CpuLevel::kX86_64_v3;
#endif
  const char* forced = std::getenv("FEDCHAIN_CPU_LEVEL");
  if (forced == nullptr || *forced == '\0') return best;
  const std::string_view name(forced);
  if (name == cpu_level_name(CpuLevel::kX86_64_v3)) return CpuLevel::kX86_64_v3;
  if (name == cpu_level_name(CpuLevel::kX86_64_v4) && best == CpuLevel::kX86_64_v4) return best;
  std::fprintf(
      stderr, "fedchain: FEDCHAIN_CPU_LEVEL=%s ignored: this CPU runs x86-64-v3%s; using %s\n",
      forced, best == CpuLevel::kX86_64_v4 ? " and x86-64-v4" : " only", cpu_level_name(best));
  return best;
}

}  // namespace

CpuLevel cpu_level() {
  static const CpuLevel level = detect();
  return level;
}

const char* cpu_level_name(CpuLevel level) {
  return level == CpuLevel::kX86_64_v4 ? "x86-64-v4" : "x86-64-v3";
}

}  // namespace fedchain
