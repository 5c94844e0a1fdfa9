// AVX2+FMA depthwise plane kernels, the stride-2 row split, and float32 channel blocks.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/avx2/vec_avx2.hpp"
#include "kernels/kernels.hpp"
#include "prefetch.hpp"

namespace fastconv::kernels::avx2 {
#include "kernels/depthwise_vec.inl"
#include "kernels/transpose_avx2.inl"

namespace {

// Two vectors of pairs, shuffled into evens and odds within each 128-bit half, then the halves'
// 64-bit pieces put in order: a third of the time of the baseline's two 4-wide gathers, one per
// phase, on 56-wide rows.
// The rest of a row goes 4 pairs at a time in 128-bit registers, then one by one.
void split_rows_f32(const float* src, std::int64_t src_ld, std::int64_t rows, std::int64_t pairs, float* even,
                    float* odd, std::int64_t ld) noexcept {
  for (std::int64_t i = 0; i < rows; ++i, src += src_ld, even += ld, odd += ld) {
    prefetch_range<2>(src + rows * src_ld, std::size_t(2 * pairs) * sizeof(float));
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
    prefetch_range<2>(src + rows * src_ld, std::size_t(2 * pairs) * sizeof(double));
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

// The block kernels for 8 float channels: their planes transposed into the padded block 8 pixels
// at a time; then each output row 8 pixels at a time, a tap's weights a vector and each pixel's
// sum a vector of channels, transposed back into the channels' rows in registers (block_rows),
// or dY's rows transposed the same way and multiplied into each tap's sums (block_sums).

// Lanes past count repeat the last channel, and are not stored.
void to_block(const DepthwiseBlock& g, const float* x, std::int64_t x_plane, int count, float* work,
              bool clear) noexcept {
  constexpr int L = 8;
  const float* planes[L];
  for (int l = 0; l < L; ++l) planes[l] = x + std::min(l, count - 1) * x_plane;
  if (clear) std::fill(work, work + g.hp * g.wp * L, 0.f);  // the padding, never written after
  // only the columns some output reads: the weight gradient multiplies the others by zero, which
  // must not meet x's infinities
  const std::int64_t rows = std::min(g.H, g.hp - g.pt);
  const std::int64_t cols = std::min(g.W, (g.Q - 1) * g.sw + (g.S - 1) * g.dw + 1 - g.pl);
  if (g.step != 1) {  // channels-last: each pixel's channels side by side already (lanes past count zero)
    // each pixel a cache line of its own: fetched ahead, 56x56 planes 4.75 -> 4.48 ms
    const __m256i m = Vec<float>::first(count);
    for (std::int64_t i = 0; i < rows; ++i) {
      const float* src = x + i * g.W * g.step;
      float* dst = work + ((i + g.pt) * g.wp + g.pl) * L;
      for (std::int64_t j = 0; j < cols; ++j) {
        _mm_prefetch(reinterpret_cast<const char*>(src + (j + 16) * g.step), _MM_HINT_T0);
        const float* p = src + j * g.step;
        _mm256_store_ps(dst + j * L, count == L ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m));
      }
    }
    return;
  }
  for (std::int64_t i = 0; i < rows; ++i) {
    float* dst = work + ((i + g.pt) * g.wp + g.pl) * L;
    for (std::int64_t j = 0; j < cols; j += L) {
      const int n = int(std::min<std::int64_t>(L, cols - j));  // the row's last columns, masked
      const __m256i m = Vec<float>::first(n);
      __m256 r[L];
      for (int l = 0; l < L; ++l)
        r[l] = n == L ? _mm256_loadu_ps(planes[l] + i * g.W + j) : _mm256_maskload_ps(planes[l] + i * g.W + j, m);
      transpose8(r);
      // all 8: the masked lanes are zero, which is what the padding after the row holds, and
      // rows below are written later (a loop to n became a call to memcpy)
      for (int t = 0; t < L; ++t) _mm256_store_ps(dst + (j + t) * L, r[t]);
    }
  }
}

// The block's output rows, 8 pixels at a time, from its padded pixels; S columns of taps (0:
// g.S, known only at run time).
template <int S>
void block_rows(const DepthwiseBlock& g, const float* wb, const float* b, int count, float* y, std::int64_t y_plane,
                const float* work) noexcept {
  constexpr int L = 8;
  const std::int64_t cols = S > 0 ? S : g.S, step = g.sw * L;
  const bool unit = g.sw == 1 && g.dw == 1;
  const __m256 bv = _mm256_load_ps(b);
  for (std::int64_t oh = 0; oh < g.P; ++oh)
    for (std::int64_t ow = 0; ow < g.Q; ow += L) {
      __m256 acc[L];
      for (int t = 0; t < L; ++t) acc[t] = bv;
      for (std::int64_t r = 0; r < g.R; ++r) {
        const float* row = work + ((oh * g.sh + r * g.dh) * g.wp + ow * g.sw) * L;
        if (S > 0 && unit) {
          // each of the row's L + S - 1 pixels loaded once, for the S outputs that read it: the
          // loads, one per multiply-add, had been as many as the two ports take
          __m256 wv[S > 0 ? S : 1];
          for (int s = 0; s < S; ++s) wv[s] = _mm256_load_ps(wb + (r * S + s) * L);
          for (int p = 0; p < L + S - 1; ++p) {
            const __m256 v = _mm256_load_ps(row + p * L);
            for (int s = 0; s < S; ++s)
              if (p - s >= 0 && p - s < L) acc[p - s] = _mm256_fmadd_ps(wv[s], v, acc[p - s]);
          }
          continue;
        }
        for (std::int64_t s = 0; s < cols; ++s) {
          const __m256 wv = _mm256_load_ps(wb + (r * cols + s) * L);
          const float* src = row + s * g.dw * L;
          for (int t = 0; t < L; ++t) acc[t] = _mm256_fmadd_ps(wv, _mm256_load_ps(src + t * step), acc[t]);
        }
      }
      transpose8(acc);  // acc[l]: channel l's 8 pixels
      // A row's last, partial vector is stored whole where the lanes past it fall on later rows,
      // which are stored after it, and not past the plane; else in pieces.
      const int n = (oh * g.Q + ow + L <= g.P * g.Q) ? L : int(std::min<std::int64_t>(L, g.Q - ow));
      for (int l = 0; l < count; ++l) {
        float* dst = y + l * y_plane + oh * g.Q + ow;
        if (n == L) _mm256_storeu_ps(dst, acc[l]);
        else store_first<float>(dst, acc[l], n);
      }
    }
}

// acc[l * R * S + tap] += the sum over the output pixels of what the tap reads times dY, in
// float over runs of whole rows of about kFloatSumPixels pixels, pixel by pixel in order, the
// runs' sums added in double in order.
constexpr std::int64_t kFloatSumPixels = 64;
template <int S>
void block_sums(const DepthwiseBlock& g, const float* dy, std::int64_t dy_plane, int count, double* acc,
                const float* work) noexcept {
  constexpr int L = 8;
  const std::int64_t cols = S > 0 ? S : g.S, taps = g.R * cols, step = g.sw * L;
  const bool unit = g.sw == 1 && g.dw == 1;
  const float* planes[L];  // lanes past count read the last channel's dY, and are not added
  for (int l = 0; l < L; ++l) planes[l] = dy + std::min(l, count - 1) * dy_plane;
  alignas(32) float sums[kMaxBlockTaps * L];
  alignas(32) double rows[kMaxBlockTaps * L];  // the rows' sums, lanes side by side
  std::fill(rows, rows + taps * L, 0.0);
  const std::int64_t run = std::max<std::int64_t>(1, kFloatSumPixels / g.Q);  // rows summed in float
  for (std::int64_t oh = 0; oh < g.P; ++oh) {
    if (oh % run == 0) std::fill(sums, sums + taps * L, 0.f);
    for (std::int64_t ow = 0; ow < g.Q; ow += L) {
      const int n = int(std::min<std::int64_t>(L, g.Q - ow));  // pixels past the row's end: zero
      const __m256i m = Vec<float>::first(n);
      __m256 d[L];
      for (int l = 0; l < L; ++l)
        d[l] = n == L ? _mm256_loadu_ps(planes[l] + oh * g.Q + ow) : _mm256_maskload_ps(planes[l] + oh * g.Q + ow, m);
      transpose8(d);  // d[t]: pixel t's channels
      for (std::int64_t r = 0; r < g.R; ++r) {
        const float* row = work + ((oh * g.sh + r * g.dh) * g.wp + ow * g.sw) * L;
        float* sr = sums + r * cols * L;
        if (S > 0 && unit) {  // each padded pixel loaded once, for the taps that read it
          __m256 a[S > 0 ? S : 1];
          for (int s = 0; s < S; ++s) a[s] = _mm256_load_ps(sr + s * L);
          for (int p = 0; p < L + S - 1; ++p) {
            const __m256 v = _mm256_load_ps(row + p * L);
            for (int s = S - 1; s >= 0; --s)  // pixel t = p - s, in order for each tap
              if (p - s >= 0 && p - s < L) a[s] = _mm256_fmadd_ps(v, d[p - s], a[s]);
          }
          for (int s = 0; s < S; ++s) _mm256_store_ps(sr + s * L, a[s]);
          continue;
        }
        for (std::int64_t s = 0; s < cols; ++s) {
          __m256 a = _mm256_load_ps(sr + s * L);
          const float* src = row + s * g.dw * L;
          for (int t = 0; t < L; ++t) a = _mm256_fmadd_ps(_mm256_load_ps(src + t * step), d[t], a);
          _mm256_store_ps(sr + s * L, a);
        }
      }
    }
    if ((oh + 1) % run != 0 && oh + 1 < g.P) continue;
    for (std::int64_t t = 0; t < taps * L; t += 4)
      _mm256_store_pd(rows + t, _mm256_add_pd(_mm256_load_pd(rows + t), _mm256_cvtps_pd(_mm_load_ps(sums + t))));
  }
  for (int l = 0; l < count; ++l)
    for (std::int64_t t = 0; t < taps; ++t) acc[l * taps + t] += rows[t * L + l];
}

void block_f32(const DepthwiseBlock& g, const float* x, std::int64_t x_plane, int count, const float* w,
               const float* bias, float* y, std::int64_t y_plane, float* work, bool clear) noexcept {
  constexpr int L = 8;
  alignas(32) float wb[kMaxBlockTaps * L], b[L];
  block_lane_weights<L>(w, bias, g.R * g.S, count, wb, b);
  to_block(g, x, x_plane, count, work, clear);
  if (g.S == 3) return block_rows<3>(g, wb, b, count, y, y_plane, work);
  if (g.S == 5) return block_rows<5>(g, wb, b, count, y, y_plane, work);
  block_rows<0>(g, wb, b, count, y, y_plane, work);
}

void block_weights_f32(const DepthwiseBlock& g, const float* x, std::int64_t x_plane, int count, const float* dy,
                       std::int64_t dy_plane, double* acc, float* work, bool clear) noexcept {
  to_block(g, x, x_plane, count, work, clear);
  if (g.S == 3) return block_sums<3>(g, dy, dy_plane, count, acc, work);
  if (g.S == 5) return block_sums<5>(g, dy, dy_plane, count, acc, work);
  block_sums<0>(g, dy, dy_plane, count, acc, work);
}
// Padded planes (DepthwiseKernels::pad_rows) of rows ld <= 2 * width long: each row of a small
// plane in two masked loads and stores, each padding row in two stores of zeros (masked-off
// lanes are not read, so nothing outside the source row is).
template <typename T>
void pad_rows(const T* src, std::int64_t src_ld, std::int64_t src_plane, std::int64_t planes, std::int64_t top,
              std::int64_t rows, std::int64_t bottom, std::int64_t lo, std::int64_t len, T* out,
              std::int64_t ld) noexcept {
  using V = Vec<T>;
  constexpr int W = V::width;
  const auto in0 = V::between(int(lo), int(lo + len)), in1 = V::between(int(lo) - W, int(lo + len) - W);
  const auto out0 = V::first(int(ld)), out1 = V::first(int(ld) - W);
  const auto zeros = [&](std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i, out += ld) V::store(out, out0, V::zero()), V::store(out + W, out1, V::zero());
  };
  for (std::int64_t p = 0; p < planes; ++p) {
    zeros(top);
    const T* in = src + p * src_plane - lo;
    for (std::int64_t i = 0; i < rows; ++i, in += src_ld, out += ld) {
      V::store(out, out0, V::load(in, in0));
      V::store(out + W, out1, V::load(in + W, in1));
    }
    zeros(bottom);
  }
}

}  // namespace

DepthwiseKernels<float> sdepthwise() {
  DepthwiseKernels<float> k = {forward_plane<float>, weights_plane<float>, split_rows_f32, "depthwise-avx2",
                               6 * Vec<float>::width, block_f32, block_weights_f32, 8};
  k.pad_rows = pad_rows<float>, k.pad_row_columns = 2 * Vec<float>::width;
  return k;
}

// No double blocks: the baseline build's block loops, built for AVX2, ran slower than these planes
// (batch 1, 384 x 14x14: forward 114-118 -> 157-164 us, weight gradient 100-102 -> 211-214 us).
DepthwiseKernels<double> ddepthwise() {
  DepthwiseKernels<double> k = {forward_plane<double>, weights_plane<double>, split_rows_f64, "depthwise-avx2",
                                6 * Vec<double>::width};
  k.pad_rows = pad_rows<double>, k.pad_row_columns = 2 * Vec<double>::width;
  return k;
}

}  // namespace fastconv::kernels::avx2
