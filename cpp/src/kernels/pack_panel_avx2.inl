// The float panel pack with AVX2 registers, for the x86 kernel files (AVX2 and AVX-512, whose
// CPUs all have AVX2), included inside their namespaces after pack_panel.inl.

#include "kernels/transpose_avx2.inl"

namespace {

// The panel pack for float: blocks of 8 rows x 8 columns transposed in registers, where the
// panel width holds whole blocks (the B panels, 16 or 32 wide) or at most one (the A panels, 6
// rows, and 8-wide panels of fewer rows: LeNet's 6 filters packed for a quarter-width entry,
// which went element by element); the rest as pack_panel_rows.
void pack_panel_f32(const float* src, std::int64_t ld, std::int64_t rows, std::int64_t kc, float* dst,
                    std::int64_t width) noexcept {
  if (width <= 8 && rows <= width) {  // each column stored 8 wide, its spill overwritten by the next
    std::int64_t p = 0;
    for (; p + 8 < kc; p += 8) {
      __m256 r[8];
      for (int q = 0; q < 8; ++q) r[q] = q < rows ? _mm256_loadu_ps(src + q * ld + p) : _mm256_setzero_ps();
      transpose8(r);
      for (int q = 0; q < 8; ++q) _mm256_storeu_ps(dst + (p + q) * width, r[q]);
    }
    return pack_panel_rows(src + p, ld, rows, kc - p, dst + p * width, width, 0);
  }
  std::int64_t i0 = 0;
  if (width % 8 == 0) {
    for (; i0 + 8 <= rows; i0 += 8) {
      const float* from = src + i0 * ld;
      std::int64_t p = 0;
      for (; p + 8 <= kc; p += 8) {
        __m256 r[8];
        for (int q = 0; q < 8; ++q) r[q] = _mm256_loadu_ps(from + q * ld + p);
        transpose8(r);
        for (int q = 0; q < 8; ++q) _mm256_storeu_ps(dst + (p + q) * width + i0, r[q]);
      }
      for (; p < kc; ++p)
        for (int q = 0; q < 8; ++q) dst[p * width + i0 + q] = from[q * ld + p];
    }
  }
  pack_panel_rows(src, ld, rows, kc, dst, width, i0);
}

// The inverse pack for float at steps 1 and 2: blocks of 8 rows x 8 columns transposed in
// registers, each column stored as 8 consecutive values or, at step 2, spread over the even lanes
// of two masked stores (the odd ones belong to the other column phase, perhaps another thread's).
// Element by element, these stores took half of ResNeXt-50 layer3.down's input gradient.
void unpack_panel_f32(const float* src, std::int64_t src_ld, std::int64_t rows, std::int64_t kc, float* dst,
                      std::int64_t ld, std::int64_t step) noexcept {
  if (step > 2) return unpack_panel_loops(src, src_ld, rows, kc, dst, ld, step);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i even = _mm256_setr_epi32(-1, 0, -1, 0, -1, 0, -1, 0);
  const __m256i low = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3), high = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
  for (std::int64_t i0 = 0; i0 < rows; i0 += 8) {
    const int n = int(std::min<std::int64_t>(8, rows - i0));  // rows of this block
    // the lanes each store writes: step 1, the first n; step 2, the even ones of the first 2n
    const __m256i first = _mm256_cmpgt_epi32(_mm256_set1_epi32(step * n), lane);
    const __m256i second = _mm256_and_si256(even, _mm256_cmpgt_epi32(_mm256_set1_epi32(2 * n - 8), lane));
    const __m256i m0 = step == 1 ? first : _mm256_and_si256(even, first);
    for (std::int64_t p = 0; p < kc; p += 8) {
      const int w = int(std::min<std::int64_t>(8, kc - p));  // columns of this block
      const __m256i cols = _mm256_cmpgt_epi32(_mm256_set1_epi32(w), lane);
      __m256 r[8];
      for (int q = 0; q < 8; ++q) {
        const float* from = src + (i0 + q) * src_ld + p;
        r[q] = q >= n ? _mm256_setzero_ps() : w == 8 ? _mm256_loadu_ps(from) : _mm256_maskload_ps(from, cols);
      }
      transpose8(r);
      for (int q = 0; q < w; ++q) {
        float* to = dst + (p + q) * ld + i0 * step;
        if (step == 1 && n == 8) {
          _mm256_storeu_ps(to, r[q]);
        } else if (step == 1) {
          _mm256_maskstore_ps(to, m0, r[q]);
        } else {
          _mm256_maskstore_ps(to, m0, _mm256_permutevar8x32_ps(r[q], low));
          if (n > 4) _mm256_maskstore_ps(to + 8, second, _mm256_permutevar8x32_ps(r[q], high));
        }
      }
    }
  }
}

}  // namespace
