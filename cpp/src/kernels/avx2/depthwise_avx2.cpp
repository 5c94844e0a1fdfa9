// AVX2+FMA depthwise plane kernels.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/avx2/vec_avx2.hpp"
#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx2 {
#include "kernels/depthwise_vec.inl"

namespace {

// Two vectors of pairs, shuffled into evens and odds within each 128-bit half, then the halves'
// 64-bit pieces put in order: a third of the time of the baseline's two 4-wide gathers, one per
// phase, on 56-wide rows.
// The rest of a row goes 4 pairs at a time in 128-bit registers, then one by one.
void split_rows_f32(const float* src, std::int64_t src_ld, std::int64_t rows, std::int64_t pairs, float* even,
                    float* odd, std::int64_t ld) noexcept {
  for (std::int64_t i = 0; i < rows; ++i, src += src_ld, even += ld, odd += ld) {
    std::int64_t k = 0;
    for (; k + 8 <= pairs; k += 8) {
      const __m256 a = _mm256_loadu_ps(src + 2 * k), b = _mm256_loadu_ps(src + 2 * k + 8);
      const __m256d e = _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), o = _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD));
      _mm256_storeu_ps(even + k, _mm256_castpd_ps(_mm256_permute4x64_pd(e, 0xD8)));
      _mm256_storeu_ps(odd + k, _mm256_castpd_ps(_mm256_permute4x64_pd(o, 0xD8)));
    }
    if (k + 4 <= pairs) {
      const __m128 a = _mm_loadu_ps(src + 2 * k), b = _mm_loadu_ps(src + 2 * k + 4);
      _mm_storeu_ps(even + k, _mm_shuffle_ps(a, b, 0x88));
      _mm_storeu_ps(odd + k, _mm_shuffle_ps(a, b, 0xDD));
      k += 4;
    }
    for (; k < pairs; ++k) even[k] = src[2 * k], odd[k] = src[2 * k + 1];
  }
}

void split_rows_f64(const double* src, std::int64_t src_ld, std::int64_t rows, std::int64_t pairs, double* even,
                    double* odd, std::int64_t ld) noexcept {
  for (std::int64_t i = 0; i < rows; ++i, src += src_ld, even += ld, odd += ld) {
    std::int64_t k = 0;
    for (; k + 4 <= pairs; k += 4) {
      const __m256d a = _mm256_loadu_pd(src + 2 * k), b = _mm256_loadu_pd(src + 2 * k + 4);
      _mm256_storeu_pd(even + k, _mm256_permute4x64_pd(_mm256_unpacklo_pd(a, b), 0xD8));
      _mm256_storeu_pd(odd + k, _mm256_permute4x64_pd(_mm256_unpackhi_pd(a, b), 0xD8));
    }
    if (k + 2 <= pairs) {
      const __m128d a = _mm_loadu_pd(src + 2 * k), b = _mm_loadu_pd(src + 2 * k + 2);
      _mm_storeu_pd(even + k, _mm_unpacklo_pd(a, b));
      _mm_storeu_pd(odd + k, _mm_unpackhi_pd(a, b));
      k += 2;
    }
    if (k < pairs) even[k] = src[2 * k], odd[k] = src[2 * k + 1];
  }
}

}  // namespace

DepthwiseKernels<float> sdepthwise() { return {forward_plane<float>, weights_plane<float>, split_rows_f32, "depthwise-avx2", 6 * Vec<float>::width}; }
DepthwiseKernels<double> ddepthwise() { return {forward_plane<double>, weights_plane<double>, split_rows_f64, "depthwise-avx2", 6 * Vec<double>::width}; }

}  // namespace fastconv::kernels::avx2
