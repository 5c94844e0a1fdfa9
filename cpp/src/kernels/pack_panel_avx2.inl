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

}  // namespace
