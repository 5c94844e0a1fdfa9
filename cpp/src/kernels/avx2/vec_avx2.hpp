#pragma once
// One AVX2 register of T, so that a kernel is written once for float and double. Included only
// by files built with -mavx2 -mfma.
#include <immintrin.h>

namespace fastconv::kernels::avx2 {

constexpr int kVectorRegisters = 16;  // ymm0-15

template <typename T>
struct Vec;

template <>
struct Vec<float> {
  using type = __m256;
  using mask_type = __m256i;
  static constexpr int width = 8;
  static type zero() { return _mm256_setzero_ps(); }
  static type load(const float* p) { return _mm256_loadu_ps(p); }
  static type broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static type set1(float v) { return _mm256_set1_ps(v); }
  static type fma(type a, type b, type c) { return _mm256_fmadd_ps(a, b, c); }
  static type add(type a, type b) { return _mm256_add_ps(a, b); }
  static type sub(type a, type b) { return _mm256_sub_ps(a, b); }
  static void store(float* p, type v) { _mm256_storeu_ps(p, v); }
  // The first n lanes (0 <= n <= width); masked-off lanes are neither read nor written, and
  // load as zero.
  static mask_type first(int n) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
  // Lanes [lo, hi), 0 <= lo, hi <= width.
  static mask_type between(int lo, int hi) { return _mm256_andnot_si256(first(lo), first(hi)); }
  static type load(const float* p, mask_type m) { return _mm256_maskload_ps(p, m); }
  static void store(float* p, mask_type m, type v) { _mm256_maskstore_ps(p, m, v); }
  // ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)): a fixed order.
  static float sum(type v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
};

template <>
struct Vec<double> {
  using type = __m256d;
  using mask_type = __m256i;
  static constexpr int width = 4;
  static type zero() { return _mm256_setzero_pd(); }
  static type load(const double* p) { return _mm256_loadu_pd(p); }
  static type broadcast(const double* p) { return _mm256_broadcast_sd(p); }
  static type set1(double v) { return _mm256_set1_pd(v); }
  static type fma(type a, type b, type c) { return _mm256_fmadd_pd(a, b, c); }
  static type add(type a, type b) { return _mm256_add_pd(a, b); }
  static type sub(type a, type b) { return _mm256_sub_pd(a, b); }
  static void store(double* p, type v) { _mm256_storeu_pd(p, v); }
  static mask_type first(int n) { return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3)); }
  static mask_type between(int lo, int hi) { return _mm256_andnot_si256(first(lo), first(hi)); }
  static type load(const double* p, mask_type m) { return _mm256_maskload_pd(p, m); }
  static void store(double* p, mask_type m, type v) { _mm256_maskstore_pd(p, m, v); }
  static double sum(type v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
  }
};

}  // namespace fastconv::kernels::avx2
