// Winograd transforms for AVX-512 CPUs: the loops of winograd_tiles.inl over blocks of 16 tiles,
// built with the AVX-512 flags and 512-bit vectors preferred, so that a row of lanes is one zmm
// register of floats (two of doubles). For float these serve planes wide enough to fill 16
// lanes; narrower ones keep AVX2's 8-lane kernels, whose pairs of rows fill them. The weights
// keep AVX2's kernels too, which transpose 8 filters in registers (the driver hands weights over
// 8 filters at a time, whatever the tile lanes), but for the fused GEMM's 16-filter kernel
// (winograd_weights_avx512.cpp). F(4x4)'s float input, output and gradient
// transforms are written out: they load patch rows whole and sort them into columns in registers,
// where the loops gather element by element (1.1-1.7x slower than AVX2's 8-lane kernels). They
// also take planes 4 tiles wide (14 to 16 pixels) four tile rows a block, a register per row,
// where AVX2's kernels took two (ResNet-18 layer3's weight gradient 1.12x faster on 2 threads,
// the dilated layer's 1.10-1.15x).
#include <immintrin.h>

#include <algorithm>

#include "kernels/avx512/vec_avx512.hpp"
#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx512 {
constexpr int kLanes = 16;
#include "kernels/winograd_tiles.inl"
#include "kernels/winograd_f4_passes.inl"

