#pragma once
// One AVX-512 register of T, so that the shared x86 GEMM kernels (gemm_6x2v.inl) compile for
// AVX-512. Included only by files built with the AVX-512 flags. (AVX2's own Vec is
// not reused for the sums: its inline functions, compiled here with AVX-512 flags, could be the
// copy the linker keeps for the AVX2 files too.)
//
// FASTCONV_EMULATE_AVX512 (a development build, never shipped) makes each register two AVX2
// registers instead, so that the AVX-512 kernels' logic runs and is tested on AVX2 machines.
#include <immintrin.h>

#include <cstdint>

namespace fastconv::kernels::avx512 {

constexpr int kVectorRegisters = 32;  // zmm0-31 (emulated: twice as many ymm, spilled)

template <typename T>
struct Vec;

// The lanes of h (the two halves of a register, added), in the order AVX2's sums use; the real
// and the emulated registers both end here, so they reduce alike.
inline float sum_lanes(__m256 h) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
inline double sum_lanes(__m256d h) {
  const __m128d s = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

// Half a register (ymm): the row dot kernels' narrow variant. Masked by AVX-512VL's loads, or in
// the emulated build by AVX2's, whose halves the emulated registers' masked loads are.
template <typename T>
struct HalfVec;

template <>
struct HalfVec<float> {
  using type = __m256;
  static constexpr int width = 8;
  static type zero() { return _mm256_setzero_ps(); }
  static type load(const float* p) { return _mm256_loadu_ps(p); }
  static type fma(type a, type b, type c) { return _mm256_fmadd_ps(a, b, c); }
  static void store(float* p, type v) { _mm256_storeu_ps(p, v); }
#if !defined(FASTCONV_EMULATE_AVX512)
  using mask_type = __mmask8;
  static mask_type first(int n) { return mask_type((1u << n) - 1); }
  static type load(const float* p, mask_type m) { return _mm256_maskz_loadu_ps(m, p); }
#else
  using mask_type = __m256i;  // lanes 0..7 of n lanes (n may pass 8 or be negative)
  static mask_type first(int n) { return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)); }
  static type load(const float* p, mask_type m) { return _mm256_maskload_ps(p, m); }
#endif
};

template <>
struct HalfVec<double> {
  using type = __m256d;
  static constexpr int width = 4;
  static type zero() { return _mm256_setzero_pd(); }
  static type load(const double* p) { return _mm256_loadu_pd(p); }
  static type fma(type a, type b, type c) { return _mm256_fmadd_pd(a, b, c); }
  static void store(double* p, type v) { _mm256_storeu_pd(p, v); }
#if !defined(FASTCONV_EMULATE_AVX512)
  using mask_type = __mmask8;
  static mask_type first(int n) { return mask_type((1u << n) - 1); }
  static type load(const double* p, mask_type m) { return _mm256_maskz_loadu_pd(m, p); }
#else
  using mask_type = __m256i;
  static mask_type first(int n) { return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3)); }
  static type load(const double* p, mask_type m) { return _mm256_maskload_pd(p, m); }
#endif
};

#if !defined(FASTCONV_EMULATE_AVX512)

template <>
struct Vec<float> {
  using type = __m512;
  using mask_type = __mmask16;
  static constexpr int width = 16;
  // The first n lanes (0 < n <= width); masked-off lanes are not read and load as zero.
  static mask_type first(int n) { return mask_type((1u << n) - 1); }
  // Lanes [lo, hi), 0 <= lo <= hi <= width.
  static mask_type between(int lo, int hi) { return mask_type(first(hi) & ~first(lo)); }
  static type load(const float* p, mask_type m) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(float* p, mask_type m, type v) { _mm512_mask_storeu_ps(p, m, v); }
  static type zero() { return _mm512_setzero_ps(); }
  static type load(const float* p) { return _mm512_loadu_ps(p); }
  static type broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static type set1(float v) { return _mm512_set1_ps(v); }
  static type fma(type a, type b, type c) { return _mm512_fmadd_ps(a, b, c); }
  static type add(type a, type b) { return _mm512_add_ps(a, b); }
  static type sub(type a, type b) { return _mm512_sub_ps(a, b); }
  static void store(float* p, type v) { _mm512_storeu_ps(p, v); }
  static float sum(type v) { return sum_lanes(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1))); }
};

template <>
struct Vec<double> {
  using type = __m512d;
  using mask_type = __mmask8;
  static constexpr int width = 8;
  static mask_type first(int n) { return mask_type((1u << n) - 1); }
  static mask_type between(int lo, int hi) { return mask_type(first(hi) & ~first(lo)); }
  static type load(const double* p, mask_type m) { return _mm512_maskz_loadu_pd(m, p); }
  static void store(double* p, mask_type m, type v) { _mm512_mask_storeu_pd(p, m, v); }
  static type zero() { return _mm512_setzero_pd(); }
  static type load(const double* p) { return _mm512_loadu_pd(p); }
  static type broadcast(const double* p) { return _mm512_set1_pd(*p); }
  static type set1(double v) { return _mm512_set1_pd(v); }
  static type fma(type a, type b, type c) { return _mm512_fmadd_pd(a, b, c); }
  static type add(type a, type b) { return _mm512_add_pd(a, b); }
  static type sub(type a, type b) { return _mm512_sub_pd(a, b); }
  static void store(double* p, type v) { _mm512_storeu_pd(p, v); }
  static double sum(type v) { return sum_lanes(_mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd(v, 1))); }
};

