// The instruction set fedchain's hot CPU kernels use on this machine. The binary is built
// for x86-64-v3 (AVX2, FMA); kernels that gain from AVX-512 carry a second copy for
// x86-64-v4 and are chosen once per process from what the CPU reports
// (docs/PERFORMANCE.md, "CPU dispatch"). Integer kernels give the same bits on both.
#pragma once

namespace fedchain {

enum class CpuLevel { kX86_64_v3, kX86_64_v4 };

// The best level this CPU supports. FEDCHAIN_CPU_LEVEL=x86-64-v3 in the environment forces
// the AVX2 copies (to measure or test them on an AVX-512 machine); asking for a level the
// CPU lacks, or an unknown name, is ignored with a warning on stderr.
CpuLevel cpu_level();

const char* cpu_level_name(CpuLevel level);  // "x86-64-v3", "x86-64-v4"

}  // namespace fedchain
