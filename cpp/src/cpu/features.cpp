// CPU feature detection: cpuid for what the core implements, xgetbv for what the OS saves.
#include <cstdint>
#include <string>

#include "fastconv/cpu.hpp"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define FASTCONV_X86 1
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

namespace fastconv {
namespace {

struct Features {
  bool sse2 = false, avx = false, avx2 = false, fma = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
};

#ifdef FASTCONV_X86
void cpuid(int leaf, int sub, unsigned out[4]) {
#if defined(_MSC_VER)
  int r[4];
  __cpuidex(r, leaf, sub);
  for (int i = 0; i < 4; ++i) out[i] = static_cast<unsigned>(r[i]);
#else
  __cpuid_count(leaf, sub, out[0], out[1], out[2], out[3]);
#endif
}

std::uint64_t xgetbv0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (std::uint64_t(hi) << 32) | lo;
#endif
}
#endif

Features detect() noexcept {
  Features f;
#ifdef FASTCONV_X86
  unsigned r[4];
  cpuid(0, 0, r);
  const unsigned max_leaf = r[0];
  cpuid(1, 0, r);
  f.sse2 = (r[3] >> 26) & 1;
  const bool osxsave = (r[2] >> 27) & 1;
  const bool avx_cpu = (r[2] >> 28) & 1;
  const bool fma_cpu = (r[2] >> 12) & 1;
  const std::uint64_t xcr0 = osxsave ? xgetbv0() : 0;
  const bool ymm_os = (xcr0 & 0x6) == 0x6;     // SSE and AVX state
  const bool zmm_os = (xcr0 & 0xe6) == 0xe6;   // plus opmask and upper ZMM state
  f.avx = avx_cpu && ymm_os;
  f.fma = fma_cpu && ymm_os;
  if (max_leaf >= 7) {
    cpuid(7, 0, r);
    f.avx2 = f.avx && ((r[1] >> 5) & 1);
    f.avx512f = zmm_os && ((r[1] >> 16) & 1);
    f.avx512dq = zmm_os && ((r[1] >> 17) & 1);
    f.avx512bw = zmm_os && ((r[1] >> 30) & 1);
    f.avx512vl = zmm_os && ((r[1] >> 31) & 1);
  }
#endif
  return f;
}

const Features& features() noexcept {
  static const Features f = detect();
  return f;
}

}  // namespace

const char* to_string(Isa isa) noexcept {
  switch (isa) {
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    default: return "generic";
  }
}

Isa detected_isa() noexcept {
  const Features& f = features();
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx2 && f.fma) return Isa::Avx512;
#if defined(FASTCONV_EMULATE_AVX512)
  if (f.avx2 && f.fma) return Isa::Avx512;  // a development build: AVX-512 kernels on AVX2 registers
#endif
  if (f.avx2 && f.fma) return Isa::Avx2;
  return Isa::Generic;
}

std::string cpu_features() {
  const Features& f = features();
  std::string out;
  auto add = [&out](bool on, const char* name) {
    if (!on) return;
    if (!out.empty()) out += ' ';
    out += name;
  };
  add(f.sse2, "sse2");
  add(f.avx, "avx");
  add(f.avx2, "avx2");
  add(f.fma, "fma");
  add(f.avx512f, "avx512f");
  add(f.avx512bw, "avx512bw");
  add(f.avx512vl, "avx512vl");
  add(f.avx512dq, "avx512dq");
  return out.empty() ? std::string("none") : out;
}

}  // namespace fastconv