// The first n lanes of a float register (0 < n <= 16), stored, or loaded with zeros past them
// (none read): the Winograd kernels' last, partly empty blocks.
inline __mmask16 first(int n) { return __mmask16((1u << n) - 1); }
inline void store_first(float* dst, __m512 v, int count) {
  if (count == 16) return _mm512_storeu_ps(dst, v);
  _mm512_mask_storeu_ps(dst, first(count), v);
}
inline __m512 load_first(const float* p, std::int64_t n) {
  if (n >= 16) return _mm512_loadu_ps(p);
  return n > 0 ? _mm512_maskz_loadu_ps(first(int(n)), p) : _mm512_setzero_ps();
}

#else  // two AVX2 registers per AVX-512 one, lanes 0..width/2-1 in lo

template <int kWidth>
struct EmulatedBase {
  static constexpr int width = kWidth;
  struct mask_type {
    __m256i lo, hi;
  };
  static mask_type andnot(mask_type a, mask_type b) {  // b and not a
    return {_mm256_andnot_si256(a.lo, b.lo), _mm256_andnot_si256(a.hi, b.hi)};
  }
};

struct EmulatedFloat : EmulatedBase<16> {
  struct type {
    __m256 lo, hi;
  };
  static type zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
  static mask_type first(int n) { return {HalfVec<float>::first(n), HalfVec<float>::first(n - 8)}; }
  static mask_type between(int lo, int hi) { return andnot(first(lo), first(hi)); }
  static type load(const float* p, mask_type m) { return {HalfVec<float>::load(p, m.lo), HalfVec<float>::load(p + 8, m.hi)}; }
  static void store(float* p, mask_type m, type v) {
    _mm256_maskstore_ps(p, m.lo, v.lo), _mm256_maskstore_ps(p + 8, m.hi, v.hi);
  }
  static type load(const float* p) { return {_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
  static type broadcast(const float* p) { return {_mm256_set1_ps(*p), _mm256_set1_ps(*p)}; }
  static type set1(float v) { return {_mm256_set1_ps(v), _mm256_set1_ps(v)}; }
  static type fma(type a, type b, type c) { return {_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)}; }
  static type add(type a, type b) { return {_mm256_add_ps(a.lo, b.lo), _mm256_add_ps(a.hi, b.hi)}; }
  static type sub(type a, type b) { return {_mm256_sub_ps(a.lo, b.lo), _mm256_sub_ps(a.hi, b.hi)}; }
  static void store(float* p, type v) { _mm256_storeu_ps(p, v.lo), _mm256_storeu_ps(p + 8, v.hi); }
  static float sum(type v) { return sum_lanes(_mm256_add_ps(v.lo, v.hi)); }
};

struct EmulatedDouble : EmulatedBase<8> {
  struct type {
    __m256d lo, hi;
  };
  static type zero() { return {_mm256_setzero_pd(), _mm256_setzero_pd()}; }
  static mask_type first(int n) { return {HalfVec<double>::first(n), HalfVec<double>::first(n - 4)}; }
  static mask_type between(int lo, int hi) { return andnot(first(lo), first(hi)); }
  static type load(const double* p, mask_type m) { return {HalfVec<double>::load(p, m.lo), HalfVec<double>::load(p + 4, m.hi)}; }
  static void store(double* p, mask_type m, type v) {
    _mm256_maskstore_pd(p, m.lo, v.lo), _mm256_maskstore_pd(p + 4, m.hi, v.hi);
  }
  static type load(const double* p) { return {_mm256_loadu_pd(p), _mm256_loadu_pd(p + 4)}; }
  static type broadcast(const double* p) { return {_mm256_set1_pd(*p), _mm256_set1_pd(*p)}; }
  static type set1(double v) { return {_mm256_set1_pd(v), _mm256_set1_pd(v)}; }
  static type fma(type a, type b, type c) { return {_mm256_fmadd_pd(a.lo, b.lo, c.lo), _mm256_fmadd_pd(a.hi, b.hi, c.hi)}; }
  static type add(type a, type b) { return {_mm256_add_pd(a.lo, b.lo), _mm256_add_pd(a.hi, b.hi)}; }
  static type sub(type a, type b) { return {_mm256_sub_pd(a.lo, b.lo), _mm256_sub_pd(a.hi, b.hi)}; }
  static void store(double* p, type v) { _mm256_storeu_pd(p, v.lo), _mm256_storeu_pd(p + 4, v.hi); }
  static double sum(type v) { return sum_lanes(_mm256_add_pd(v.lo, v.hi)); }
};

template <>
struct Vec<float> : EmulatedFloat {};
template <>
struct Vec<double> : EmulatedDouble {};

#endif

}  // namespace fastconv::kernels::avx512
