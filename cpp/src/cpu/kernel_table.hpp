#pragma once
// The run-time kernel table: filled once from the CPU's features, read by every algorithm.
#include <cstdint>

#include "fastconv/cpu.hpp"

namespace fastconv {

// C[MR x NR] (row stride ldc) = or += A_panel * B_panel, where the packed A panel holds kc
// columns of MR values and the packed B panel kc rows of NR values.
template <typename T>
using GemmMicrokernelFn = void (*)(std::int64_t kc, const T* a, const T* b, T* c, std::int64_t ldc,
                                   bool accumulate) noexcept;

// The same with A unpacked: its MR rows at a + i * lda, the columns consecutive. The same
// multiply-adds in the same order as GemmMicrokernelFn, so both give the same bits.
template <typename T>
using GemmRowsMicrokernelFn = void (*)(std::int64_t kc, const T* a, std::int64_t lda, const T* b, T* c,
                                       std::int64_t ldc, bool accumulate) noexcept;

// The same for 2 MR rows and the first NR/2 columns of the B panel (C's other columns are left
// alone): a ragged last panel of at most half its width, where the full micro-tile would
// compute mostly zero columns (7x7 images: 49 = 3 * 16 + 1). Each element is the same chain of
// multiply-adds as in GemmRowsMicrokernelFn, so the bits are the same.
template <typename T>
using GemmRowsTallMicrokernelFn = void (*)(std::int64_t kc, const T* a, std::int64_t lda, const T* b, T* c,
                                           std::int64_t ldc, bool accumulate) noexcept;

// The same with A gathered: element (i, p) at rows[i] + off[p] (im2col values read in place
// from padded planes, each row a pixel and off a table of kernel tap offsets).
template <typename T>
using GemmIndirectMicrokernelFn = void (*)(std::int64_t kc, const T* const* rows, const std::int64_t* off, const T* b,
                                           T* c, std::int64_t ldc, bool accumulate) noexcept;

// The tall variant of the gathered entry, with rows lda apart: A(i, p) = a[i * lda + off[p]].
template <typename T>
using GemmIndirectTallMicrokernelFn = void (*)(std::int64_t kc, const T* a, std::int64_t lda, const std::int64_t* off,
                                               const T* b, T* c, std::int64_t ldc, bool accumulate) noexcept;

// The same with A packed and B read in place: row p of the B panel is the NR consecutive values
// at b + off[p] (stride-1 im2col rows, straight from a padded plane). Same bits as packed B.
template <typename T>
using GemmRowsBMicrokernelFn = void (*)(std::int64_t kc, const T* a, const T* b, const std::int64_t* off, T* c,
                                        std::int64_t ldc, bool accumulate) noexcept;

// One packed panel: dst[p * width + i] = src[i * ld + p] for i < rows (<= width), p < kc, and
// zero for rows <= i < width. Rows of a row-major matrix, transposed into the panel layout that
// the microkernels read (B panels of dY or of transformed tiles, A panels of weights).
template <typename T>
using PackPanelFn = void (*)(const T* src, std::int64_t ld, std::int64_t rows, std::int64_t kc, T* dst,
                             std::int64_t width) noexcept;

// The pack's inverse, every step-th column: dst[p * ld + i * step] = src[i * src_ld + p] for
// i < rows, p < kc. A micro-tile's rows (pixels along a row of a stride phase) into its columns'
// planes (the turned-around input gradient's dX channels).
template <typename T>
using UnpackPanelFn = void (*)(const T* src, std::int64_t src_ld, std::int64_t rows, std::int64_t kc, T* dst,
                               std::int64_t ld, std::int64_t step) noexcept;

// col2im at unit stride: planes of dX (H x W each, consecutive) from T's rows (P x Q each, `ld`
// apart, one a tap (r, s); each plane's R * S rows t_plane after the last's): dx[ih][iw] = the sum
// over the taps, in (r, s) order, of t[(r * S + s) * ld + oh * Q + ow] with oh = ih + pt - r * dh
// in [0, P) and ow = iw + pl - s * dw in [0, Q) (zero where none). For rows of at most
// kCol2imRowVectors vectors and kernels at most kCol2imColumnTaps wide.
struct Col2imGeometry {
  std::int64_t H, W, P, Q, R, S, dh, dw, pt, pl;
};
constexpr int kCol2imRowVectors = 4, kCol2imColumnTaps = 16;
template <typename T>
using Col2imRowsFn = void (*)(const Col2imGeometry& g, const T* t, std::int64_t ld, std::int64_t t_plane, T* dx,
                              std::int64_t planes) noexcept;

// The row stride of A at which run_rows_tall reads it fastest, for callers that lay A out
// themselves (the fused Winograd GEMM): a constant, so that the kernel reaches each row at a
// fixed displacement. At a stride known only at run time, each multiply-add's indexed address
// costs a second micro-op (ResNet-18 layer4's fused forward: 1.05x slower).
constexpr std::int64_t kTallRowStride = 256;

// A gathered-A kernel whose rows come in `runs` runs of `length` consecutive elements: row
// h * length + i at rows[h * length] + i (pixels along an output row, consecutive in padded
// planes at any stride). Same signature and bits as GemmIndirectMicrokernelFn, on
// length * runs rows.
template <typename T>
struct GemmRunKernel {
  GemmIndirectMicrokernelFn<T> run = nullptr;
  int length = 0, runs = 0;
};
constexpr int kMaxRunRows = 28;  // the most rows (length * runs) a run kernel takes

template <typename T>
struct GemmMicrokernel {
  GemmMicrokernelFn<T> run = nullptr;
  // 2 mr rows (two consecutive packed A panels, the second at a + mr * kc) by the first nr/2
  // columns of the B panel, C's other columns left alone: a ragged last panel of at most half its
  // width. The same chains of multiply-adds as `run`, so the same bits.
  GemmMicrokernelFn<T> run_tall = nullptr;
  GemmRowsMicrokernelFn<T> run_rows = nullptr;
  GemmRowsTallMicrokernelFn<T> run_rows_tall = nullptr;
  GemmIndirectMicrokernelFn<T> run_indirect = nullptr;
  // The same for mr rows by nr/2 columns of a B panel packed nr/2 wide (its rows nr/2 apart):
  // panels of at most half the width, packed and multiplied at half the cost (LeNet's 6 and 16
  // filters in AVX-512's 32-wide panels). Same bits as run_indirect.
  GemmIndirectMicrokernelFn<T> run_indirect_narrow = nullptr;
  GemmIndirectTallMicrokernelFn<T> run_indirect_tall = nullptr;
  GemmRowsBMicrokernelFn<T> run_rows_b = nullptr;
  PackPanelFn<T> pack = nullptr;
  UnpackPanelFn<T> unpack = nullptr;
  int mr = 0, nr = 0;
  const char* name = "";
  // The same for nr/4 columns of a panel packed nr/4 wide, where an ISA has one (AVX-512: AVX2's
  // run_indirect_narrow, on ymm registers): LeNet's 6 filters filled 6 of 16 lanes with half
  // panels. Same bits as run_indirect.
  GemmIndirectMicrokernelFn<T> run_indirect_quarter = nullptr;
  // run_indirect and run_indirect_narrow on two micro-tiles of rows at once (rows[0 .. 2 mr)),
  // where an ISA has the registers: more sums in flight, fewer loads per multiply-add (the
  // narrow kernel's mr sums alone are fewer than two FMA ports keep busy). Same bits.
  GemmIndirectMicrokernelFn<T> run_indirect_pair = nullptr;
  GemmIndirectMicrokernelFn<T> run_indirect_narrow_pair = nullptr;
  // The run kernel for output rows of `row` pixels against panels `vectors` registers wide, or
  // none (run == nullptr) where no runs fill its registers: each run is one base address, where
  // the gathered entries above form an indexed address per row and multiply-add (ResNeXt-50's
  // grouped 3x3 layers).
  GemmRunKernel<T> (*run_kernel)(std::int64_t row, int vectors) noexcept = nullptr;
  // The input gradient's col2im at unit stride, on the ISA's vectors (null: the caller's loops).
  Col2imRowsFn<T> col2im_rows = nullptr;
  int vector_width = 0;  // col2im_rows' lanes, for the rows it takes
};

// One plane of a depthwise convolution, read from a zero-padded copy of its source whose columns
// are split into stride phases, so that every tap reads consecutive elements: output (oh, ow) of
// tap (r, s) reads src[(oh*sh + r*dh) * ld + tap[s] + ow]. Output is P x Q, kernel R x S.
// Or, with `in_place` (a 3x3 kernel at unit column stride), the source plane itself (H x W,
// ld = W, tap[s] = s * dw): tap (r, s) of output (oh, ow) reads source row oh*sh + r*dh - pt,
// column ow + tap[s] - pl, and zero outside the plane; `zeros` holds W zeros.
struct DepthwiseInPlace {
  std::int64_t pt, pl, H, W;
  const void* zeros;
};

struct DepthwisePlane {
  std::int64_t P, Q, R, S, sh, dh, ld;
  const std::int64_t* tap;
  const DepthwiseInPlace* in_place = nullptr;
};

// A block of channels of one image, with the channels as a vector's lanes: every pixel's values
// of the block side by side in a zero-padded copy of hp x wp pixels, so that small planes fill
// whole vectors (batch-1 MobileNet's 14x14 rows are one and three quarter 8-float vectors in the
// plane kernels, which ran at a third of the FMA peak). Output P x Q, kernel R x S.
struct DepthwiseBlock {
  std::int64_t H, W, P, Q, R, S, sh, sw, dh, dw, pt, pl;
  std::int64_t hp, wp;  // wp covers whole vectors of outputs along each row
  // Between a source plane's consecutive values: 1 for NCHW planes; C for channels-last pixels,
  // whose block of channels is then copied whole (x_plane 1), with no transpose.
  std::int64_t step = 1;
};
constexpr std::int64_t kMaxBlockTaps = 25;  // the largest kernel a block takes (5x5)

// The filters of a block's count channels (taps consecutive each) with the channels as L lanes,
// wb[tap * L + l], and their bias b[l] (none: zero); zero in lanes past count. For the block
// kernels of every ISA: internal linkage, so that each kernel file keeps the copy built with its
// own flags (one shared inline copy could carry AVX2 instructions into the baseline kernels).
namespace {
template <int L, typename T>
void block_lane_weights(const T* w, const T* bias, std::int64_t taps, int count, T* wb, T* b) noexcept {
  for (int l = 0; l < L; ++l) {
    for (std::int64_t t = 0; t < taps; ++t) wb[t * L + l] = l < count ? w[l * taps + t] : T(0);
    b[l] = bias && l < count ? bias[l] : T(0);
  }
}
}  // namespace

template <typename T>
struct DepthwiseKernels {
  // y (P x Q) = bias, or y +=, plus the sum over taps of w[r*S + s] times what the tap reads.
  void (*forward)(const DepthwisePlane&, const T* src, const T* w, T bias, bool accumulate, T* y) noexcept = nullptr;
  // acc[r*S + s] += sum over (oh, ow) of what the tap reads times dy[oh*Q + ow], each row's dot
  // product summed in a fixed order and added in double.
  void (*weights)(const DepthwisePlane&, const T* src, const T* dy, double* acc) noexcept = nullptr;
  // even[i*ld + k] = src[i*src_ld + 2k], odd[i*ld + k] = src[i*src_ld + 2k + 1] for i < rows,
  // k < pairs: rows split into their stride-2 phases, which fills the padded planes of stride-2
  // layers (padded.hpp), direct's as well. Each row prefetches the row `rows` on, toward L2: the
  // next plane's, where the rows are a whole plane, so that its reads are in flight while this one
  // is copied (alone, the copy kept too few in flight: MobileNet's stride-2 layer at batch 16, one
  // thread, weight gradient 4.25 -> 2.81 ms, forward 4.27 -> 2.77 ms; a prefetch of the whole
  // next plane at once had delayed this plane's reads).
  void (*split)(const T* src, std::int64_t src_ld, std::int64_t rows, std::int64_t pairs, T* even, T* odd,
                std::int64_t ld) noexcept = nullptr;
  const char* name = "";
  // Nonzero where forward and weights take 3x3 planes in place (DepthwiseInPlace) with at
  // least this many output columns: a copy costs a pass over the source, and narrower rows are
  // mostly ends, which cost more in place than copied (measured on AVX2: on 28- and 40-wide rows
  // the weight gradient ran slower in place and the forward no faster; on 56-wide rows both
  // faster).
  std::int64_t in_place_columns = 0;
  // y[c] (P x Q, y_plane apart) = bias[c] (none: zero) plus the taps of w[c] (R * S consecutive)
  // over x[c] (H x W, x_plane apart), for channels c < count <= block_lanes. `work` holds (hp * wp
  // + block_lanes) * block_lanes values (a row's last pixels may be written as whole vectors);
  // the call zeroes its padding with `clear`, else it is zero from an earlier call of the same
  // geometry. Null where an ISA has none.
  void (*block)(const DepthwiseBlock&, const T* x, std::int64_t x_plane, int count, const T* w, const T* bias, T* y,
                std::int64_t y_plane, T* work, bool clear) noexcept = nullptr;
  // acc[c * R * S + r * S + s] += the sum over (oh, ow) of what tap (r, s) reads of x[c] times
  // dy[c] (P x Q, dy_plane apart), summed in float over a row or a few (each ISA fixes how
  // many), those sums added in double, for c < count.
  void (*block_weights)(const DepthwiseBlock&, const T* x, std::int64_t x_plane, int count, const T* dy,
                        std::int64_t dy_plane, double* acc, T* work, bool clear) noexcept = nullptr;
  int block_lanes = 0;
  // Padded planes at unit stride, where ld <= pad_row_columns (null elsewhere): for each of
  // `planes` planes, src_plane apart in the source and (top + rows + bottom) * ld in out, `top`
  // rows of zeros, then rows i < rows with out[i * ld + j] = src[i * src_ld + j - lo] for
  // lo <= j < lo + len and zero for the other j < ld, then `bottom` rows of zeros. A row of a
  // small plane took about 12 cycles in copies and zeros (ResNeXt-50's 7x7 stage: 20% of its
  // forward); a call per plane, as many again.
  void (*pad_rows)(const T* src, std::int64_t src_ld, std::int64_t src_plane, std::int64_t planes, std::int64_t top,
                   std::int64_t rows, std::int64_t bottom, std::int64_t lo, std::int64_t len, T* out,
                   std::int64_t ld) noexcept = nullptr;
  std::int64_t pad_row_columns = 0;
};

// Dot products of rows, for the weight gradient with few filters per group (direct's
// weights_rows): sums[(f * nb + t) * lanes + l] = (accumulate: sums plus) lane l of the sum over
// rows i < rows and columns q < cols of a[f][i * a_ld + q] * b[t][i * b_ld + q], for f < na <=
// max_a and every t < nb (= max_b). The columns go lanes at a time, the last ones masked, so
// nothing past a row is read; each lane's sum is one chain in a fixed order, and the caller adds
// the lanes.
template <typename T>
using RowDotFn = void (*)(std::int64_t rows, std::int64_t cols, const T* const* a, std::int64_t a_ld, int na,
                          const T* const* b, std::int64_t b_ld, T* sums, bool accumulate) noexcept;

template <typename T>
struct RowDotKernel {
  RowDotFn<T> run = nullptr;
  int lanes = 0, max_a = 0, max_b = 0;
  const char* name = "";
  // Where an ISA has one (narrow_lanes 0 elsewhere), the same on vectors half as wide, for rows
  // that fill those better; same max_a and max_b.
  RowDotFn<T> run_narrow = nullptr;
  int narrow_lanes = 0;
  const char* narrow_name = "";
};

// Filters per Winograd weight kernel call, for every ISA (AVX2's register transpose takes 8).
constexpr int kWeightLanes = 8, kWeightLanesWide = 16;

// Winograd F(m x m, 3x3) transforms of a block of up to `lanes` tiles (m = tile) in `rows` tile
// rows of lanes/rows (tile t at row t / (lanes/rows), column t % (lanes/rows) of the block): one
// row of horizontally adjacent tiles, or for planes only lanes/2 or lanes/4 tiles wide, which
// would leave lanes idle, 2 or (where max_rows allows) 4.
template <typename T>
struct WinogradKernels {
  // V[xi][t] at v + xi * xi_stride, t < count, from the (m + 2) square patches of a padded plane
  // (row stride ld) at (y0, x0) plus tile t's place, m apart; all inside the plane, unchecked.
  void (*input)(const T* padded, std::int64_t ld, std::int64_t y0, std::int64_t x0, int count, int rows, T* v,
                std::int64_t xi_stride) noexcept = nullptr;
  // m x m output tiles at (oy, ox) plus tile t's place of plane (P x Q) from M[xi][t] at
  // m + xi * xi_stride, plus bias.
  void (*output)(const T* m, std::int64_t xi_stride, int count, int rows, T bias, T* plane, std::int64_t P,
                 std::int64_t Q, std::int64_t oy, std::int64_t ox) noexcept = nullptr;
  // Z[xi][t] at z + xi * xi_stride from the m x m patches of a gradient plane (P x Q) at (oy, ox)
  // plus tile t's place.
  void (*gradient)(const T* plane, std::int64_t P, std::int64_t Q, std::int64_t oy, std::int64_t ox, int count,
                   int rows, T* z, std::int64_t xi_stride) noexcept = nullptr;
  // Weights, count <= kWeightLanes 3x3 filters side by side, filter t at w + t * stride (rotated
  // by 180 degrees with `reversed`): u[xi * point + t] = (G f_t G^T)[xi]. And the weight
  // gradient's inverse, count <= kWeightLanes filters side by side: dw[9t + 3r + s] =
  // (G^T s_t G)[r][s] of the sums s_t[xi] = s[xi * point + t].
  void (*weights)(const T* w, std::int64_t stride, int count, bool reversed, T* u, std::int64_t point) noexcept =
      nullptr;
  void (*weights_t)(const T* s, std::int64_t point, int count, T* dw) noexcept = nullptr;
  int tile = 0, lanes = 0;
  const char* name = "";
  int max_rows = 2;  // the most tile rows a block takes
  // Tile rows a block takes on planes tiles_wide tiles wide: 2 or 4 where that many rows fill the
  // lanes exactly (and max_rows allows), else 1.
  int block_rows(std::int64_t tiles_wide) const noexcept {
    if (2 * tiles_wide == lanes) return 2;
    return max_rows >= 4 && 4 * tiles_wide == lanes ? 4 : 1;
  }
  // weights and weights_t over kWeightLanesWide filters (count <= that), where an ISA has them
  // (nullptr elsewhere): for the fused GEMM, whose filters come in long runs, and the weight
  // gradient's inverse.
  void (*weights_wide)(const T* w, std::int64_t stride, int count, bool reversed, T* u, std::int64_t point) noexcept =
      nullptr;
  void (*weights_t_wide)(const T* s, std::int64_t point, int count, T* dw) noexcept = nullptr;
};

// Every tile size: F(2x2, 3x3), F(4x4, 3x3) and F(6x6, 3x3). Where an ISA has them (lanes 0
// elsewhere), the same over wider blocks of tiles too, for planes whose rows fill them: narrower
// planes keep the main kernels, whose narrow blocks (or pairs of rows) leave fewer lanes idle.
template <typename T>
struct WinogradFamily {
  WinogradKernels<T> f2, f4, f6;
  WinogradKernels<T> f2_wide, f4_wide, f6_wide;
  // The kernels for output tiles of m x m, on planes tiles_wide tiles wide.
  const WinogradKernels<T>& tile(int m, std::int64_t tiles_wide) const noexcept {
    const WinogradKernels<T>& main = m == 2 ? f2 : m == 6 ? f6 : f4;
    const WinogradKernels<T>& wide = m == 2 ? f2_wide : m == 6 ? f6_wide : f4_wide;
    return wide.lanes && (tiles_wide > main.lanes || wide.block_rows(tiles_wide) > 1) ? wide : main;
  }
};

// A float32 multiply-add loop of independent chains, to measure the machine's ceiling.
struct PeakKernel {
  float (*run)(std::int64_t iterations, float seed) noexcept = nullptr;
  int flops_per_iteration = 0;
};

struct KernelTable {
  Isa isa = Isa::Generic;
  GemmMicrokernel<float> sgemm;
  GemmMicrokernel<double> dgemm;
  // Where an ISA has one (mr 0 elsewhere), a second shape with 8 rows and the same panels:
  // run, run_rows, run_rows_b and pack only. The GEMM driver takes it for layouts made with mr 8.
  GemmMicrokernel<float> sgemm8;
  GemmMicrokernel<double> dgemm8;
  DepthwiseKernels<float> sdepthwise;
  DepthwiseKernels<double> ddepthwise;
  RowDotKernel<float> srowdot;
  RowDotKernel<double> drowdot;
  WinogradFamily<float> swinograd;
  WinogradFamily<double> dwinograd;
  PeakKernel peak;

