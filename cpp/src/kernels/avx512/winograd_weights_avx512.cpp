// The Winograd weight transform and its inverse (the weight gradient's) over 16 filters side by
// side, for AVX-512 CPUs: AVX2's kernel (8 filters, an 8x8 register transpose) took 30% of
// ResNet-18 layer4's forward at batch 1, whose 9.4 MB of weights the fused GEMM transforms on
// every call. Here each register holds
// two filters' taps 0-7 (filter t and t + 8), so that one transpose sorts 16 filters. No
// prefetches, unlike AVX2's: these, two calls on, made layer4's input gradient 1.1x slower; in
// the fused GEMM, the next block's filters fetched during this block's products made its
// forward 1.1x slower, and into L1 two calls on no faster. Built with multiply-adds off,
// as AVX2's: the same operations on every lane, so the same bits.
#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "kernels/avx512/vec_avx512.hpp"
#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx512 {
constexpr int kLanes = 16;
#include "kernels/winograd_tiles.inl"

namespace {

#if !defined(FASTCONV_EMULATE_AVX512)
// r[q] lane l = filter l's tap q, from r[t] = taps 0-7 of filter t (lanes 0-7) and of filter
// t + 8 (lanes 8-15): AVX2's 8x8 transpose in each half, the last step a two-source permute
// that keeps the halves apart.
inline void transpose8x2(__m512* r) {
  const __m512 t0 = _mm512_unpacklo_ps(r[0], r[1]), t1 = _mm512_unpackhi_ps(r[0], r[1]);
  const __m512 t2 = _mm512_unpacklo_ps(r[2], r[3]), t3 = _mm512_unpackhi_ps(r[2], r[3]);
  const __m512 t4 = _mm512_unpacklo_ps(r[4], r[5]), t5 = _mm512_unpackhi_ps(r[4], r[5]);
  const __m512 t6 = _mm512_unpacklo_ps(r[6], r[7]), t7 = _mm512_unpackhi_ps(r[6], r[7]);
  const __m512 s0 = _mm512_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0)), s1 = _mm512_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m512 s2 = _mm512_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0)), s3 = _mm512_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m512 s4 = _mm512_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0)), s5 = _mm512_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m512 s6 = _mm512_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0)), s7 = _mm512_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  // 128-bit quarters: low = (a.q0, b.q0, a.q2, b.q2), high = (a.q1, b.q1, a.q3, b.q3)
  const __m512i low = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
  const __m512i high = _mm512_setr_epi32(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
  r[0] = _mm512_permutex2var_ps(s0, low, s4), r[1] = _mm512_permutex2var_ps(s1, low, s5);
  r[2] = _mm512_permutex2var_ps(s2, low, s6), r[3] = _mm512_permutex2var_ps(s3, low, s7);
  r[4] = _mm512_permutex2var_ps(s0, high, s4), r[5] = _mm512_permutex2var_ps(s1, high, s5);
  r[6] = _mm512_permutex2var_ps(s2, high, s6), r[7] = _mm512_permutex2var_ps(s3, high, s7);
}

// Filters t < count at w + t * stride (rot180 with kReversed): u[xi * point + t] = (G f_t G^T)[xi].
template <typename F, bool kReversed>
void weight_block(const float* w, std::int64_t stride, int count, float* u, std::int64_t point) noexcept {
  auto taps = [&](int t) { return t < count ? _mm256_loadu_ps(w + t * stride) : _mm256_setzero_ps(); };
  __m512 f[9];
  for (int t = 0; t < 8; ++t) f[t] = _mm512_insertf32x8(_mm512_castps256_ps512(taps(t)), taps(t + 8), 1);
  transpose8x2(f);
  // tap 8 gathered: built from scalars through the stack, it stalled this kernel on the vector
  // load that waits for the 16 stores (half its time)
  const __mmask16 lanes = first(count);
  if (stride <= std::numeric_limits<int>::max() / kLanes) {
    const __m512i at = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32(int(stride)));
    f[8] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, at, w + 8, 4);
  } else {
    alignas(64) float tap8[kLanes];
    for (int t = 0; t < kLanes; ++t) tap8[t] = t < count ? w[t * stride + 8] : 0.f;
    f[8] = _mm512_load_ps(tap8);
  }
  if (kReversed)
    for (int i = 0; i < 4; ++i) std::swap(f[i], f[8 - i]);
  weight_points<F, float>(f, [&](int xi, __m512 value) { store_first(u + xi * point, value, count); });
}

// The weight gradient's inverse: dW of pairs t < count (9 taps each, consecutive) from their
// sums at s + xi * point + t, the taps sorted back into rows by the same transpose.
template <typename F>
void weight_sums16(const float* s, std::int64_t point, int count, float* dw) noexcept {
  alignas(64) float in[F::kA * F::kA][kLanes], out[9][kLanes];
  for (int xi = 0; xi < F::kA * F::kA; ++xi) _mm512_store_ps(in[xi], load_first(s + xi * point, count));
  weight_sums<F, float>(in[0], out[0]);
  __m512 r[8];
  for (int tap = 0; tap < 8; ++tap) r[tap] = _mm512_load_ps(out[tap]);
  transpose8x2(r);  // r[t]: taps 0-7 of pair t (low half) and of pair t + 8 (high half)
  for (int t = 0; t < 8; ++t) {
    if (t < count) _mm256_storeu_ps(dw + t * 9, _mm512_castps512_ps256(r[t]));
    if (t + 8 < count) _mm256_storeu_ps(dw + (t + 8) * 9, _mm512_extractf32x8_ps(r[t], 1));
  }
  for (int t = 0; t < count; ++t) dw[t * 9 + 8] = out[8][t];
}

template <typename F>
void weights16(const float* w, std::int64_t stride, int count, bool reversed, float* u, std::int64_t point) noexcept {
  return reversed ? weight_block<F, true>(w, stride, count, u, point) : weight_block<F, false>(w, stride, count, u, point);
}
#endif

}  // namespace

void add_wide_weights(WinogradFamily<float>& family) {
#if !defined(FASTCONV_EMULATE_AVX512)
  for (WinogradKernels<float>* k : {&family.f2, &family.f2_wide})
    k->weights_wide = weights16<F2>, k->weights_t_wide = weight_sums16<F2>;
  for (WinogradKernels<float>* k : {&family.f4, &family.f4_wide})
    k->weights_wide = weights16<F4>, k->weights_t_wide = weight_sums16<F4>;
  for (WinogradKernels<float>* k : {&family.f6, &family.f6_wide})
    k->weights_wide = weights16<F6>, k->weights_t_wide = weight_sums16<F6>;
#else
  (void)family;
#endif
}

}  // namespace fastconv::kernels::avx512
