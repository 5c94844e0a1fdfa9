// Winograd transforms compiled with -mavx2 -mfma: the loops of winograd_tiles.inl, a tile per
// lane of 8, and for F(4x4) float input and output transforms that load and store patch rows
// whole and transpose them in registers, instead of gathering and scattering each element.
#include <immintrin.h>

#include <algorithm>
#include <limits>

#include "kernels/avx2/vec_avx2.hpp"
#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx2 {
constexpr int kLanes = 8;  // a ymm register of floats
#include "kernels/transpose_avx2.inl"
#include "kernels/winograd_tiles.inl"
#include "kernels/winograd_f4_passes.inl"

namespace {

constexpr int kA = F4::kA, kM = F4::kM;
using V = Vec<float>;

// The first count lanes of v at dst, in up to three stores (masked stores are slow on AMD CPUs).
inline void store_first(float* dst, __m256 v, int count) {
  if (count == kLanes) return _mm256_storeu_ps(dst, v);
  __m128 part = _mm256_castps256_ps128(v);
  if (count >= 4) {
    _mm_storeu_ps(dst, part);
    part = _mm256_extractf128_ps(v, 1), dst += 4, count -= 4;
  }
  if (count >= 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(dst), part);
    part = _mm_movehl_ps(part, part), dst += 2, count -= 2;
  }
  if (count > 0) _mm_store_ss(dst, part);
}

// Columns j, j+1 (and j+2, j+3 when all four are wanted) of 8 patches whose rows start 4 apart,
// the last four `second` further (pair: the tile row below): lane t of col[c] = row[4t + j + c].
// Eight 4-float groups are transposed, ordered so that the lanes come out in tile order.
inline void columns(const float* row, std::int64_t second, int wanted, __m256* col) {
  const __m256 a0 = _mm256_loadu_ps(row), a1 = _mm256_loadu_ps(row + 8), a2 = _mm256_loadu_ps(row + second + 16),
               a3 = _mm256_loadu_ps(row + second + 24);
  const __m256 p0 = _mm256_permute2f128_ps(a0, a2, 0x20), p1 = _mm256_permute2f128_ps(a0, a2, 0x31);  // s0|s4, s1|s5
  const __m256 p2 = _mm256_permute2f128_ps(a1, a3, 0x20), p3 = _mm256_permute2f128_ps(a1, a3, 0x31);  // s2|s6, s3|s7
  const __m256 lo01 = _mm256_unpacklo_ps(p0, p1), lo23 = _mm256_unpacklo_ps(p2, p3);
  col[0] = _mm256_shuffle_ps(lo01, lo23, _MM_SHUFFLE(1, 0, 1, 0));
  col[1] = _mm256_shuffle_ps(lo01, lo23, _MM_SHUFFLE(3, 2, 3, 2));
  if (wanted < 4) return;
  const __m256 hi01 = _mm256_unpackhi_ps(p0, p1), hi23 = _mm256_unpackhi_ps(p2, p3);
  col[2] = _mm256_shuffle_ps(hi01, hi23, _MM_SHUFFLE(1, 0, 1, 0));
  col[3] = _mm256_shuffle_ps(hi01, hi23, _MM_SHUFFLE(3, 2, 3, 2));
}

// The input transform of winograd_tiles.inl's input_block, for float: V = B^T (d B), each patch row
// transformed as it is loaded, then each column.
void input_block_f32(const float* padded, std::int64_t ld, std::int64_t y0, std::int64_t x0, int count,
                     int block_rows, float* v, std::int64_t xi_stride) noexcept {
  const bool pair = block_rows == 2;
  __m256 rows[kA][kA];  // rows[i][nu]: row i of the patches times B
  const std::int64_t second = pair ? kM * ld - 16 : 0;  // lanes 4-7: the tile row below, not 16 columns on
  for (int i = 0; i < kA; ++i) {
    const float* row = padded + (y0 + i) * ld + x0;
    __m256 d[kA];
    columns(row, second, 4, d);
    columns(row + 4, second, 2, d + 4);
    bt<V>(d, rows[i]);
  }
  for (int nu = 0; nu < kA; ++nu) {
    __m256 col[kA], out[kA];
    for (int i = 0; i < kA; ++i) col[i] = rows[i][nu];
    bt<V>(col, out);
    for (int xi = 0; xi < kA; ++xi) store_first(v + (xi * kA + nu) * xi_stride, out[xi], count);
  }
}

