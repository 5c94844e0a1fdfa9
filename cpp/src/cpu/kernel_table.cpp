#include "cpu/kernel_table.hpp"

#include <cstdlib>
#include <cstring>

#include "kernels/kernels.hpp"

namespace fastconv {
namespace {

// FASTCONV_MAX_ISA caps the choice, so tests can run every path the host supports.
Isa isa_cap() noexcept {
  const char* env = std::getenv("FASTCONV_MAX_ISA");
  if (env == nullptr) return Isa::Avx512;
  if (std::strcmp(env, "generic") == 0) return Isa::Generic;
  if (std::strcmp(env, "avx2") == 0) return Isa::Avx2;
  return Isa::Avx512;
}

Isa best_compiled_isa() noexcept {
#if defined(FASTCONV_HAVE_AVX512)
  return Isa::Avx512;
#elif defined(FASTCONV_HAVE_AVX2)
  return Isa::Avx2;
#else
  return Isa::Generic;
#endif
}

Isa choose() noexcept {
  Isa isa = detected_isa();
  if (isa_cap() < isa) isa = isa_cap();
  if (best_compiled_isa() < isa) isa = best_compiled_isa();
  return isa;
}

KernelTable fill() noexcept {
  KernelTable t;
  t.isa = choose();
  t.sgemm = kernels::generic::sgemm();
  t.dgemm = kernels::generic::dgemm();
  t.sdepthwise = kernels::generic::sdepthwise();
  t.ddepthwise = kernels::generic::ddepthwise();
  t.srowdot = kernels::generic::srowdot();
  t.drowdot = kernels::generic::drowdot();
  t.swinograd = kernels::generic::swinograd();
  t.dwinograd = kernels::generic::dwinograd();
  t.peak = kernels::generic::peak();
#if defined(FASTCONV_HAVE_AVX2)
  if (t.isa >= Isa::Avx2) {
    t.sgemm = kernels::avx2::sgemm();
    t.dgemm = kernels::avx2::dgemm();
    t.sdepthwise = kernels::avx2::sdepthwise();
    t.ddepthwise = kernels::avx2::ddepthwise();
    t.srowdot = kernels::avx2::srowdot();
    t.drowdot = kernels::avx2::drowdot();
    t.swinograd = kernels::avx2::swinograd();
    t.dwinograd = kernels::avx2::dwinograd();
    t.peak = kernels::avx2::peak();
  }
#endif
#if defined(FASTCONV_HAVE_AVX512)
  if (t.isa >= Isa::Avx512) {
    t.sgemm = kernels::avx512::sgemm();
    t.dgemm = kernels::avx512::dgemm();
    t.sgemm8 = kernels::avx512::sgemm8();
    t.dgemm8 = kernels::avx512::dgemm8();
    t.srowdot = kernels::avx512::srowdot();
    t.drowdot = kernels::avx512::drowdot();
    t.sgemm.run_indirect_quarter = kernels::avx2::sgemm().run_indirect_narrow;
    t.dgemm.run_indirect_quarter = kernels::avx2::dgemm().run_indirect_narrow;
    // Depthwise planes keep AVX2's kernels. The zmm versions of the same kernels ran slower on
    // the AVX-512 CPU measured (AMD Zen 4, which splits 512-bit operations into two halves):
    // 5-20% in 7 of MobileNet-v2's 10 depthwise benchmarks, and a 56-wide row is 3.5 zmm
    // registers but 7 whole ymm ones.
    t.swinograd = kernels::avx512::swinograd();
    t.dwinograd = kernels::avx512::dwinograd();
    t.peak = kernels::avx512::peak();
  }
#endif
  return t;
}

}  // namespace

const KernelTable& kernel_table() noexcept {
  static const KernelTable table = fill();
  return table;
}

Isa active_isa() noexcept { return kernel_table().isa; }

}  // namespace fastconv
