// The FMA ceiling with AVX2: 10 independent chains of 8-float FMAs, enough to cover the FMA
// latency on two pipes. Built with -mavx2 -mfma.
#include <immintrin.h>

#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx2 {
namespace {

constexpr int kChains = 10;

float fma_loop(std::int64_t iterations, float seed) noexcept {
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  __m256 c0 = _mm256_set1_ps(seed), c1 = _mm256_add_ps(c0, b), c2 = _mm256_add_ps(c1, b),
         c3 = _mm256_add_ps(c2, b), c4 = _mm256_add_ps(c3, b), c5 = _mm256_add_ps(c4, b),
         c6 = _mm256_add_ps(c5, b), c7 = _mm256_add_ps(c6, b), c8 = _mm256_add_ps(c7, b),
         c9 = _mm256_add_ps(c8, b);
  for (std::int64_t it = 0; it < iterations; ++it) {
    c0 = _mm256_fmadd_ps(c0, a, b), c1 = _mm256_fmadd_ps(c1, a, b), c2 = _mm256_fmadd_ps(c2, a, b);
    c3 = _mm256_fmadd_ps(c3, a, b), c4 = _mm256_fmadd_ps(c4, a, b), c5 = _mm256_fmadd_ps(c5, a, b);
    c6 = _mm256_fmadd_ps(c6, a, b), c7 = _mm256_fmadd_ps(c7, a, b), c8 = _mm256_fmadd_ps(c8, a, b);
    c9 = _mm256_fmadd_ps(c9, a, b);
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                           _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
  s = _mm256_add_ps(s, _mm256_add_ps(c8, c9));
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

}  // namespace

PeakKernel peak() { return {fma_loop, 2 * kChains * 8}; }

}  // namespace fastconv::kernels::avx2