// The gradient transform of winograd_tiles.inl's gradient_block, for float: Z = A (dy A^T), each
// patch row loaded whole and transposed in registers like the input's. Blocks that would read
// outside the plane, or values outside it that their tiles use, go through a zeroed copy.
void gradient_block_f32(const float* plane, std::int64_t P, std::int64_t Q, std::int64_t oy, std::int64_t ox,
                        int count, int block_rows, float* z, std::int64_t xi_stride) noexcept {
  const bool pair = block_rows == 2;
  constexpr int kSpan = kLanes * kM;  // columns a block's loads cover, in one row or two of half
  const int per_row = pair ? kLanes / 2 : kLanes, rows = pair ? 2 * kM : kM;  // pair: lanes 4-7 load below
  const std::int64_t span = pair ? kSpan / 2 : kSpan;
  const std::int64_t wanted = kM * std::min(count, per_row), used = std::min(wanted, Q - ox);  // columns per row
  const float* src = plane + oy * Q + ox;
  std::int64_t ld = Q;
  alignas(32) float local[2 * kM][kSpan];
  if (oy + rows > P || used < wanted || (oy + rows - 1) * Q + ox + span > P * Q) {
    std::fill(&local[0][0], &local[0][0] + 2 * kM * kSpan, 0.f);
    for (int r = 0; r < rows && oy + r < P; ++r) std::copy(src + r * Q, src + r * Q + used, local[r]);
    src = &local[0][0], ld = kSpan;
  }
  const std::int64_t second = pair ? kM * ld - 16 : 0;  // lanes 4-7: the tile row below, not 16 columns on
  __m256 rows_a[kM][kA];  // rows_a[i][nu]: row i of the patches times A^T
  for (int i = 0; i < kM; ++i) {
    __m256 d[kM];
    columns(src + i * ld, second, 4, d);
    a<V>(d, rows_a[i]);
  }
  for (int nu = 0; nu < kA; ++nu) {
    __m256 col[kM], out[kA];
    for (int i = 0; i < kM; ++i) col[i] = rows_a[i][nu];
    a<V>(col, out);
    for (int xi = 0; xi < kA; ++xi) store_first(z + (xi * kA + nu) * xi_stride, out[xi], count);
  }
}

// The output transform of winograd_tiles.inl's output_block, for float: y = A^T M A + bias, each
// output row of the 8 tiles interleaved in registers into 32 consecutive values.
void output_block_f32(const float* m, std::int64_t xi_stride, int count, int block_rows, float bias, float* plane,
                      std::int64_t P, std::int64_t Q, std::int64_t oy, std::int64_t ox) noexcept {
  const bool pair = block_rows == 2;
  __m256 cols[kA][kM];  // cols[nu][i]: column nu of A^T M
  const __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (int nu = 0; nu < kA; ++nu) {
    __m256 mm[kA];
    for (int xi = 0; xi < kA; ++xi) {
      const float* src = m + (xi * kA + nu) * xi_stride;
      mm[xi] = count == kLanes ? _mm256_loadu_ps(src) : _mm256_maskload_ps(src, lanes);
    }
    at<V>(mm, cols[nu]);
  }
  // pair: lanes 4-7 (out[2], out[3] below) go 4 rows down instead of 16 columns on
  const int per_row = pair ? kLanes / 2 : kLanes, halves = pair && count > per_row ? 2 : 1;
  const std::int64_t width = std::min<std::int64_t>(kM * std::min(count, per_row), Q - ox);
  const __m256 b = _mm256_set1_ps(bias);
  for (std::int64_t i = 0; i < kM; ++i) {
    __m256 r[kA], c[kM];
    for (int nu = 0; nu < kA; ++nu) r[nu] = cols[nu][i];
    at<V>(r, c);  // c[j]: lane t is output (i, 4t + j)
    const __m256 lo01 = _mm256_unpacklo_ps(c[0], c[1]), hi01 = _mm256_unpackhi_ps(c[0], c[1]);
    const __m256 lo23 = _mm256_unpacklo_ps(c[2], c[3]), hi23 = _mm256_unpackhi_ps(c[2], c[3]);
    const __m256 q0 = _mm256_shuffle_ps(lo01, lo23, _MM_SHUFFLE(1, 0, 1, 0));  // tiles 0 | 4
    const __m256 q1 = _mm256_shuffle_ps(lo01, lo23, _MM_SHUFFLE(3, 2, 3, 2));  // tiles 1 | 5
    const __m256 q2 = _mm256_shuffle_ps(hi01, hi23, _MM_SHUFFLE(1, 0, 1, 0));  // tiles 2 | 6
    const __m256 q3 = _mm256_shuffle_ps(hi01, hi23, _MM_SHUFFLE(3, 2, 3, 2));  // tiles 3 | 7
    const __m256 out[4] = {_mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x20), b),
                           _mm256_add_ps(_mm256_permute2f128_ps(q2, q3, 0x20), b),
                           _mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x31), b),
                           _mm256_add_ps(_mm256_permute2f128_ps(q2, q3, 0x31), b)};
    for (int h = 0; h < halves; ++h) {
      const std::int64_t y = oy + h * kM + i;
      if (y >= P) continue;
      float* dst = plane + y * Q + ox;
      const __m256* src = out + h * 2;
      std::int64_t col = 0;
      for (int q = 0; col + 8 <= width; ++q, col += 8) _mm256_storeu_ps(dst + col, src[q]);
      if (col < width) store_first(dst + col, src[col / 8], int(width - col));
    }
  }
}

// Prefetches the filters two calls ahead, if they go on at this stride (as along a row of the
// forward's weights, or down the input gradient's): these stream from memory.
inline void prefetch_filters(const float* w, std::int64_t stride) {
  const float* ahead = w + 2 * kLanes * stride;
  for (int t = 0; t < kLanes; ++t) {
    _mm_prefetch(reinterpret_cast<const char*>(ahead + t * stride), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(ahead + t * stride + 8), _MM_HINT_T0);
  }
}