  const GemmMicrokernel<float>& gemm(float*) const noexcept { return sgemm; }
  const GemmMicrokernel<double>& gemm(double*) const noexcept { return dgemm; }
  const GemmMicrokernel<float>& gemm8(float*) const noexcept { return sgemm8; }
  const GemmMicrokernel<double>& gemm8(double*) const noexcept { return dgemm8; }
  const DepthwiseKernels<float>& depthwise(float*) const noexcept { return sdepthwise; }
  const DepthwiseKernels<double>& depthwise(double*) const noexcept { return ddepthwise; }
  const RowDotKernel<float>& row_dot(float*) const noexcept { return srowdot; }
  const RowDotKernel<double>& row_dot(double*) const noexcept { return drowdot; }
  const WinogradFamily<float>& winograd(float*) const noexcept { return swinograd; }
  const WinogradFamily<double>& winograd(double*) const noexcept { return dwinograd; }
};

const KernelTable& kernel_table() noexcept;

template <typename T>
const GemmMicrokernel<T>& gemm_microkernel() noexcept {
  return kernel_table().gemm(static_cast<T*>(nullptr));
}

// The 8-row shape, where the ISA has one (mr 0: none).
template <typename T>
const GemmMicrokernel<T>& gemm8_microkernel() noexcept {
  return kernel_table().gemm8(static_cast<T*>(nullptr));
}

// The kernel of a layout's row count: the main one, or the 8-row shape.
template <typename T>
const GemmMicrokernel<T>& gemm_microkernel(int mr) noexcept {
  return mr == gemm_microkernel<T>().mr ? gemm_microkernel<T>() : gemm8_microkernel<T>();
}

template <typename T>
const WinogradKernels<T>& winograd_kernels(int tile, std::int64_t tiles_wide) noexcept {
  return kernel_table().winograd(static_cast<T*>(nullptr)).tile(tile, tiles_wide);
}

template <typename T>
const RowDotKernel<T>& row_dot_kernel() noexcept {
  return kernel_table().row_dot(static_cast<T*>(nullptr));
}

template <typename T>
const DepthwiseKernels<T>& depthwise_kernels() noexcept {
  return kernel_table().depthwise(static_cast<T*>(nullptr));
}

}  // namespace fastconv
