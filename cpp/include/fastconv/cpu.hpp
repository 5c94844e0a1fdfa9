#pragma once
#include <string>

namespace fastconv {

// Instruction sets with kernels of their own, lowest first.
enum class Isa { Generic, Avx2, Avx512 };

const char* to_string(Isa isa) noexcept;

// What the CPU offers, and what runs: the best ISA that the CPU, the build and the cap
// FASTCONV_MAX_ISA=generic|avx2|avx512 (read once, at first use) all allow.
Isa detected_isa() noexcept;
Isa active_isa() noexcept;
std::string cpu_features();  // e.g. "sse2 avx avx2 fma"

// The float32 multiply-add ceiling of the active kernels on `threads` threads, in GFLOP/s,
// the best of three runs of independent FMA chains for about `seconds` each.
double measure_peak_gflops(int threads, double seconds = 0.2);

}  // namespace fastconv