// The weight transform of 8 whole filters, every call's case but a row's last: no lane checks,
// tap 8 from scalars, and rot180 chosen at compile time. The masked gather and the run-time
// swap (which went through the stack) took 15% of this kernel's time on Zen 4.
template <typename F, bool kReversed>
void weight_block_full(const float* w, std::int64_t stride, float* u, std::int64_t point) noexcept {
  prefetch_filters(w, stride);
  __m256 f[9];
  for (int t = 0; t < kLanes; ++t) f[t] = _mm256_loadu_ps(w + t * stride);
  transpose8(f);  // f[i] lane t: tap i of filter t
  f[8] = _mm256_setr_ps(w[8], w[stride + 8], w[2 * stride + 8], w[3 * stride + 8], w[4 * stride + 8],
                        w[5 * stride + 8], w[6 * stride + 8], w[7 * stride + 8]);
  if (kReversed)
    for (int i = 0; i < 4; ++i) std::swap(f[i], f[8 - i]);
  weight_points<F, float>(f, [&](int xi, __m256 value) { _mm256_storeu_ps(u + xi * point, value); });
}

// The weight transform, 8 filters side by side in registers: their taps read 8 at a time and
// transposed (tap 8 one by one), each point stored as a vector. Fewer than 8 (the panels of 6
// filters that the unfused transform writes) take the general path below.
template <typename F>
void weight_block_f32(const float* w, std::int64_t stride, int count, bool reversed, float* u,
                      std::int64_t point) noexcept {
  if (count == kLanes)
    return reversed ? weight_block_full<F, true>(w, stride, u, point) : weight_block_full<F, false>(w, stride, u, point);
  prefetch_filters(w, stride);
  __m256 r[kLanes];
  for (int t = 0; t < kLanes; ++t) r[t] = t < count ? _mm256_loadu_ps(w + t * stride) : _mm256_setzero_ps();
  transpose8(r);  // r[i] lane t: tap i of filter t
  // tap 8 gathered (built from scalars, the compiler goes through memory and stalls), with
  // 32-bit offsets where they fit
  const __m256i t = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256 last;
  if (stride <= std::numeric_limits<int>::max() / kLanes) {
    last = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), w + 8, _mm256_mullo_epi32(t, _mm256_set1_epi32(int(stride))),
                                    _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(count), t)), 4);
  } else {
    alignas(32) float tap8[kLanes];
    for (int i = 0; i < kLanes; ++i) tap8[i] = i < count ? w[i * stride + 8] : 0.f;
    last = _mm256_load_ps(tap8);
  }
  __m256 f[9] = {r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], last};
  if (reversed)  // rot180
    for (int i = 0; i < 4; ++i) std::swap(f[i], f[8 - i]);
  weight_points<F, float>(f, [&](int xi, __m256 value) { store_first(u + xi * point, value, count); });
}

// The weight gradient's inverse transform, the sums loaded as vectors and dW's filters (9 taps
// each, consecutive) written as rows of a register transpose, instead of scalar moves.
template <typename F>
void weight_gradient_block_f32(const float* s, std::int64_t point, int count, float* dw) noexcept {
  const __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  alignas(32) float in[F::kA * F::kA][kLanes], out[9][kLanes];
  for (int xi = 0; xi < F::kA * F::kA; ++xi)
    _mm256_store_ps(in[xi], count == kLanes ? _mm256_loadu_ps(s + xi * point) : _mm256_maskload_ps(s + xi * point, lanes));
  weight_sums<F, float>(in[0], out[0]);
  __m256 r[kLanes];
  for (int tap = 0; tap < 8; ++tap) r[tap] = _mm256_load_ps(out[tap]);
  transpose8(r);  // r[t]: taps 0-7 of filter t
  for (int t = 0; t < count; ++t) {
    _mm256_storeu_ps(dw + t * 9, r[t]);
    dw[t * 9 + 8] = out[8][t];
  }
}

template <typename F>
WinogradKernels<float> float_kernels(const char* name) {
  WinogradKernels<float> k = winograd_kernels<F, float>(name);
  k.weights = weight_block_f32<F>;
  k.weights_t = weight_gradient_block_f32<F>;
  return k;
}

}  // namespace

WinogradFamily<float> swinograd() {
  WinogradKernels<float> f4 = float_kernels<F4>("f4x4-avx2");
  f4.input = input_block_f32;
  f4.output = output_block_f32;
  f4.gradient = gradient_block_f32;
  return {float_kernels<F2>("f2x2-avx2"), f4, float_kernels<F6>("f6x6-avx2")};
}
WinogradFamily<double> dwinograd() {
  return {winograd_kernels<F2, double>("f2x2-avx2"), winograd_kernels<F4, double>("f4x4-avx2"),
          winograd_kernels<F6, double>("f6x6-avx2")};
}

}  // namespace fastconv::kernels::avx2