namespace {

#if !defined(FASTCONV_EMULATE_AVX512)  // the emulated build takes the loops as its wide F(4x4) set
constexpr int kA = F4::kA, kM = F4::kM;
using V = Vec<float>;

// Four registers of a row of patches m = 4 apart (lanes 0-7 from lo, 8-15 from hi: 32 values
// each) sorted into columns: lane t of col[j] = value 4t + j.
inline void columns(__m512 lo0, __m512 lo1, __m512 hi0, __m512 hi1, __m512* col) {
  const __m512i j01 = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
  const __m512i j23 = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
  const __m512 lo01 = _mm512_permutex2var_ps(lo0, j01, lo1), lo23 = _mm512_permutex2var_ps(lo0, j23, lo1);
  const __m512 hi01 = _mm512_permutex2var_ps(hi0, j01, hi1), hi23 = _mm512_permutex2var_ps(hi0, j23, hi1);
  col[0] = _mm512_shuffle_f32x4(lo01, hi01, _MM_SHUFFLE(1, 0, 1, 0));
  col[1] = _mm512_shuffle_f32x4(lo01, hi01, _MM_SHUFFLE(3, 2, 3, 2));
  col[2] = _mm512_shuffle_f32x4(lo23, hi23, _MM_SHUFFLE(1, 0, 1, 0));
  col[3] = _mm512_shuffle_f32x4(lo23, hi23, _MM_SHUFFLE(3, 2, 3, 2));
}

// Columns 4 and 5 of the patches (j = 0, 1): column j of the next tile, lanes shifted down by
// one. The last lane of each row of tiles (7 with two rows, 15) takes its value from the row.
inline __m512 next_tile(__m512 col, const float* row, std::int64_t second, int j) {
  const __m512i last = _mm512_castps_si512(_mm512_set1_ps(row[second + 64 + j]));
  const __m512 shifted = _mm512_castsi512_ps(_mm512_alignr_epi32(last, _mm512_castps_si512(col), 1));
  return _mm512_mask_mov_ps(shifted, __mmask16(1u << 7), _mm512_set1_ps(row[32 + j]));
}

// A block's lanes in tile rows of 16 / block_rows tiles (4 a register): register r of a row of
// patches holds tile row r / regs, its columns from 16 (r % regs) on, regs = 4 / block_rows.
inline std::int64_t register_row(int block_rows, int r) { return r / (4 / block_rows); }
inline std::int64_t register_column(int block_rows, int r) { return r % (4 / block_rows) * kLanes; }

// The input transform of winograd_tiles.inl's input_block: V = B^T (d B), each patch row
// transformed as it is loaded, then each column.
void input_block_f32(const float* padded, std::int64_t ld, std::int64_t y0, std::int64_t x0, int count,
                     int block_rows, float* v, std::int64_t xi_stride) noexcept {
  __m512 rows[kA][kA];  // rows[i][nu]: row i of the patches times B
  for (int i = 0; i < kA; ++i) {
    const float* row = padded + (y0 + i) * ld + x0;
    auto load = [&](int r, std::int64_t shift) {
      return _mm512_loadu_ps(row + register_row(block_rows, r) * kM * ld + register_column(block_rows, r) + shift);
    };
    __m512 d[kA];
    columns(load(0, 0), load(1, 0), load(2, 0), load(3, 0), d);
    if (block_rows == 4) {  // a register per tile row: the next tiles' columns from loads a tile on
      __m512 next[kM];
      columns(load(0, kM), load(1, kM), load(2, kM), load(3, kM), next);
      d[4] = next[0], d[5] = next[1];
    } else {
      const std::int64_t second = block_rows == 2 ? kM * ld - 32 : 0;  // lanes 8-15: the tile row below
      d[4] = next_tile(d[0], row, second, 0);
      d[5] = next_tile(d[1], row, second, 1);
    }
    bt<V>(d, rows[i]);
  }
  for (int nu = 0; nu < kA; ++nu) {
    __m512 col[kA], out[kA];
    for (int i = 0; i < kA; ++i) col[i] = rows[i][nu];
    bt<V>(col, out);
    for (int xi = 0; xi < kA; ++xi) store_first(v + (xi * kA + nu) * xi_stride, out[xi], count);
  }
}

// The gradient transform of winograd_tiles.inl's gradient_block: Z = A (dy A^T), each patch row
// loaded whole (values outside the plane masked to zero) and sorted into columns.
void gradient_block_f32(const float* plane, std::int64_t P, std::int64_t Q, std::int64_t oy, std::int64_t ox,
                        int count, int block_rows, float* z, std::int64_t xi_stride) noexcept {
  const int per_row = kLanes / block_rows;  // tiles a tile row of the block
  const std::int64_t used = std::min<std::int64_t>(kM * std::min(count, per_row), Q - ox);  // columns a row
  __m512 rows_a[kM][kA];  // rows_a[i][nu]: row i of the patches times A^T
  for (int i = 0; i < kM; ++i) {
    __m512 reg[4];
    for (int r = 0; r < 4; ++r) {
      const std::int64_t y = oy + register_row(block_rows, r) * kM + i, col = register_column(block_rows, r);
      const std::int64_t n = y < P ? used - col : 0;
      reg[r] = n > 0 ? load_first(plane + y * Q + ox + col, n) : _mm512_setzero_ps();
    }
    __m512 d[kM];
    columns(reg[0], reg[1], reg[2], reg[3], d);
    a<V>(d, rows_a[i]);
  }
  for (int nu = 0; nu < kA; ++nu) {
    __m512 col[kM], out[kA];
    for (int i = 0; i < kM; ++i) col[i] = rows_a[i][nu];
    a<V>(col, out);
    for (int xi = 0; xi < kA; ++xi) store_first(z + (xi * kA + nu) * xi_stride, out[xi], count);
  }
}

// The columns c[j] (lane t: value 4t + j) interleaved into 64 consecutive values, out[0..3]:
// the inverse of columns.
inline void interleave(const __m512* c, __m512* out) {
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512i lo2 = _mm512_setr_epi32(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const __m512i hi2 = _mm512_setr_epi32(8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  const __m512 lo01 = _mm512_permutex2var_ps(c[0], lo, c[1]), hi01 = _mm512_permutex2var_ps(c[0], hi, c[1]);
  const __m512 lo23 = _mm512_permutex2var_ps(c[2], lo, c[3]), hi23 = _mm512_permutex2var_ps(c[2], hi, c[3]);
  out[0] = _mm512_permutex2var_ps(lo01, lo2, lo23);  // tiles 0-3
  out[1] = _mm512_permutex2var_ps(lo01, hi2, lo23);  // tiles 4-7
  out[2] = _mm512_permutex2var_ps(hi01, lo2, hi23);  // tiles 8-11
  out[3] = _mm512_permutex2var_ps(hi01, hi2, hi23);  // tiles 12-15
}

// The output transform of winograd_tiles.inl's output_block: y = A^T M A + bias, each output row
// of the 16 tiles interleaved in registers into 64 consecutive values, which go to the block's
// tile rows as register_row says.
void output_block_f32(const float* m, std::int64_t xi_stride, int count, int block_rows, float bias, float* plane,
                      std::int64_t P, std::int64_t Q, std::int64_t oy, std::int64_t ox) noexcept {
  __m512 cols[kA][kM];  // cols[nu][i]: column nu of A^T M
  for (int nu = 0; nu < kA; ++nu) {
    __m512 mm[kA];
    for (int xi = 0; xi < kA; ++xi) mm[xi] = load_first(m + (xi * kA + nu) * xi_stride, count);
    at<V>(mm, cols[nu]);
  }
  const int per_row = kLanes / block_rows, regs = (count + kM - 1) / kM;  // registers with tiles
  const std::int64_t width = std::min<std::int64_t>(kM * std::min(count, per_row), Q - ox);
  const __m512 b = _mm512_set1_ps(bias);
  for (std::int64_t i = 0; i < kM; ++i) {
    __m512 r[kA], c[kM], out[4];
    for (int nu = 0; nu < kA; ++nu) r[nu] = cols[nu][i];
    at<V>(r, c);  // c[j]: lane t is output (i, 4t + j)
    for (int j = 0; j < kM; ++j) c[j] = _mm512_add_ps(c[j], b);
    interleave(c, out);
    for (int q = 0; q < regs; ++q) {
      const std::int64_t y = oy + register_row(block_rows, q) * kM + i, col = register_column(block_rows, q);
      if (y < P && col < width)
        store_first(plane + y * Q + ox + col, out[q], int(std::min<std::int64_t>(kLanes, width - col)));
    }
  }
}
#endif

template <typename F>
WinogradKernels<float> with_avx2_weights(const char* name, const WinogradKernels<float>& avx2) {
  WinogradKernels<float> k = winograd_kernels<F, float>(name);
  k.weights = avx2.weights;
  k.weights_t = avx2.weights_t;
  return k;
}

}  // namespace

// AVX2's 8-lane kernels, and these over 16 lanes for planes wide enough.
WinogradFamily<float> swinograd() {
  const WinogradFamily<float> avx2 = kernels::avx2::swinograd();
  WinogradFamily<float> family = avx2;
  family.f2_wide = with_avx2_weights<F2>("f2x2-avx512", avx2.f2);
  family.f4_wide = with_avx2_weights<F4>("f4x4-avx512", avx2.f4);
  family.f6_wide = with_avx2_weights<F6>("f6x6-avx512", avx2.f6);
#if !defined(FASTCONV_EMULATE_AVX512)
  family.f4_wide.input = input_block_f32;
  family.f4_wide.output = output_block_f32;
  family.f4_wide.gradient = gradient_block_f32;
  family.f4_wide.max_rows = 4;  // blocks of four tile rows of 4 (14- to 16-pixel planes)
#endif
  add_wide_weights(family);
  return family;
}
WinogradFamily<double> dwinograd() {
  return {winograd_kernels<F2, double>("f2x2-avx512"), winograd_kernels<F4, double>("f4x4-avx512"),
          winograd_kernels<F6, double>("f6x6-avx512")};
}

}  // namespace fastconv::kernels::avx512
