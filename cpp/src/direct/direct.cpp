// Direct convolution as implicit GEMM: the im2col matrix is never built; its panels are
// packed straight from the tensors inside the blocked GEMM driver.
//   forward           Y[k, pix]      = W[k, (c,r,s)]   * X_col[(c,r,s), pix]   per (image, group)
//   backward data     dX[c, ipix]    = W^T[c, (k,r,s)] * dY_col[(k,r,s), ipix] per (image, group,
//                     stride phase): input pixels of one phase (ih % stride) meet a fixed subset
//                     of kernel taps, so no zero products are computed and nothing is scattered.
//                     With few input channels per group: T = W^T * dY (plain GEMM), then col2im.
//   backward weights  dW^T[(c,r,s), k] = X_col[(c,r,s), (n,pix)] * dY^T[(n,pix), k] per group: the
//                     batch is part of the reduction, so it is reduced in a fixed order.
// Turned around, forward with few filters per group is Y^T[pix, k] = X_col^T * W^T, the weight
// gradient dW^T = X_col * dY^T with the taps as rows, and backward data with few input channels
// per group dX^T = dY_col^T * W per stride phase: each reads its im2col operand in place from
// padded planes through tables of offsets (forward_indirect, weights_indirect, data_indirect).
#include <algorithm>
#include <cstring>
#include <vector>

#include "bias.hpp"
#include "direct/gemm_driver.hpp"
#include "impl.hpp"
#include "padded.hpp"
#include "prefetch.hpp"
#include "threads.hpp"

namespace fastconv {
namespace direct {
namespace {

// Geometry shared by the problems, in int64 throughout. The input x may be NCHW or NHWC
// (element strides xn, xc, xh, xw); every other tensor is dense NCHW.
struct Geometry {
  std::int64_t N, C, H, W, K, R, S, P, Q, G, Cg, Kg;
  std::int64_t sh, sw, dh, dw, pt, pl;
  // The stride phases that hold input rows and columns: a stride past the input's size has empty
  // phases, which would only cost memory (a stride of 10^6 asked for 10^12 phase tables).
  std::int64_t nph, npw;
  std::int64_t xn, xc, xh, xw;
  explicit Geometry(const ConvDesc& d)
      : N(d.n), C(d.c), H(d.h), W(d.w), K(d.k), R(d.r), S(d.s), P(d.p()), Q(d.q()), G(d.groups),
        Cg(d.c / d.groups), Kg(d.k / d.groups), sh(d.stride_h), sw(d.stride_w),
        dh(d.dilation_h), dw(d.dilation_w), pt(d.pad_top), pl(d.pad_left), nph(std::min(sh, H)), npw(std::min(sw, W)) {
    const bool nhwc = d.input_layout == Layout::NHWC;
    xn = C * H * W;
    xc = nhwc ? 1 : H * W;
    xh = nhwc ? W * C : W;
    xw = nhwc ? C : 1;
  }
  // Input rows (columns) of stride phase ph (pw), those with ih % sh == ph (iw % sw == pw); phase 0
  // holds the most.
  std::int64_t phase_rows(std::int64_t ph) const { return ceil_div(H - ph, sh); }
  std::int64_t phase_cols(std::int64_t pw) const { return ceil_div(W - pw, sw); }
};

// Zeroes columns count..nr of a kc x nr panel (the ragged edge of the last panel).
template <typename T>
void zero_tail(T* panel, std::int64_t kc, std::int64_t count, int nr) {
  if (count < nr)
    for (std::int64_t p = 0; p < kc; ++p) std::fill(panel + p * nr + count, panel + (p + 1) * nr, T(0));
}

// B panels (nr columns each, zero past nc) of kc rows that lie whole in memory, `ld` apart: each
// row is read once, from start to end, into every panel, rather than row by row per panel, which
// jumps between rows (channel planes) for every few values. Rows a page or more apart are kc
// streams, more than the hardware prefetcher follows: each row's next nc values (the next
// column block's) are fetched while this block is copied (VGG-16 conv1_1's input gradient,
// one thread: 32.3 -> 29.7 ms).
template <typename T>
void pack_whole_rows(const T* src, std::int64_t ld, std::int64_t kc, std::int64_t nc, T* dst, int nr) noexcept {
  const bool fetch = ld * std::int64_t(sizeof(T)) >= 4096;
  for (std::int64_t p = 0; p < kc; ++p) {
    if (fetch) prefetch_range<2>(src + p * ld + nc, std::size_t(nc) * sizeof(T));
    for (std::int64_t jj = 0; jj < nc; jj += nr)
      copy_run(src + p * ld + jj, std::min<std::int64_t>(nr, nc - jj), dst + jj / nr * kc * nr + p * nr);
  }
  if (nc % nr) zero_tail(dst + nc / nr * kc * nr, kc, nc % nr, nr);
}

constexpr int kMaxPanel = 64;   // the widest microkernel panel the padded packing takes
constexpr int kMaxRuns = 256;   // the longest reduction block (kc) the padded packing takes
// B's block in gathered_product: half of L1, which the gathered rows of A stream through too
constexpr std::size_t kGatherBlockBytes = 16 << 10;

// C += or = the product over count steps, by kernel `run`, in blocks of B short enough to stay
// in L1. The blocks are part of each sum's order, so all callers share them. With `tiles`,
// that many micro-tiles of mr rows (rows[t * mr ..], C at c + t * mr * width) take each block
// in turn, while it is in L1.
template <typename T>
void gathered_blocks(GemmIndirectMicrokernelFn<T> run, std::int64_t width, std::int64_t count, const T* const* rows,
                     const std::int64_t* off, const T* b, T* c, bool accumulate, std::int64_t tiles = 1,
                     std::int64_t mr = 0) noexcept {
  const std::int64_t block = std::int64_t(kGatherBlockBytes / sizeof(T)) / width;
  for (std::int64_t k0 = 0; k0 < count; k0 += block)
    for (std::int64_t t = 0; t < tiles; ++t)
      run(std::min(block, count - k0), rows + t * mr, off + k0, b + k0 * width, c + t * mr * width, width,
          accumulate || k0 > 0);
}

// C (mr x nr, rows nr apart) = or += sum over p < count of A(i, p) B(p, :), with A gathered at
// rows[i] + off[p] and B a packed panel, in reduction blocks short enough that B's block stays in
// L1 (the turned-around paths). With no terms and nothing to add to, C is zero. The panel and C
// are `width` wide: the microkernel's nr, nr/2 or nr/4 (see panel_width). With `pair`, 2 mr rows
// (pair_rows).
template <typename T>
void gathered_product(const GemmMicrokernel<T>& uk, std::int64_t width, std::int64_t count, const T* const* rows,
                      const std::int64_t* off, const T* b, T* c, bool accumulate, bool pair = false) noexcept {
  const GemmIndirectMicrokernelFn<T> whole = pair ? uk.run_indirect_pair : uk.run_indirect;
  const GemmIndirectMicrokernelFn<T> half = pair ? uk.run_indirect_narrow_pair : uk.run_indirect_narrow;
  const GemmIndirectMicrokernelFn<T> run = width == uk.nr ? whole : width == uk.nr / 2 ? half : uk.run_indirect_quarter;
  if (count == 0 && !accumulate) std::fill(c, c + (pair ? 2 : 1) * uk.mr * width, T(0));
  gathered_blocks(run, width, count, rows, off, b, c, accumulate);
}

// Rows of a gathered micro-tile `width` wide: 2 mr where the ISA has a kernel for two micro-tiles
// at once (more sums in flight), else mr.
template <typename T>
int pair_rows(const GemmMicrokernel<T>& uk, std::int64_t width) noexcept {
  const bool pair = width == uk.nr ? uk.run_indirect_pair != nullptr
                                   : width == uk.nr / 2 && uk.run_indirect_narrow_pair != nullptr;
  return pair ? 2 * uk.mr : uk.mr;
}

// gathered_product for `tiles` micro-tiles, rows[t * mr ..] and C at c + t * mr * width: two
// at a time where the ISA has a kernel for two.
template <typename T>
void gathered_products(const GemmMicrokernel<T>& uk, std::int64_t width, std::int64_t tiles, std::int64_t count,
                       const T* const* rows, const std::int64_t* off, const T* b, T* c) noexcept {
  std::int64_t t = 0;
  if (pair_rows(uk, width) > uk.mr)
    for (; t + 2 <= tiles; t += 2)
      gathered_product(uk, width, count, rows + t * uk.mr, off, b, c + t * uk.mr * width, false, true);
  for (; t < tiles; ++t) gathered_product(uk, width, count, rows + t * uk.mr, off, b, c + t * uk.mr * width, false);
}

// A turned-around product's panel width for `columns` columns (filters, or channels swapped):
// a quarter or half of the microkernel's where that holds them all, so that packing and products
// cost less (LeNet's 6 and 16 filters in AVX-512's 32-wide panels).
template <typename T>
std::int64_t panel_width(const GemmMicrokernel<T>& uk, std::int64_t columns) noexcept {
  if (uk.run_indirect_quarter != nullptr && 4 * columns <= uk.nr) return uk.nr / 4;
  return 2 * columns <= uk.nr ? uk.nr / 2 : uk.nr;
}

// Whether `columns` fill their panels: narrow panels only when full, since the narrower kernels
// have fewer sums in flight (LeNet's 6 filters in 8-wide AVX2 panels ran slower than the GEMM).
template <typename T>
bool panels_filled(const GemmMicrokernel<T>& uk, std::int64_t columns) noexcept {
  const std::int64_t width = panel_width(uk, columns);
  return width < uk.nr ? columns == width : 2 * columns > uk.nr;
}

// The ISA's run kernel for rows that come in runs within lines of `line` (output rows, kernel
// rows) against panels `width` wide, or none (run == nullptr): none for panels narrower than a
// vector, nor where the ISA has no run kernels.
template <typename T>
GemmRunKernel<T> run_kernel_for(const GemmMicrokernel<T>& uk, std::int64_t line, std::int64_t width) noexcept {
  return uk.run_kernel ? uk.run_kernel(line, int(width / (uk.nr / 2))) : GemmRunKernel<T>{};
}

template <typename T>
struct ForwardProblem {
  static constexpr bool kPrepackA = true;  // the weights of a group serve every image
  const Geometry& g;
  const T *x, *w, *bias;
  T* y;
  // Images [img0, img0 + images). With `padded`, their (image, channel) planes were copied by
  // `source`, one buffer apart, and the im2col panels are packed from there with plain copies;
  // `merged` then puts the images side by side in one GEMM per group (small images, whose
  // own GEMMs would be a few ragged panels wide).
  std::int64_t img0, images;
  const T* padded;
  const PaddedSource* source;
  bool merged;
  // Stride 1 with `padded`, `wide` columns: column q of an image is output (q / ld, q % ld), ld
  // the padded planes' row length, so any run of columns reads a run of each padded row (the
  // columns q % ld >= Q compute values nobody stores). `wide` holds (c, r, s)'s plane offsets,
  // and the microkernel reads B in place; wide_n columns an image (whole panels).
  const std::int64_t* wide;
  std::int64_t wide_n;

  std::int64_t batches() const { return merged ? g.G : images * g.G; }
  std::int64_t period() const { return g.G; }
  std::int64_t m(std::int64_t) const { return g.Kg; }
  std::int64_t n(std::int64_t) const { return (merged ? images : 1) * (wide ? wide_n : g.P * g.Q); }
  std::int64_t k(std::int64_t) const { return g.Cg * g.R * g.S; }
  std::int64_t a_operand(std::int64_t b) const { return b % g.G; }

  const T* a_rows(std::int64_t grp) const { return w + grp * g.Kg * k(0); }
  std::int64_t a_ld() const { return k(0); }
  void pack_a(std::int64_t grp, std::int64_t k0, std::int64_t kc, std::int64_t i0, std::int64_t i1, T* dst,
              int mr) const {
    pack_rows(a_rows(grp), k(0), g.Kg, k0, kc, i0, i1, dst, mr);
  }

  // Wide columns: where column j's tap (0, 0, 0) lies in the padded planes, and each tap's offset.
  const T* b_row(std::int64_t b, std::int64_t j) const {
    const std::int64_t plane = source->buffer_elems();
    return padded + (((merged ? j / wide_n : b / g.G) * g.C + b % g.G * g.Cg) * plane) + j % wide_n;
  }
  const std::int64_t* b_offsets(std::int64_t) const { return wide; }

  // X_col[(c,r,s), pix] for one image and group; out-of-image taps read as zero.
  void pack_b(std::int64_t b, std::int64_t k0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
              T* dst, int nr) const {
    if (wide) {  // a panel's columns lie in one image (whole panels): a run per row
      for (std::int64_t jj = 0; jj < nc; jj += nr, dst += kc * nr) {
        const std::int64_t count = std::min<std::int64_t>(nr, nc - jj);
        const T* src = b_row(b, j0 + jj);
        for (std::int64_t p = 0; p < kc; ++p) copy_run(src + wide[k0 + p], count, dst + p * nr);
        zero_tail(dst, kc, count, nr);
      }
      return;
    }
    if (padded) {  // panel widths of the microkernels, so that whole panels copy in fixed sizes
      switch (nr) {
        case 8: return pack_padded<8>(b, k0, kc, j0, nc, dst, nr);
        case 16: return pack_padded<16>(b, k0, kc, j0, nc, dst, nr);
        default: return pack_padded<0>(b, k0, kc, j0, nc, dst, nr);
      }
    }
    const std::int64_t img = img0 + b / g.G, grp = b % g.G;
    const T* xg = x + img * g.xn + grp * g.Cg * g.xc;
    // 1x1, stride 1, unpadded, NCHW: row p is channel k0 + p, its pixels consecutive (a gather
    // per panel and row split the rows at image rows and jumped between channel planes: 40% of
    // ResNet-50's 1x1 forward).
    if (g.R * g.S == 1 && g.sh * g.sw == 1 && g.P == g.H && g.Q == g.W && g.xw == 1 && g.xh == g.W)
      return pack_whole_rows(xg + k0 * g.xc + j0, g.xc, kc, nc, dst, nr);
    for (std::int64_t jj = 0; jj < nc; jj += nr, dst += kc * nr) {
      const std::int64_t count = std::min<std::int64_t>(nr, nc - jj), j = j0 + jj;
      std::int64_t c = k0 / (g.R * g.S), r = k0 / g.S % g.R, s = k0 % g.S;
      for (std::int64_t p = 0; p < kc; ++p) {
        gather(xg + c * g.xc, g.H, g.W, g.xh, g.xw, g.Q, j / g.Q, j % g.Q, count, g.sh, r * g.dh - g.pt, g.sw,
               s * g.dw - g.pl, dst + p * nr, 1);
        if (++s == g.S) {
          s = 0;
          if (++r == g.R) r = 0, ++c;
        }
      }
      zero_tail(dst, kc, count, nr);
    }
  }

  // From the padded planes: each panel splits into runs along output rows, found once, and
  // every (c, r, s) row of the panel copies those runs.
  template <int NR>
  void pack_padded(std::int64_t b, std::int64_t k0, std::int64_t kc, std::int64_t j0, std::int64_t nc, T* dst,
                   int nr_runtime) const {
    const int nr = NR ? NR : nr_runtime;
    const DepthwisePlane& pg = source->geometry();
    const std::int64_t plane = source->buffer_elems(), row = pg.dh * pg.ld, pq = g.P * g.Q;
    const T* base = padded + ((merged ? 0 : b / g.G) * g.C + (b % g.G) * g.Cg) * plane;
    std::int64_t runs[3 * kMaxPanel];  // (source offset, panel column, length) triples
    for (std::int64_t jj = 0; jj < nc; jj += nr, dst += kc * nr) {
      const std::int64_t count = std::min<std::int64_t>(nr, nc - jj), j = j0 + jj;
      std::size_t n_runs = 0;
      for (std::int64_t col = 0; col < count; n_runs += 3) {  // a run ends with its output row
        const std::int64_t img = (j + col) / pq, pix = (j + col) % pq, oh = pix / g.Q, ow = pix % g.Q;
        const std::int64_t len = std::min(count - col, g.Q - ow);
        runs[n_runs] = img * g.C * plane + oh * pg.sh * pg.ld + ow, runs[n_runs + 1] = col, runs[n_runs + 2] = len;
        col += len;
      }
      const bool whole = NR && count == NR && n_runs == 3;
      std::int64_t c = k0 / (g.R * g.S), r = k0 / g.S % g.R, s = k0 % g.S;
      for (std::int64_t p = 0; p < kc; ++p) {
        const T* src = base + c * plane + r * row + pg.tap[s];
        T* d = dst + p * nr;
        if (whole) {
          std::memcpy(d, src + runs[0], NR * sizeof(T));
        } else {
          for (std::size_t i = 0; i < n_runs; i += 3) copy_run(src + runs[i], runs[i + 2], d + runs[i + 1]);
        }
        if (++s == g.S) {
          s = 0;
          if (++r == g.R) r = 0, ++c;
        }
      }
      zero_tail(dst, kc, count, nr);
    }
  }

  void store(std::int64_t b, std::int64_t i0, std::int64_t mc, std::int64_t j0, std::int64_t nc, const T* c,
             std::int64_t ldc) const {
    const std::int64_t pq = g.P * g.Q;
    if (wide) return store_wide(b, i0, mc, j0, nc, c, ldc);
    for (std::int64_t j = 0; j < nc;) {  // one image's columns at a time
      const std::int64_t img = img0 + (merged ? (j0 + j) / pq : b / g.G), pix = (j0 + j) % pq;
      const std::int64_t len = std::min(nc - j, pq - pix);
      store_run(b % g.G, i0, mc, img, pix, len, c + j, ldc);
      j += len;
    }
  }

  // Wide columns: each output row's first Q columns.
  void store_wide(std::int64_t b, std::int64_t i0, std::int64_t mc, std::int64_t j0, std::int64_t nc, const T* c,
                  std::int64_t ldc) const {
    const std::int64_t ld = source->geometry().ld;
    for (std::int64_t j = 0; j < nc;) {  // a run of one output row at a time
      const std::int64_t img = img0 + (merged ? (j0 + j) / wide_n : b / g.G), q = (j0 + j) % wide_n;
      const std::int64_t oh = q / ld, ow = q % ld, len = std::min({nc - j, ld - ow, wide_n - q});
      if (oh < g.P && ow < g.Q) store_run(b % g.G, i0, mc, img, oh * g.Q + ow, std::min(len, g.Q - ow), c + j, ldc);
      j += len;
    }
  }

  // Filters i0.. (mc of them) of group grp, output pixels [pix, pix + count) of image img, from C
  // rows ldc apart, plus the bias.
  void store_run(std::int64_t grp, std::int64_t i0, std::int64_t mc, std::int64_t img, std::int64_t pix,
                 std::int64_t count, const T* c, std::int64_t ldc) const {
    for (std::int64_t i = 0; i < mc; ++i) {
      const std::int64_t kout = grp * g.Kg + i0 + i;
      const T add = bias ? bias[kout] : T(0);
      T* yr = y + (img * g.K + kout) * g.P * g.Q + pix;
      const T* ci = c + i * ldc;
      for (std::int64_t t = 0; t < count; ++t) yr[t] = ci[t] + add;
    }
  }
};

// Kernel taps that reach input rows of one stride phase, with the output offset of each.
struct Taps {
  std::vector<std::int64_t> index, offset;
};

// The taps of phases [0, count) of `stride` (count: those that hold input rows, Geometry::nph).
std::vector<Taps> phase_taps(std::int64_t stride, std::int64_t count, std::int64_t kernel, std::int64_t dilation,
                             std::int64_t pad) {
  std::vector<Taps> phases(static_cast<std::size_t>(count));
  for (std::int64_t ph = 0; ph < count; ++ph)
    for (std::int64_t t = 0; t < kernel; ++t) {
      const std::int64_t num = ph + pad - t * dilation;  // = out * stride - (ih - ph)
      if (((num % stride) + stride) % stride != 0) continue;
      phases[ph].index.push_back(t);
      // input row ph + a*stride meets this tap at output row a + num/stride (exact division)
      phases[ph].offset.push_back(num / stride);
    }
  return phases;
}

template <typename T>
struct BackwardDataProblem {
  static constexpr bool kPrepackA = true;  // the weights of a (group, phase) serve every image
  const Geometry& g;
  const std::vector<Taps>& rows;  // per phase of the height stride
  const std::vector<Taps>& cols;  // per phase of the width stride
  const std::vector<std::vector<std::int64_t>>& offsets;  // per phase, A's columns in W (a_offsets)
  const T *dy, *w;
  T* dx;
  bool merged;  // all images side by side in one GEMM per (group, phase): small phase grids

  // b = ((image * G + group) * nph + ph) * npw + pw; its A operand is b modulo the images.
  std::int64_t ph(std::int64_t b) const { return b / g.npw % g.nph; }
  std::int64_t pw(std::int64_t b) const { return b % g.npw; }
  std::int64_t group(std::int64_t b) const { return b / (g.nph * g.npw) % g.G; }
  std::int64_t image(std::int64_t b) const { return b / (g.G * g.nph * g.npw); }
  std::int64_t phase_h(std::int64_t b) const { return g.phase_rows(ph(b)); }
  std::int64_t phase_w(std::int64_t b) const { return g.phase_cols(pw(b)); }
  std::int64_t taps_r(std::int64_t b) const { return std::int64_t(rows[ph(b)].index.size()); }
  std::int64_t taps_s(std::int64_t b) const { return std::int64_t(cols[pw(b)].index.size()); }

  std::int64_t batches() const { return (merged ? 1 : g.N) * g.G * g.nph * g.npw; }
  std::int64_t period() const { return g.G * g.nph * g.npw; }
  std::int64_t m(std::int64_t) const { return g.Cg; }
  std::int64_t n(std::int64_t b) const { return (merged ? g.N : 1) * phase_h(b) * phase_w(b); }

  // Calls fn(image, first column in the image, panel offset, count) for the images that
  // columns [j0, j0 + nc) of entry b cover.
  template <typename Fn>
  void for_images(std::int64_t b, std::int64_t j0, std::int64_t nc, Fn&& fn) const {
    const std::int64_t per_image = phase_h(b) * phase_w(b);
    if (!merged) return fn(image(b), j0, std::int64_t(0), nc);
    for (std::int64_t j = 0; j < nc;) {
      const std::int64_t col = (j0 + j) % per_image, len = std::min(nc - j, per_image - col);
      fn((j0 + j) / per_image, col, j, len);
      j += len;
    }
  }
  std::int64_t k(std::int64_t b) const { return g.Kg * taps_r(b) * taps_s(b); }
  std::int64_t a_operand(std::int64_t b) const { return b % (g.G * g.nph * g.npw); }

  // A read in place (one image: packing it would cost more than it saves): row c at W[0, c],
  // column (k, tr, ts) a further k*Cg*R*S + r(tr)*S + s(ts).
  const T* a_row(std::int64_t op, std::int64_t c) const { return w + (group(op) * g.Kg * g.Cg + c) * g.R * g.S; }
  std::int64_t a_row_step() const { return g.R * g.S; }
  const std::int64_t* a_offsets(std::int64_t op) const {  // none: A is packed
    return offsets.empty() ? nullptr : offsets[std::size_t(ph(op) * g.npw + pw(op))].data();
  }

  // A[c, (k, tr, ts)] = W[k, c, r(tr), s(ts)]; the column index is walked with counters, since
  // three divisions per column cost more than the copy. Blocks of kBlockColumns columns outside,
  // panels inside: each panel then gets whole cache lines at once (one column's 6 floats are 24
  // bytes, and its panels lie kc * mr apart), and the block's rows of W stream in order.
  void pack_a(std::int64_t op, std::int64_t k0, std::int64_t kc, std::int64_t i0, std::int64_t i1, T* dst,
              int mr) const {
    const std::int64_t ntr = taps_r(op), nts = taps_s(op), rs = g.R * g.S, whole = g.Cg / mr * mr;
    const std::int64_t end = std::min(i1, whole);  // whole panels in the range; the partial one if i1 passes them
    const Taps &tr = rows[ph(op)], &ts = cols[pw(op)];
    std::int64_t kout = k0 / (ntr * nts), ti = k0 / nts % ntr, si = k0 % nts;
    const T* wk[kBlockColumns];
    for (std::int64_t p0 = 0; p0 < kc; p0 += kBlockColumns) {
      const int n = int(std::min(kBlockColumns, kc - p0));
      for (int q = 0; q < n; ++q) {
        wk[q] = w + ((group(op) * g.Kg + kout) * g.Cg * g.R + tr.index[ti]) * g.S + ts.index[si];
        if (++si == nts) {
          si = 0;
          if (++ti == ntr) ti = 0, ++kout;
        }
      }
      T* d = dst + i0 * kc + p0 * mr;
      if (rs == 1 && mr == 6) {  // 1x1: runs of consecutive channels, fixed-size copies
        d = copy_panels<6>(wk, n, i0, end, kc, d);
      } else if (rs == 1 && mr == 8) {
        d = copy_panels<8>(wk, n, i0, end, kc, d);
      } else if (rs == 1 && mr == 4) {
        d = copy_panels<4>(wk, n, i0, end, kc, d);
      } else {
        for (std::int64_t ir = i0; ir < end; ir += mr, d += kc * mr)
          for (int q = 0; q < n; ++q)
            for (int i = 0; i < mr; ++i) d[q * mr + i] = wk[q][(ir + i) * rs];
      }
      for (int q = 0; whole < g.Cg && i1 > whole && q < n; ++q)
        for (int i = 0; i < mr; ++i) d[q * mr + i] = whole + i < g.Cg ? wk[q][(whole + i) * rs] : T(0);
    }
  }
  static constexpr std::int64_t kBlockColumns = 8;

  // Rows [i0, end) of n columns (wk[q] holding column q's rows consecutively), MR at a time,
  // panels kc * MR apart: with MR known, a few vector moves instead of a loop. Returns where the
  // next panel, the partial one, goes.
  template <int MR>
  static T* copy_panels(const T* const* wk, int n, std::int64_t i0, std::int64_t end, std::int64_t kc, T* d) {
    for (std::int64_t ir = i0; ir < end; ir += MR, d += kc * MR)
      for (int q = 0; q < n; ++q)
        for (int i = 0; i < MR; ++i) d[q * MR + i] = wk[q][ir + i];
    return d;
  }

  // B[(k, tr, ts), (a, e)] = dY[k, a + offset_r, e + offset_s], zero outside the output.
  void pack_b(std::int64_t b, std::int64_t k0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
              T* dst, int nr) const {
    const std::int64_t ntr = taps_r(b), nts = taps_s(b), wph = phase_w(b);
    const Taps &tr = rows[ph(b)], &ts = cols[pw(b)];
    const std::int64_t pq = g.P * g.Q;
    if (!merged && ntr * nts == 1 && tr.offset[0] == 0 && ts.offset[0] == 0 && phase_h(b) == g.P && wph == g.Q)
      return pack_whole_rows(dy + (image(b) * g.K + group(b) * g.Kg + k0) * pq + j0, pq, kc, nc, dst, nr);  // dY's rows
    if (wph < nr && ntr * nts * nr <= kMaxPackTable) return pack_b_table(b, k0, kc, j0, nc, dst, nr);
    for (std::int64_t jj = 0; jj < nc; jj += nr, dst += kc * nr) {
      const std::int64_t count = std::min<std::int64_t>(nr, nc - jj);
      for_images(b, j0 + jj, count, [&](std::int64_t img, std::int64_t j, std::int64_t at, std::int64_t len) {
        const T* dyg = dy + (img * g.K + group(b) * g.Kg) * g.P * g.Q;
        std::int64_t kout = k0 / (ntr * nts), ti = k0 / nts % ntr, si = k0 % nts;
        for (std::int64_t p = 0; p < kc; ++p) {
          gather(dyg + kout * g.P * g.Q, g.P, g.Q, g.Q, 1, wph, j / wph, j % wph, len, 1, tr.offset[ti], 1,
                 ts.offset[si], dst + p * nr + at, 1);
          if (++si == nts) {
            si = 0;
            if (++ti == ntr) ti = 0, ++kout;
          }
        }
      });
      zero_tail(dst, kc, count, nr);
    }
  }

  // The same through a table, per panel, of where each (tap pair, column) reads in a dY plane
  // (-1: outside, zero), so that each row is a loop of nr lookups, for phase grids narrower than
  // a panel: walking them per row in short runs (gather) took 13% of ResNet-18 layer4.down's
  // input gradient. Runs as long as a panel copy faster (ResNet-50 expand: 31 against 41 ms).
  static constexpr std::int64_t kMaxPackTable = 2048;
  void pack_b_table(std::int64_t b, std::int64_t k0, std::int64_t kc, std::int64_t j0, std::int64_t nc, T* dst,
                    int nr) const {
    const std::int64_t ntr = taps_r(b), nts = taps_s(b), wph = phase_w(b), pq = g.P * g.Q;
    const Taps &tr = rows[ph(b)], &ts = cols[pw(b)];
    std::int64_t off[kMaxPackTable];
    const T* dyg = dy + group(b) * g.Kg * pq;
    for (std::int64_t jj = 0; jj < nc; jj += nr, dst += kc * nr) {
      std::fill(off, off + ntr * nts * nr, std::int64_t(-1));
      for_images(b, j0 + jj, std::min<std::int64_t>(nr, nc - jj),
                 [&](std::int64_t img, std::int64_t j, std::int64_t at, std::int64_t len) {
                   for (std::int64_t u = 0; u < len; ++u)
                     for (std::int64_t ti = 0; ti < ntr; ++ti)
                       for (std::int64_t si = 0; si < nts; ++si) {
                         const std::int64_t r = (j + u) / wph + tr.offset[ti], s = (j + u) % wph + ts.offset[si];
                         if (r >= 0 && r < g.P && s >= 0 && s < g.Q)
                           off[(ti * nts + si) * nr + at + u] = img * g.K * pq + r * g.Q + s;
                       }
                 });
      // Consecutive columns that read consecutive values make runs: a panel row is then a few
      // copies (ResNet-18 layer4.down's 7-wide phase grids: runs of 6 or 7, whose lookups took
      // 11% of its input gradient). Where runs are short (under 4 columns on average), the
      // lookups are cheaper. (taps * nr <= kMaxPackTable, so `most` runs fit.)
      const std::int64_t taps = ntr * nts, most = taps * nr / 4;
      constexpr std::int64_t kMaxTaps = 64;
      std::int64_t runs[kMaxPackTable / 4 * 3];  // (source offset, panel column, length) triples
      std::int64_t first[kMaxTaps + 1], n_runs = 0;  // tap tp's runs: [first[tp], first[tp + 1])
      bool by_runs = taps <= kMaxTaps;
      for (std::int64_t tp = 0; by_runs && tp < taps; ++tp) {
        first[tp] = n_runs;
        const std::int64_t* o = off + tp * nr;
        for (std::int64_t t = 0; by_runs && t < nr; ++t) {
          if (o[t] < 0) continue;
          if (t > 0 && o[t - 1] >= 0 && o[t] == o[t - 1] + 1) {
            ++runs[n_runs - 1];
          } else if (n_runs / 3 == most) {
            by_runs = false;  // too many, too short
          } else {
            runs[n_runs] = o[t], runs[n_runs + 1] = t, runs[n_runs + 2] = 1;
            n_runs += 3;
          }
        }
      }
      if (by_runs) first[taps] = n_runs;
      std::int64_t kout = k0 / taps, tap = k0 % taps;
      for (std::int64_t p = 0; p < kc; ++p) {
        const T* src = dyg + kout * pq;
        T* d = dst + p * nr;
        if (by_runs) {
          std::fill(d, d + nr, T(0));
          for (std::int64_t i = first[tap]; i < first[tap + 1]; i += 3)
            copy_run(src + runs[i], runs[i + 2], d + runs[i + 1]);
        } else {
          const std::int64_t* o = off + tap * nr;
          for (int t = 0; t < nr; ++t) d[t] = o[t] >= 0 ? src[o[t]] : T(0);
        }
        if (++tap == taps) tap = 0, ++kout;
      }
    }
  }

  void store(std::int64_t b, std::int64_t i0, std::int64_t mc, std::int64_t j0, std::int64_t nc, const T* c,
             std::int64_t ldc) const {
    const std::int64_t wph = phase_w(b);
    for_images(b, j0, nc, [&](std::int64_t img, std::int64_t j, std::int64_t at, std::int64_t len) {
      for (std::int64_t i = 0; i < mc; ++i) {
        T* dxc = dx + (img * g.C + group(b) * g.Cg + i0 + i) * g.H * g.W + ph(b) * g.W + pw(b);
        const T* ci = c + i * ldc + at;
        std::int64_t a = j / wph, e = j % wph;
        // runs along dX rows (one run where sh and sw are 1): an element loop took 15%; at sw 2,
        // with each element's place multiplied out, 8% of ResNet-18 layer4.down's (by a strided
        // pointer, 7%)
        for (std::int64_t t = 0; t < len; e = 0, ++a) {
          const std::int64_t run = g.sh * g.sw == 1 ? len - t : std::min(len - t, wph - e);
          T* to = dxc + a * g.sh * g.W + e * g.sw;
          if (g.sw == 1) {
            copy_run(ci + t, run, to);
          } else {
            for (std::int64_t u = 0; u < run; ++u) to[u * g.sw] = ci[t + u];
          }
          t += run;
        }
      }
    });
  }
};

// Backward data for few input channels per group, where the phase GEMM above would reuse each
// gathered dY value only Cg times: T[(c,r,s), pix] = W^T[(c,r,s), k] * dY[k, pix] is a plain GEMM
// over contiguous dY rows, and col2im then adds each T row into dX, in a fixed (r, s) order.
// Images are processed in chunks so that T stays a bounded workspace.
template <typename T>
struct BackwardDataCol2imProblem {
  static constexpr bool kPrepackA = true;
  const Geometry& g;
  std::int64_t img0, images;  // the chunk
  const T *dy, *w;
  T* t;  // images * G rows blocks of (Cg*R*S) x (P*Q)
  // With `dx` (fused: every tile holds all rows and columns of one image and group), store adds
  // each finished block into dX at once, while it is in cache, instead of through t.
  T* dx;
  // Stride 1, unpadded, short rows: T's columns are (oh, ow) for ow < W, zero past Q, so that
  // each tap's block adds into dX as one run (dX's rows are W long, W = Q + (S - 1) * dw), not
  // a loop per output row.
  bool wide;
  // Unit stride, short rows: col2im on the ISA's kernel (GemmMicrokernel::col2im_rows).
  bool rows_kernel;

  std::int64_t batches() const { return images * g.G; }
  std::int64_t period() const { return g.G; }
  std::int64_t m(std::int64_t) const { return g.Cg * g.R * g.S; }
  std::int64_t n(std::int64_t) const { return g.P * (wide ? g.W : g.Q); }
  std::int64_t k(std::int64_t) const { return g.Kg; }
  std::int64_t a_operand(std::int64_t b) const { return b % g.G; }

  // A[(c,r,s), k] = W[k, (c,r,s)]
  void pack_a(std::int64_t grp, std::int64_t k0, std::int64_t kc, std::int64_t i0, std::int64_t i1, T* dst,
              int mr) const {
    const std::int64_t crs = m(0);
    dst += i0 * kc;
    for (std::int64_t ir = i0; ir < std::min(i1, crs); ir += mr, dst += kc * mr) {
      const std::int64_t count = std::min<std::int64_t>(mr, crs - ir);
      for (std::int64_t p = 0; p < kc; ++p) {
        const T* wk = w + (grp * g.Kg + k0 + p) * crs + ir;
        for (std::int64_t i = 0; i < mr; ++i) dst[p * mr + i] = i < count ? wk[i] : T(0);
      }
    }
  }

  void pack_b(std::int64_t b, std::int64_t k0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
              T* dst, int nr) const {
    const T* dyg = dy + ((img0 + b / g.G) * g.K + b % g.G * g.Kg) * g.P * g.Q;
    // the columns are one image's pixels, consecutive in dY
    if (!wide) return pack_whole_rows(dyg + k0 * g.P * g.Q + j0, g.P * g.Q, kc, nc, dst, nr);
    for (std::int64_t jj = 0; jj < nc; jj += nr, dst += kc * nr) {
      const std::int64_t count = std::min<std::int64_t>(nr, nc - jj), j = j0 + jj, oh0 = j / g.W, ow0 = j % g.W;
      for (std::int64_t p = 0; p < kc; ++p) {
        const T* plane = dyg + (k0 + p) * g.P * g.Q;
        // row by row: Q values of dY, then zeros to W (the divisions hoisted: per run, they
        // took as long as the copies on LeNet's 12-column rows)
        for (std::int64_t col = 0, oh = oh0, ow = ow0; col < count; ++oh, ow = 0) {
          const std::int64_t len = std::min(count - col, g.W - ow), values = std::clamp<std::int64_t>(g.Q - ow, 0, len);
          T* d = dst + p * nr + col;
          copy_run(plane + oh * g.Q + ow, values, d);
          for (std::int64_t t = values; t < len; ++t) d[t] = T(0);
          col += len;
        }
      }
      zero_tail(dst, kc, count, nr);
    }
  }

  void store(std::int64_t b, std::int64_t i0, std::int64_t mc, std::int64_t j0, std::int64_t nc, const T* c,
             std::int64_t ldc) const {
    const std::int64_t crs = m(0), pq = n(0);
    if (dx) {  // all of (image, group) b: its planes, (c, r, s) rows ldc apart
      T* planes = dx + (img0 * g.G + b) * g.Cg * g.H * g.W;
      add_planes(c, ldc, planes, g.Cg);
      return;
    }
    for (std::int64_t i = 0; i < mc; ++i)
      std::copy(c + i * ldc, c + i * ldc + nc, t + (b * crs + i0 + i) * pq + j0);
  }

  // dX[img, grp*Cg + c] = sum over (r, s) of row (c, r, s) of T placed at its taps.
  void col2im(T* out, int threads) const {
    const std::int64_t planes = images * g.G * g.Cg, pq = n(0);
    // planes pl = (image in chunk, group, c), a run of them a thread
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && !forked_child())
    for (int part = 0; part < threads; ++part) {
      const std::int64_t p0 = planes * part / threads, p1 = planes * (part + 1) / threads;
      add_planes(t + p0 * g.R * g.S * pq, pq, out + (img0 * g.C + p0) * g.H * g.W, p1 - p0);
    }
  }

  // `count` consecutive planes of dX, each from its R*S rows of T (`ld` apart, the next plane's
  // R*S rows on), in a fixed (r, s) order.
  void add_planes(const T* tc, std::int64_t ld, T* dxp, std::int64_t count) const {
    if (rows_kernel) {
      const Col2imGeometry geometry{g.H, g.W, g.P, g.Q, g.R, g.S, g.dh, g.dw, g.pt, g.pl};
      return gemm_microkernel<T>().col2im_rows(geometry, tc, ld, g.R * g.S * ld, dxp, count);
    }
    for (std::int64_t c = 0; c < count; ++c) add_plane(tc + c * g.R * g.S * ld, ld, dxp + c * g.H * g.W);
  }

  // One plane of dX from its R*S rows of T (`ld` apart), in a fixed (r, s) order.
  void add_plane(const T* tc, std::int64_t ld, T* dxp) const {
    std::fill(dxp, dxp + g.H * g.W, T(0));
    if (wide) {  // tap (r, s) adds row oh of its block at dX row oh + r*dh, column s*dw: one run
      const std::int64_t len = g.P * g.W - (g.S - 1) * g.dw;  // the last row's zeros would pass the plane
      for (std::int64_t r = 0; r < g.R; ++r)
        for (std::int64_t s = 0; s < g.S; ++s) {
          const std::int64_t at = r * g.dh * g.W + s * g.dw;
          add_run(tc + (r * g.S + s) * ld, at, at + len, dxp);
        }
      return;
    }
    std::int64_t lo[kMaxTaps], hi[kMaxTaps];  // per s, the output columns inside the plane
    const bool table = g.S <= kMaxTaps;
    auto bounds = [&](std::int64_t s, std::int64_t& l, std::int64_t& h) {
      const std::int64_t off = s * g.dw - g.pl;  // iw = ow * sw + off
      l = std::min(off >= 0 ? 0 : (-off + g.sw - 1) / g.sw, g.Q);
      h = std::max(l, std::min(g.W - 1 - off < 0 ? 0 : (g.W - 1 - off) / g.sw + 1, g.Q));
    };
    if (table)
      for (std::int64_t s = 0; s < g.S; ++s) bounds(s, lo[s], hi[s]);
    for (std::int64_t r = 0; r < g.R; ++r)
      for (std::int64_t s = 0; s < g.S; ++s) {  // (r, s) outermost: rows of one tap never overlap
        std::int64_t l, h;
        if (table) {
          l = lo[s], h = hi[s];
        } else {
          bounds(s, l, h);
        }
        if (l == h) continue;
        for (std::int64_t oh = 0; oh < g.P; ++oh) {
          const std::int64_t ih = oh * g.sh - g.pt + r * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          const T* __restrict src = tc + (r * g.S + s) * ld + oh * g.Q;
          T* __restrict dst = dxp + ih * g.W + s * g.dw - g.pl;
          if (g.sw == 1) {  // a unit stride, which the compiler vectorises
            for (std::int64_t ow = l; ow < h; ++ow) dst[ow] += src[ow];
          } else {
            for (std::int64_t ow = l; ow < h; ++ow) dst[ow * g.sw] += src[ow];
          }
        }
      }
  }
  static constexpr std::int64_t kMaxTaps = 16;  // kernel widths whose column bounds add_plane tabulates

  // dst[i] += src[i - lo] for lo <= i < hi, in vectors at multiples of their width from dst: each
  // tap's vectors then land where the last tap's were stored, so their loads take the stored
  // values at once. Runs one element apart made every load overlap two pending stores and
  // wait for them (LeNet conv2's wide planes: the adds took 1.5 times as long).
  static void add_run(const T* __restrict src, std::int64_t lo, std::int64_t hi, T* __restrict dst) noexcept {
    constexpr std::int64_t V = 16 / sizeof(T);  // the baseline's vector
    const std::int64_t a = std::min(hi, (lo + V - 1) / V * V), b = std::max(a, hi / V * V);
    for (std::int64_t i = lo; i < a; ++i) dst[i] += src[i - lo];
    for (std::int64_t i = a; i < b; i += V)
      for (std::int64_t v = 0; v < V; ++v) dst[i + v] += src[i + v - lo];
    for (std::int64_t i = b; i < hi; ++i) dst[i] += src[i - lo];
  }
};

// Computed transposed, dW^T[(c,r,s), k] = X_col[(c,r,s), (n,pix)] * dY^T[(n,pix), k], so that
// the im2col side is gathered along pixel rows (contiguous runs) and swept by every k.
template <typename T>
struct BackwardWeightsProblem {
  static constexpr bool kPrepackA = false;
  const Geometry& g;
  const T *x, *dy;
  T* dw;
  // With `padded`: every (image, channel) plane of x copied by `source`, one buffer apart.
  const T* padded;
  const PaddedSource* source;

  std::int64_t batches() const { return g.G; }
  std::int64_t period() const { return g.G; }
  std::int64_t m(std::int64_t) const { return g.Cg * g.R * g.S; }
  std::int64_t n(std::int64_t) const { return g.Kg; }
  std::int64_t k(std::int64_t) const { return g.N * g.P * g.Q; }
  std::int64_t a_operand(std::int64_t b) const { return b; }

  // A[(c,r,s), (img, pix)] = X[img, c, oh*sh - pt + r*dh, ow*sw - pl + s*dw]
  void pack_a(std::int64_t grp, std::int64_t k0, std::int64_t kc, std::int64_t i0, std::int64_t i1, T* dst,
              int mr) const {
    if (padded) return pack_a_padded(grp, k0, kc, i0, i1, dst, mr);
    const std::int64_t pq = g.P * g.Q, crs = m(grp);
    dst += i0 * kc;
    for (std::int64_t ir = i0; ir < std::min(i1, crs); ir += mr, dst += kc * mr) {
      for (std::int64_t i = 0; i < mr; ++i) {
        if (ir + i >= crs) {
          for (std::int64_t p = 0; p < kc; ++p) dst[p * mr + i] = T(0);
          continue;
        }
        const std::int64_t row = ir + i, c = row / (g.R * g.S), r = row / g.S % g.R, s = row % g.S;
        for (std::int64_t p = 0; p < kc;) {  // one run per image
          const std::int64_t kk = k0 + p, img = kk / pq, pix = kk % pq, run = std::min(kc - p, pq - pix);
          gather(x + img * g.xn + (grp * g.Cg + c) * g.xc, g.H, g.W, g.xh, g.xw, g.Q, pix / g.Q, pix % g.Q, run, g.sh,
                 r * g.dh - g.pt, g.sw, s * g.dw - g.pl, dst + p * mr + i, mr);
          p += run;
        }
      }
    }
  }

  // The same from the padded planes: the columns split into runs along output rows, found once,
  // and every row copies those runs with no bounds checks.
  void pack_a_padded(std::int64_t grp, std::int64_t k0, std::int64_t kc, std::int64_t i0, std::int64_t i1, T* dst,
                     int mr) const {
    const DepthwisePlane& pg = source->geometry();
    const std::int64_t pq = g.P * g.Q, crs = m(grp), plane = source->buffer_elems();
    std::int64_t runs[3 * kMaxRuns];  // (source offset, first column, length) triples
    std::size_t n_runs = 0;
    for (std::int64_t p = 0; p < kc && n_runs < 3 * kMaxRuns; n_runs += 3) {
      const std::int64_t kk = k0 + p, img = kk / pq, oh = kk % pq / g.Q, ow = kk % g.Q, len = std::min(kc - p, g.Q - ow);
      runs[n_runs] = (img * g.C + grp * g.Cg) * plane + oh * pg.sh * pg.ld + ow, runs[n_runs + 1] = p, runs[n_runs + 2] = len;
      p += len;
    }
    dst += i0 * kc;
    for (std::int64_t ir = i0; ir < std::min(i1, crs); ir += mr, dst += kc * mr)
      for (std::int64_t i = 0; i < mr; ++i) {
        if (ir + i >= crs) {
          for (std::int64_t p = 0; p < kc; ++p) dst[p * mr + i] = T(0);
          continue;
        }
        const std::int64_t row = ir + i, c = row / (g.R * g.S), r = row / g.S % g.R, s = row % g.S;
        const T* src = padded + c * plane + r * pg.dh * pg.ld + pg.tap[s];
        for (std::size_t u = 0; u < n_runs; u += 3) {
          const T* from = src + runs[u];
          T* to = dst + runs[u + 1] * mr + i;
          for (std::int64_t t = 0; t < runs[u + 2]; ++t) to[t * mr] = from[t];
        }
      }
  }

  // B[(img, pix), k] = dY[img, k, pix]: the panel's filter rows, one run of pixels per image
  void pack_b(std::int64_t grp, std::int64_t k0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
              T* dst, int nr) const {
    const std::int64_t pq = g.P * g.Q;
    const PackPanelFn<T> pack = gemm_microkernel<T>().pack;
    for (std::int64_t jj = 0; jj < nc; jj += nr, dst += kc * nr) {
      const T* dyk = dy + (grp * g.Kg + j0 + jj) * pq;
      for (std::int64_t p = 0; p < kc;) {
        const std::int64_t kk = k0 + p, img = kk / pq, pix = kk % pq, run = std::min(kc - p, pq - pix);
        pack(dyk + img * g.K * pq + pix, pq, std::min<std::int64_t>(nr, nc - jj), run, dst + p * nr, nr);
        p += run;
      }
    }
  }

  void store(std::int64_t grp, std::int64_t i0, std::int64_t mc, std::int64_t j0, std::int64_t nc, const T* c,
             std::int64_t ldc) const {
    const std::int64_t crs = m(grp);
    for (std::int64_t j = 0; j < nc; ++j) {
      T* dwk = dw + (grp * g.Kg + j0 + j) * crs + i0;
      for (std::int64_t i = 0; i < mc; ++i) dwk[i] = c[i * ldc + j];
    }
  }
};

template <typename T>
class DirectConv final : public ConvImpl {
 public:
  // workspace_bound: padded input planes are used only where the workspace stays within it.
  // nested: the forward of another plan's input gradient (as_forward), which needs no gradients.
  DirectConv(const ConvDesc& desc, int threads, std::size_t workspace_bound, bool nested = false)
      : g_(desc), rows_(phase_taps(g_.sh, g_.nph, g_.R, g_.dh, g_.pt)),
        cols_(phase_taps(g_.sw, g_.npw, g_.S, g_.dw, g_.pl)) {
    // Not for 1x1: its A rows, W's columns, are a float apart, and packing them measured faster.
    const bool table_fits = g_.Kg * g_.R * g_.S <= kMaxTable && g_.Cg * g_.R * g_.S <= kMaxTable;
    for (std::int64_t ph = 0; ph < g_.nph && g_.R * g_.S > 1 && table_fits; ++ph)
      for (std::int64_t pw = 0; pw < g_.npw; ++pw) {
        std::vector<std::int64_t> off;  // A's columns (k, tr, ts) of phase (ph, pw), in order
        for (std::int64_t k = 0; k < g_.Kg; ++k)
          for (std::int64_t r : rows_[std::size_t(ph)].index)
            for (std::int64_t s : cols_[std::size_t(pw)].index) off.push_back((k * g_.Cg * g_.R + r) * g_.S + s);
        phase_offsets_.push_back(std::move(off));
      }
    const GemmMicrokernel<T>& uk = gemm_microkernel<T>();
    kernel_name_ = uk.name;
    // Inputs with taps that a gather would have to bounds-check or stride, and channels-last
    // inputs, whose gathers stride over the channels (VGG-16 conv1_1's weight gradient at batch 8:
    // 30.7 -> 18.5 ms), are first copied, a chunk of images at a time, into padded NCHW planes
    // (1x1 stride-1 columns of NCHW inputs are plain rows), unless one image's planes pass 32 MB
    // or the workspace bound. Not where strides skip rows or columns that no tap reads: the copy
    // would be mostly unread.
    const bool unread = g_.sh > (g_.R - 1) * g_.dh + 1 || g_.sw > (g_.S - 1) * g_.dw + 1;
    const bool nhwc = desc.input_layout == Layout::NHWC;
    if (uk.nr <= kMaxPanel && !unread &&
        (nhwc || g_.R * g_.S > 1 || g_.sh * g_.sw > 1 || g_.pt + g_.pl > 0 || g_.P < g_.H || g_.Q < g_.W))
      padded_ = std::make_unique<PaddedSource>(g_.H, g_.W, 1, 1, g_.pt, g_.pl, g_.P, g_.Q, g_.R, g_.S, g_.sh, g_.sw,
                                               g_.dh, g_.dw, sizeof(T), ~std::size_t(0));
    // huge images gather in place (the estimate in floating point, as sizes may overflow)
    if (padded_ && (padded_->oversized() || double(g_.C) * padded_->estimate() > double(kPaddedBytes / sizeof(T))))
      padded_.reset();
    const std::int64_t per_image = padded_ ? g_.C * padded_->buffer_elems() : 0;
    fwd_chunk_ = padded_ ? std::clamp<std::int64_t>(kPaddedBytes / std::int64_t(sizeof(T)) / per_image, 1, g_.N) : g_.N;
    for (;;) {
      plan_wide(uk, table_fits);
      padded_elements_ = padded_ ? fwd_chunk_ * per_image + (wide_offsets_.empty() ? 0 : kMaxPanel) : 0;
      merged_ = padded_ && fwd_chunk_ > 1 && g_.P * g_.Q <= kMergedPixels;
      fwd_ = make_layout(forward_problem(nullptr, nullptr, nullptr, nullptr, 0, fwd_chunk_, nullptr), forward_rows(),
                         uk.nr, sizeof(T), threads);
      if (!padded_ || workspace_size(Direction::Forward) <= workspace_bound) break;
      if (fwd_chunk_ > 1) {
        fwd_chunk_ = 1;
      } else {
        padded_.reset();
        fwd_chunk_ = g_.N;
      }
    }
    in_place_ = padded_ && !nhwc && padded_->identity() && wide_offsets_.empty();  // wide columns read past the planes
    // Turned around (the *_indirect paths), the pixels or taps become the microkernel's rows, read
    // in place from the padded planes: nothing of X_col is packed. The forward not for short
    // reductions, which would not pay for the transposed stores (measured: a 3-channel 3x3 layer
    // with 32 filters runs slower); the weight gradient, which stores each micro-tile once, for
    // any (measured against the GEMM: VGG-16 conv1_1, 27 taps and 64 filters, 17-22% faster;
    // 3-channel 3x3 layers with 16 and 32 filters 27-60%; 1 channel and 128 filters, as fast).
    const bool turns_weights = padded_ && table_fits && uk.mr <= kMaxIndirectRows && uk.nr <= kMaxPanel;
    const bool turns = turns_weights && g_.Cg * g_.R * g_.S >= 2 * g_.Kg;
    if (turns_weights) offsets_ = tap_offsets(*padded_);
    // The forward pass from half a panel of filters up to four panels (measured: the 7x7 stem and
    // 3x3 layers of 64 filters gain, of 128 and 512 lose, LeNet's 6 filters lose): with fewer,
    // the idle columns cost more than packing; with more, each packed im2col value feeds enough
    // rows. The weight gradient with any number (measured: LeNet's 6-filter first layer, the 7x7
    // stem, and 3x3 layers of 16 to 512 filters at stride 1 and 2), since it packs only dY^T.
    // Not for 8 filters that the 8-row GEMM reads in place (wide columns): ResNeXt-50's 28x28
    // stage at batch 16, 10.0 -> 7.5 ms; 8 filters from 3 channels 0.52 -> 0.35 ms. At stride 2,
    // batch 1, or 16 filters, the one-vector gathered kernel stayed ahead.
    const bool eight_wide = forward_rows() == 8 && g_.Kg == 8 && !wide_offsets_.empty();
    indirect_ = turns && panels_filled(uk, g_.Kg) && g_.Kg <= 4 * uk.nr && !eight_wide;
    if (indirect_) filter_elements_ = g_.G * ceil_div(g_.Kg, filter_panel()) * filter_panel() * std::int64_t(offsets_.size());
    // Pixels in runs along output rows where the ISA has a kernel for them (ResNeXt-50's 14x14
    // stage at batch 16, one thread: forward 4.66 -> 4.12 ms, input gradient 4.65 -> 3.93).
    if (indirect_) run_ = run_kernel_for(uk, g_.Q, filter_panel());
    threads_ = threads;
    const std::int64_t all_planes = padded_elements_;
    plan_task_planes(nhwc);
    if (task_planes_ && workspace_size(Direction::Forward) > workspace_bound) task_planes_ = 0, padded_elements_ = all_planes;
    if (indirect_ && workspace_size(Direction::Forward) > workspace_bound)
      indirect_ = false, filter_elements_ = 0;  // its stages would pass the bound: the GEMM's fits
    // On one thread, the GEMM's images that are entries of their own (not merged) are padded a
    // few at a time, so that their planes are still in L2 when it reads them (ResNeXt-50's 28x28
    // stage at batch 16: 6.0 -> 5.0 ms). Not merged GEMMs, whose weights each chunk would read
    // again (ResNet-18 layer4.down: 1.06x slower), nor two threads, where each thread pads planes
    // that the other's tiles read (no faster).
    pad_step_ = fwd_chunk_;
    if (padded_ && !indirect_ && !merged_ && threads == 1)
      pad_step_ = std::clamp<std::int64_t>(kPadStepBytes / (per_image * std::int64_t(sizeof(T))), 1, fwd_chunk_);
    nested_ = nested;
    if (nested) return;  // it runs its forward only
    plan_as_forward(desc, threads, workspace_bound);
    if (!as_forward_) plan_backward_data(uk, threads, workspace_bound);
    bwd_weights_ = make_layout(backward_weights_problem(nullptr, nullptr, nullptr, nullptr), uk.mr, uk.nr, sizeof(T),
                               threads);
    // The weight gradient reduces over all images, so it pads them all at once, where they fit.
    // (Under the workspace bound with the GEMM's workspace or weights_indirect's, below.)
    if (padded_ && bwd_weights_.kc <= kMaxRuns && double(g_.N) * double(per_image) <= double(kPaddedWeightBytes / sizeof(T)))
      padded_weight_elements_ = g_.N * per_image;
    // As row dot products where they apply (plan_weights_rows), which need nothing planned below.
    plan_weights_rows(threads, workspace_bound);
    if (rows_weights_) return;
    // The weight gradient turned around, dW^T[(c,r,s), k] = X_col[(c,r,s), pix] dY^T[pix, k]: the
    // taps become the rows, read in place at the pixels' offsets, against dY^T in filter panels
    // (weights_indirect). Each tap tile streams its panel of dY^T, so where all of dY^T would
    // pass kTurnedBytes, or the workspace bound, it is packed and reduced a chunk of pixels at
    // a time, a chunk in L2 (measured: the stem at batch 16, 51 MB of dY^T, ran slower in one
    // piece than the GEMM, and 30% faster at 1 thread in chunks; on one thread ResNet-18
    // layer2.down at batch 16, 6.4 MB, 1.11x and ResNeXt-50 layer3.down 1.22x faster in chunks,
    // on two threads within 3% either way).
    const std::int64_t pq = g_.P * g_.Q, per_run = std::clamp<std::int64_t>(kMaxRuns / pq, 1, g_.N);
    const std::int64_t per_pixel = g_.G * ceil_div(g_.Kg, uk.nr) * uk.nr;
    const double dyt = double(g_.N) * double(per_pixel) * double(pq);
    if (turns_weights && padded_weight_elements_ > 0 && pq <= kIndirectPixels) {
      plan_weight_source();
      wrun_ = tap_runs(uk);
      for (bool chunked : {dyt > double(kTurnedBytes / sizeof(T)), true}) {
        chunk_weights(per_pixel, per_run, chunked);
        split_weights(uk);
        if (workspace_size(Direction::BackwardWeights) <= workspace_bound) break;
        dyt_elements_ = 0;
      }
      if (dyt_elements_ == 0 && wpadded_) {  // the GEMM reads the forward's planes
        wpadded_.reset(), woffsets_.clear(), wrun_ = {};
        padded_weight_elements_ = g_.N * per_image;
      }
      // Chunks of whole images pad their own planes, each chunk into one buffer that stays in
      // cache, where all planes padded at once went to memory and came back for every tap tile
      // (ResNeXt-50's layer3.down at batch 16: 5.77 -> 5.41 ms on one thread, 2.73 -> 2.39 on two;
      // its layer3 1.86 -> 1.64 on two); chunks of an image's pixels pad the image at its first
      // chunk (ResNet-18 layer2.down at batch 16: 14.8 -> 13.8 ms on one thread, 8.2 -> 7.5 on two).
      if (dyt_elements_ > 0 && weight_chunks() > 1 && (chunk_pixels_ == g_.P * g_.Q || chunk_images_ == 1) &&
          !(in_place_ && !wpadded_)) {
        pad_chunks_ = true;
        padded_weight_elements_ = padded_weight_elements_ / g_.N * chunk_images_;
      }
    }
    if (dyt_elements_ == 0 && workspace_size(Direction::BackwardWeights) > workspace_bound) padded_weight_elements_ = 0;
    if (dyt_elements_ > 0) {
      const PaddedSource& src = wpadded_ ? *wpadded_ : *padded_;
      const std::int64_t step = wpadded_ ? g_.sw : 1;  // between a row's pixels (unsplit columns)
      for (std::int64_t pix = 0; pix < pq; ++pix)
        pixel_offsets_.push_back(pix / g_.Q * src.geometry().sh * src.geometry().ld + pix % g_.Q * step);
      plane_elems_ = src.buffer_elems();
    }
    // 1x1, stride 1, unpadded, NCHW: the input planes are the rows of X_col as they lie, so any
    // number of filters gains (measured on ResNet-50's 1x1 layers: no pack of X^T at all).
    const bool plain = g_.R * g_.S == 1 && g_.sh * g_.sw == 1 && g_.P == g_.H && g_.Q == g_.W &&
                       desc.input_layout == Layout::NCHW && uk.mr <= kMaxIndirectRows && uk.nr <= kMaxPanel;
    if (plain && dyt_elements_ == 0 && pq <= kIndirectPixels && g_.Cg <= kMaxTable && dyt <= double(kPaddedWeightBytes / sizeof(T))) {
      // Or the other way round, dW = dY * X^T: dY's planes are the rows, X^T is packed, and dW is
      // stored row by row. Chosen where X^T costs less to pack than dY^T plus the transposed
      // store of dW, whose rows may lie 4 KB apart, in one L1 set (measured: ResNet-50's 1x1 at
      // batch 1 spent 20% of its time in that store).
      const std::int64_t per_pixel_x = g_.G * ceil_div(g_.Cg, uk.nr) * uk.nr;  // X^T's, per pixel
      const double xt = double(g_.N) * double(per_pixel_x) * double(pq);
      swapped_ = xt < dyt + kTransposedStoreCost * double(g_.K) * double(g_.Cg) && g_.Kg <= kMaxTable &&
                 xt <= double(kPaddedWeightBytes / sizeof(T));
      // In chunks where the copy passes L2: each tap tile streams it, and the 1x1 layers have
      // few multiply-adds per element of it (ResNet-50's 1x1 layers at batch 16, 12.8 MB of
      // copy: 1.35-1.4x faster in chunks on 1 and 2 threads).
      const double copy = (swapped_ ? xt : dyt) * double(sizeof(T));
      chunk_weights(swapped_ ? per_pixel_x : per_pixel, per_run, copy > double(kL2Bytes));
      offsets_.clear();
      wrun_ = {};  // a plane per row: no runs
      for (std::int64_t c = 0; c < (swapped_ ? g_.Kg : g_.Cg); ++c) offsets_.push_back(c * pq);
      for (std::int64_t pix = 0; pix < pq; ++pix) pixel_offsets_.push_back(pix);
      plane_elems_ = pq;
      split_weights(uk);
      if (workspace_size(Direction::BackwardWeights) > workspace_bound) dyt_elements_ = 0, swapped_ = false;
    }
    // Small images are reduced a few at a time, so that each microkernel call runs long enough to
    // pay for its setup and store (ResNet-18 layer4.down: 49 pixels per image): the table goes on
    // over the next images' planes, which lie C planes apart (K, swapped).
    if (dyt_elements_ > 0) {
      images_per_run_ = per_run;
      for (std::int64_t img = 1; img < images_per_run_; ++img)
        for (std::int64_t pix = 0; pix < pq; ++pix)
          pixel_offsets_.push_back(img * (swapped_ ? g_.K : g_.C) * plane_elems_ + pixel_offsets_[std::size_t(pix)]);
    }
  }

  std::string name() const override {
    return std::string("direct/") + kernel_name_ + forward_tag() + data_tag() + weights_tag();
  }
  // +indirect or the 8-row kernel's name is the forward's; +col2im, or +rotated and the nested
  // forward's, the input gradient's; the row dot kernel's name, the weight gradient's
  std::string name_of(Direction d) const override {
    return std::string("direct/") + kernel_name_ + (d == Direction::Forward ? forward_tag() : "") +
           (d == Direction::BackwardData ? data_tag() : "") + (d == Direction::BackwardWeights ? weights_tag() : "");
  }
  std::string weights_tag() const {
    if (dyt_elements_ > 0 && wrun_.run) return runs_tag(wrun_);
    if (!rows_weights_) return "";
    return std::string("+") + (dot_narrow_ ? row_dot_kernel<T>().narrow_name : row_dot_kernel<T>().name);
  }
  std::string data_tag() const {
    if (as_forward_) return "+rotated" + as_forward_->forward_tag();
    if (data_indirect_) return data_run(0) ? runs_tag(*data_run(0)) : "";
    return (use_col2im() ? "+col2im" : "") + rows_tag<T>(bwd_data_.mr);
  }
  static std::string runs_tag(const GemmRunKernel<T>& k) {
    return "+runs" + std::to_string(k.length) + "x" + std::to_string(k.runs);
  }
  std::string forward_tag() const {
    if (indirect_ && run_.run) return runs_tag(run_);
    if (indirect_) return "+indirect";
    return rows_tag<T>(fwd_.mr);
  }

  std::size_t workspace_size(Direction d) const noexcept override {
    if (d == Direction::BackwardData && as_forward_)
      return std::size_t(rotated_elements()) * sizeof(T) + kWorkspaceAlign + as_forward_->workspace_size(Direction::Forward);
    if (d == Direction::BackwardData && data_indirect_)
      return std::size_t(dy_pad_.elements + dy_pad_.weights) * sizeof(T) + kWorkspaceAlign;
    if (d == Direction::Forward && indirect_)
      return std::size_t(stage_offset() + threads_ * (kStageSlot + task_planes_)) * sizeof(T) + kWorkspaceAlign;
    const GemmLayout& L = d == Direction::Forward ? fwd_ : d == Direction::BackwardData ? bwd_data_ : bwd_weights_;
    const std::int64_t extra =
        d == Direction::BackwardData ? col2im_elements_ : d == Direction::Forward ? padded_elements_ : padded_weight_elements_;
    if (d == Direction::BackwardWeights && rows_weights_)
      return std::size_t((dot_slot_ ? threads_ * dot_slot_ : padded_weight_elements_) + dot_workspace()) * sizeof(T) +
             kWorkspaceAlign;
    if (d == Direction::BackwardWeights && dyt_elements_ > 0)
      return std::size_t(padded_weight_elements_ + dyt_elements_ + partial_elements_) * sizeof(T) + kWorkspaceAlign;
    return std::size_t(L.workspace_elements() + extra) * sizeof(T) + kWorkspaceAlign;
  }

  void forward(const void* x, const void* w, const void* bias, void* y, void* ws) const noexcept override {
    T* work = static_cast<T*>(align_workspace(ws));
    const T* ready = w ? nullptr : packed_fwd_.data();
    if (!padded_) return run_gemm<T>(forward_problem(x, weights(w), bias, y, 0, g_.N, nullptr), fwd_, work, ready);
    T* planes = work + (indirect_ ? filter_elements_ : fwd_.workspace_elements());
    if (indirect_) pack_filters(static_cast<const T*>(weights(w)), work);
    const std::int64_t hw = g_.H * g_.W;
    for (std::int64_t img = 0; img < g_.N; img += pad_step_) {
      const std::int64_t images = std::min(pad_step_, g_.N - img);
      const T* in = static_cast<const T*>(x) + img * g_.C * hw;
      const T* src = task_planes_ ? in : pad_planes(in, images * g_.C, planes, img == 0);
      if (img == 0 && !wide_offsets_.empty() && !indirect_)  // the slack that wide columns read past the planes
        std::fill(planes + padded_elements_ - kMaxPanel, planes + padded_elements_, T(0));
      if (indirect_) {
        forward_indirect(src, img, images, work, static_cast<const T*>(bias), static_cast<T*>(y),
                         work + stage_offset());
        continue;
      }
      run_gemm<T>(forward_problem(x, weights(w), bias, y, img, images, src), fwd_, work, ready);
      // The first chunk packs the weights (unless prepared or read in place); the others reuse it.
      if (ready == nullptr && !fwd_.rows_a) ready = work;
    }
  }

  // Packs the weights for forward and backward data once, as each call would.
  void prepare_weights(const void* w, std::size_t bytes) override {
    ConvImpl::prepare_weights(w, bytes);
    packed_fwd_.resize(std::size_t(fwd_.a_prepacked));
    prepack_a<T>(forward_problem(nullptr, w, nullptr, nullptr, 0, fwd_chunk_, nullptr), fwd_, packed_fwd_.data());
    if (as_forward_) {
      std::vector<T> rotated(static_cast<std::size_t>(rotated_elements()));
      rotate_weights(static_cast<const T*>(w), rotated.data());
      as_forward_->prepare_weights(rotated.data(), rotated.size() * sizeof(T));
    }
    if (nested_ || as_forward_ || data_indirect_) return;  // no packed W^T: none planned, or read unpacked
    packed_bwd_.resize(std::size_t(bwd_data_.a_prepacked));
    if (use_col2im())
      prepack_a<T>(col2im_problem(0, chunk_, nullptr, w, nullptr, nullptr), bwd_data_, packed_bwd_.data());
    else
      prepack_a<T>(backward_data_problem(nullptr, w, nullptr), bwd_data_, packed_bwd_.data());
  }

  void backward_data(const void* dy, const void* w, void* dx, void* ws) const noexcept override {
    T* work = static_cast<T*>(align_workspace(ws));
    if (as_forward_) {  // prepared: the nested plan holds the rotated weights
      if (w) rotate_weights(static_cast<const T*>(w), work);
      return as_forward_->forward(dy, w ? work : nullptr, nullptr, dx, work + rotated_elements());
    }
    if (data_indirect_)
      return data_indirect(static_cast<const T*>(dy), static_cast<const T*>(weights(w)), static_cast<T*>(dx), work);
    // The first chunk packs the weights (unless prepared); the others reuse its packing.
    const T* ready = w ? nullptr : packed_bwd_.data();
    if (!use_col2im()) return run_gemm<T>(backward_data_problem(dy, weights(w), dx), bwd_data_, work, ready);
    if (fused_col2im_) return run_gemm<T>(col2im_problem(0, g_.N, dy, weights(w), nullptr, dx), bwd_data_, work, ready);
    T* t = work + bwd_data_.workspace_elements();
    for (std::int64_t img = 0; img < g_.N; img += chunk_) {
      const auto prob = col2im_problem(img, std::min(chunk_, g_.N - img), dy, weights(w), t, nullptr);
      run_gemm<T>(prob, bwd_data_, work, ready);
      prob.col2im(static_cast<T*>(dx), threads_);
      if (ready == nullptr) ready = work;  // the prepacked area leads the GEMM workspace
    }
  }

  void backward_weights(const void* x, const void* dy, void* dw, void* db, void* ws) const noexcept override {
    T* work = static_cast<T*>(align_workspace(ws));
    const std::int64_t before =
        rows_weights_ ? dot_workspace() : dyt_elements_ > 0 ? dyt_elements_ : bwd_weights_.workspace_elements();
    const T* planes = padded_weight_elements_ && !pad_chunks_ && !dot_slot_
                          ? pad_planes(static_cast<const T*>(x), g_.N * g_.C, work + before, true, wpadded_.get())
                          : nullptr;
    if (rows_weights_) {
      weights_rows(dot_slot_ ? static_cast<const T*>(x) : planes, static_cast<const T*>(dy), work,
                   reinterpret_cast<double*>(work + dot_elements()), static_cast<T*>(dw), work + before);
    } else if (dyt_elements_ > 0) {
      weights_indirect(planes ? planes : static_cast<const T*>(x), static_cast<const T*>(dy), work,
                       work + dyt_elements_ + padded_weight_elements_, static_cast<T*>(dw), pad_chunks_ ? work + before : nullptr);
    } else {
      run_gemm<T>(backward_weights_problem(x, dy, dw, planes), bwd_weights_, work);
    }
    if (db) bias_gradient(g_.N, g_.K, g_.P * g_.Q, static_cast<const T*>(dy), static_cast<T*>(db), bwd_weights_.threads);
  }

 private:
  ForwardProblem<T> forward_problem(const void* x, const void* w, const void* bias, void* y, std::int64_t img0,
                                    std::int64_t images, const T* planes) const {
    return {g_,     static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(bias), static_cast<T*>(y),
            img0,   images, planes, padded_.get(), merged_, wide_offsets_.empty() ? nullptr : wide_offsets_.data(),
            wide_n_};
  }

  // Stride 1 over padded planes, with filters for at most half a panel: the forward GEMM's
  // columns are the padded rows' positions (see ForwardProblem::wide), so that B is read in
  // place, not packed, at the cost of the (S - 1) * dw columns a row computes past Q. Measured:
  // LeNet's 6-filter first layer spent half its time packing, and runs twice as fast; with 64 or
  // more filters each packed value feeds enough microkernel rows to pay for its aligned copy
  // (VGG-16 conv1_1 and ResNet-18 layer3 ran 5-15% slower in place). Reads run up to a panel
  // past the last plane: kMaxPanel elements of slack.
  void plan_wide(const GemmMicrokernel<T>& uk, bool table_fits) {
    wide_offsets_.clear();
    if (!padded_ || g_.sh != 1 || g_.sw != 1 || !table_fits || uk.nr > kMaxPanel || 2 * g_.Kg > uk.nr) return;
    wide_offsets_ = tap_offsets(*padded_);
    wide_n_ = round_up((g_.P - 1) * padded_->geometry().ld + g_.Q, uk.nr);
  }
  BackwardDataProblem<T> backward_data_problem(const void* dy, const void* w, void* dx) const {
    // small phase grids: the images side by side, as forward does
    const bool merged = g_.N > 1 && g_.phase_rows(0) * g_.phase_cols(0) <= kMergedPixels;
    return {g_, rows_, cols_, phase_offsets_, static_cast<const T*>(dy), static_cast<const T*>(w), static_cast<T*>(dx),
            merged};
  }
  // Few input channels per group: the plain GEMM plus col2im reuses dY better than phases do.
  bool use_col2im() const { return g_.Cg <= kCol2imMaxChannels; }
  // col2im on the ISA's kernel: unit stride, dX rows of a few vectors (GemmMicrokernel::col2im_rows).
  bool col2im_rows() const {
    const GemmMicrokernel<T>& uk = gemm_microkernel<T>();
    return uk.col2im_rows && g_.sh == 1 && g_.sw == 1 && g_.S <= kCol2imColumnTaps &&
           ceil_div(g_.W, std::int64_t(uk.vector_width)) <= kCol2imRowVectors;
  }
  // T in wide columns (BackwardDataCol2imProblem::wide) where output rows are short enough that a
  // loop per row costs more than the W - Q extra columns (measured: LeNet's 8-column rows), and no
  // kernel takes the rows: the kernel's GEMM computes no such columns (LeNet conv2's input
  // gradient at batch 64, one thread: 0.349 ms wide with its adds in registers, 0.226 in rows).
  bool wide_col2im() const {
    return !col2im_rows() && g_.sh == 1 && g_.sw == 1 && g_.pt == 0 && g_.pl == 0 &&
           g_.P + (g_.R - 1) * g_.dh == g_.H && g_.Q + (g_.S - 1) * g_.dw == g_.W && g_.Q <= kWideCol2imColumns;
  }
  BackwardDataCol2imProblem<T> col2im_problem(std::int64_t img0, std::int64_t images, const void* dy, const void* w,
                                              T* t, void* dx) const {
    return {g_, img0, images, static_cast<const T*>(dy), static_cast<const T*>(w), t, static_cast<T*>(dx), wide_col2im(),
            col2im_rows()};
  }
  BackwardWeightsProblem<T> backward_weights_problem(const void* x, const void* dy, void* dw, const T* planes) const {
    return {g_, static_cast<const T*>(x), static_cast<const T*>(dy), static_cast<T*>(dw), planes, padded_.get()};
  }

  // The input gradient's GEMM (phase GEMM or col2im) and, where it applies, the turned-around path.
  void plan_backward_data(const GemmMicrokernel<T>& uk, int threads, std::size_t workspace_bound) {
    if (use_col2im()) {
      // Where every GEMM tile holds a whole (image, group), its store adds straight into dX and
      // T is never written; else T is made a chunk of images at a time, and added afterwards.
      bwd_data_ = make_layout(col2im_problem(0, g_.N, nullptr, nullptr, nullptr, nullptr), uk.mr, uk.nr, sizeof(T),
                              threads);
      fused_col2im_ = bwd_data_.ntiles == 1 && bwd_data_.mtiles == 1;
      chunk_ = g_.N;
      if (!fused_col2im_) {
        // On one thread, T about 2 MB a chunk, still in L2 when col2im adds it (VGG-16 conv1_1 at
        // batch 8: 30.7 -> 24.5 ms; the stem at batch 16: 58.3 -> 48.1). Not on two threads, where
        // each thread adds rows that the other's tiles wrote (the stem 5% slower).
        const std::int64_t t_per_image = g_.G * g_.Cg * g_.R * g_.S * g_.P * (wide_col2im() ? g_.W : g_.Q);
        const std::int64_t bytes = threads == 1 ? kCol2imL2Bytes : kCol2imBytes;
        chunk_ = std::max<std::int64_t>(1, std::min(g_.N, (bytes / std::int64_t(sizeof(T))) / t_per_image));
        bwd_data_ = make_layout(col2im_problem(0, chunk_, nullptr, nullptr, nullptr, nullptr), uk.mr, uk.nr, sizeof(T),
                                threads);
        col2im_elements_ = chunk_ * t_per_image;
      }
    } else {
      bwd_data_ = make_layout(backward_data_problem(nullptr, nullptr, nullptr), data_rows(), uk.nr, sizeof(T), threads);
    }
    plan_data_indirect(uk, workspace_bound);
  }

  // At stride 1 the input gradient is a forward convolution: of dY, with each group's kernels
  // rotated by 180 degrees and their filters and channels swapped, over the padding that the
  // rotated taps need, (R - 1) * dh - pad on each side (none may be negative). It then runs on
  // the forward's paths, which gather in place and store whole rows. Measured, one thread,
  // against the phase GEMM, data_indirect or col2im: ResNeXt-50's grouped stages 12.5 -> 8.2
  // (8 channels a group, on the 8-row kernel), 9.2 -> 7.5 and 6.9 -> 6.3 ms; VGG-16 conv3_2 41.5
  // -> 37.4 ms; other dense 3x3 layers within 3%. Not where col2im serves few channels (LeNet:
  // 0.36 -> 1.0 and 0.46 -> 0.62 ms), unless the 8-row kernel takes the nested forward; not for
  // 1x1, whose input gradient is a plain GEMM already.
  void plan_as_forward(const ConvDesc& desc, int threads, std::size_t workspace_bound) {
    const std::int64_t eh = (g_.R - 1) * g_.dh, ew = (g_.S - 1) * g_.dw;
    if (g_.sh != 1 || g_.sw != 1 || g_.R * g_.S == 1 || desc.pad_top > eh || desc.pad_bottom > eh ||
        desc.pad_left > ew || desc.pad_right > ew)
      return;
    ConvDesc d = desc;
    d.c = desc.k, d.h = g_.P, d.w = g_.Q, d.k = desc.c;
    d.pad_top = eh - desc.pad_top, d.pad_bottom = eh - desc.pad_bottom;
    d.pad_left = ew - desc.pad_left, d.pad_right = ew - desc.pad_right;
    d.input_layout = Layout::NCHW;
    as_forward_ = std::make_unique<DirectConv<T>>(d, threads, workspace_bound, true);
    const bool eight = !as_forward_->indirect_ && as_forward_->fwd_.mr == 8;
    if ((use_col2im() && !eight) || workspace_size(Direction::BackwardData) > workspace_bound) as_forward_.reset();
  }
  // the rotated weights' share of the workspace, whole cache lines so that the nested forward's
  // workspace after them stays aligned
  std::int64_t rotated_elements() const noexcept {
    return round_up(g_.C * g_.Kg * g_.R * g_.S, std::int64_t(kWorkspaceAlign / sizeof(T)));
  }
  // wr[grp * Cg + c][k][R-1-r][S-1-s] = w[grp * Kg + k][c][r][s], each (group, channel)'s
  // filters written whole by one thread
  void rotate_weights(const T* w, T* wr) const noexcept {
    const std::int64_t taps = g_.R * g_.S, rows = g_.G * g_.Cg;
#pragma omp parallel for schedule(static) num_threads(threads_) if (threads_ > 1 && !forked_child() && rows * g_.Kg * taps > 65536)
    for (std::int64_t row = 0; row < rows; ++row) {
      const std::int64_t grp = row / g_.Cg, c = row % g_.Cg;
      for (std::int64_t k = 0; k < g_.Kg; ++k) {
        const T* src = w + ((grp * g_.Kg + k) * g_.Cg + c) * taps;
        T* dst = wr + (row * g_.Kg + k) * taps;
        for (std::int64_t t = 0; t < taps; ++t) dst[taps - 1 - t] = src[t];
      }
    }
  }

  // The forward GEMM's rows (gemm_rows).
  int forward_rows() const noexcept { return gemm_rows<T>(g_.Kg); }
  // The input gradient's, over its channels; for one image the main kernel's, whose gathered
  // entry reads the weights in place (ResNet-50's 1x1 at batch 1 ran 3% slower with them packed
  // for 8 rows).
  int data_rows() const noexcept { return g_.N > 1 ? gemm_rows<T>(g_.Cg) : gemm_microkernel<T>().mr; }
  // forward_indirect's filter panels, and data_indirect's channel panels.
  std::int64_t filter_panel() const noexcept { return panel_width(gemm_microkernel<T>(), g_.Kg); }
  std::int64_t channel_panel() const noexcept { return panel_width(gemm_microkernel<T>(), g_.Cg); }

  // W^T per group in filter panels (filter_panel() wide), zero past the last filter:
  // wt[((grp * panels + pn) * taps + p) * nr + j] = w[grp * Kg + pn * nr + j][p].
  void pack_filters(const T* w, T* wt) const noexcept {
    const GemmMicrokernel<T>& uk = gemm_microkernel<T>();
    const std::int64_t nr = filter_panel(), taps = std::int64_t(offsets_.size()), panels = ceil_div(g_.Kg, nr);
    // on every thread where the weights are many (ResNeXt-50's 7x7 stage, 1.2 MB, on two threads:
    // forward 1.65 -> 1.51 ms, input gradient 1.72 -> 1.53)
#pragma omp parallel for schedule(static) num_threads(threads_) if (threads_ > 1 && !forked_child() && g_.K * taps > 65536)
    for (std::int64_t t = 0; t < g_.G * panels; ++t) {
      const std::int64_t grp = t / panels, pn = t % panels;
      uk.pack(w + (grp * g_.Kg + pn * nr) * taps, taps, std::min(nr, g_.Kg - pn * nr), taps, wt + t * taps * nr, nr);
    }
  }

  // Y for images [img0, img0 + images), whose planes lie padded in `planes` (with task_planes_,
  // the images themselves, padded task by task): micro-tiles of mr consecutive pixels by nr
  // filters, each pixel's row of X_col^T read at its window's origin plus the tap offsets (with
  // run_, from the first pixel of its run). Tasks are (image, group, run of micro-tiles), so
  // batch 1 splits too.
  void forward_indirect(const T* planes, std::int64_t img0, std::int64_t images, const T* wt, const T* bias,
                        T* y, T* stages) const noexcept {
    const GemmMicrokernel<T>& uk = gemm_microkernel<T>();
    const std::int64_t nr = filter_panel(), run = run_.length;  // runs: whole runs in every tile
    const std::int64_t mr = run_.run ? run * run_.runs : uk.mr;
    const std::int64_t step = run_.run ? run : 1;  // pixels from one row pointer to the next (runs: their starts)
    const DepthwisePlane& pg = padded_->geometry();
    const std::int64_t plane = padded_->buffer_elems(), pq = g_.P * g_.Q, taps = std::int64_t(offsets_.size());
    // A group's pixels of all the images, one after another, in micro-tiles that may span two
    // images: 7x7 images took 9 tiles of 6 for 49 pixels each (ResNeXt-50's 7x7 stage at batch
    // 16, one thread: 5.68 -> 5.34 ms forward, 6.00 -> 5.57 ms input gradient).
    const std::int64_t total = images * pq, panels = ceil_div(g_.Kg, nr), tiles = ceil_div(total, mr);
    const std::int64_t runs = ceil_div(tiles, kIndirectTiles), tasks = g_.G * runs;
    // Tiles per pass: the micro-tiles of a pass's pixels gather in `out`, are transposed by the
    // panel pack into `stage`, a row per filter, and each row goes to its output plane as one run.
    // Written tile by tile, 16 or more planes took a few values each, in L1 sets that many planes
    // share (the 7x7 stem's store took 16% of its forward). Transposed element by element, the
    // stem's forward ran 5-8% slower at 1 thread, 9-12% at 2.
    const std::int64_t pass = std::clamp<std::int64_t>(kStageElements / (nr * mr), 1, kIndirectTiles);
    const ForwardProblem<T> output = forward_problem(nullptr, nullptr, bias, y, img0, images, planes);  // store_run
    // Each thread takes consecutive tasks, so that its rows of every output plane are its own:
    // handed out one by one, the threads wrote alternate runs of each plane (on 2 threads the
    // stem's forward took 1.33x as long, ResNeXt-50 layer3's 1.30x).
#pragma omp parallel num_threads(threads_) if (threads_ > 1 && !forked_child() && tasks > 1)
    {
      bool cleared = false;  // this thread's task planes, this call
#pragma omp for schedule(static)
      for (std::int64_t task = 0; task < tasks; ++task) {
        const std::int64_t grp = task / runs, t0 = task % runs * kIndirectTiles, t1 = std::min(tiles, t0 + kIndirectTiles);
        T* out = stages + thread_index() * kStageSlot;  // this thread's, a multiple of 64 bytes apart
        T* stage = out + kStageElements;                // rows padded to whole blocks of 8
        const T* rows[kIndirectTiles * kMaxTileRows];   // per tile of the pass, its pixels' windows
        std::int64_t img = t0 * mr / pq, oh = t0 * mr % pq / g_.Q, ow = t0 * mr % g_.Q;  // the next pixel
        // image i's planes of the group at group_planes + (i - first) * image_planes
        const T* group_planes = planes + grp * g_.Cg * plane;
        std::int64_t first = 0, image_planes = g_.C * plane;
        if (task_planes_) {
          T* slot = stages + threads_ * kStageSlot + thread_index() * task_planes_;
          pad_task(planes, grp, t0 * mr, std::min(total, t1 * mr) - 1, slot, !cleared);
          cleared = true, group_planes = slot, first = img, image_planes = g_.Cg * plane;
        }
        auto advance = [&] {
          if ((ow += step) < g_.Q) return;
          ow = 0;
          if (++oh == g_.P) oh = 0, ++img;
        };
        for (std::int64_t s0 = t0; s0 < t1; s0 += pass) {
          const std::int64_t s1 = std::min(t1, s0 + pass), pix0 = s0 * mr, npix = std::min(total, s1 * mr) - pix0;
          for (std::int64_t t = s0; t < s1; ++t) {
            const std::int64_t count = std::min<std::int64_t>(mr, total - t * mr);
            for (std::int64_t i = 0; i < mr; i += step) {  // rows past the last pixel repeat it (or its run), not stored
              const T** row = rows + (t - s0) * mr + i;
              *row = i < count ? group_planes + (img - first) * image_planes + oh * pg.sh * pg.ld + ow : row[-step];
              if (i + step < count) advance();
            }
            advance();
          }
          const std::int64_t ld = round_up(npix, 8);
          for (std::int64_t pn = 0; pn < panels; ++pn) {
            const std::int64_t width = std::min<std::int64_t>(nr, g_.Kg - pn * nr);
            const T* panel = wt + (grp * panels + pn) * taps * nr;
            if (run_.run)
              gathered_blocks(run_.run, nr, taps, rows, offsets_.data(), panel, out, false, s1 - s0, mr);
            else
              gathered_products(uk, nr, s1 - s0, taps, rows, offsets_.data(), panel, out);
            uk.pack(out, nr, npix, width, stage, ld);  // stage[j * ld + q] = out[q * nr + j]
            for (std::int64_t q = pix0; q < pix0 + npix;) {  // a run per image
              const std::int64_t len = std::min(pix0 + npix - q, pq - q % pq);
              output.store_run(grp, pn * nr, width, img0 + q / pq, q % pq, len, stage + (q - pix0), ld);
              q += len;
            }
          }
        }
      }
    }
  }

  // forward_indirect's planes padded task by task, each task its images' planes of its group, into
  // a slot per thread that stays in L2, where such a slot is small: padded all at once, the planes
  // went out to memory and came back for the products (ResNeXt-50 at batch 16, one thread:
  // layer3.down forward 8.5 -> 5.0 ms, layer3 forward 3.5 -> 3.1, its input gradient 3.5 -> 3.1).
  void plan_task_planes(bool nhwc) {
    task_planes_ = 0;
    if (!indirect_ || in_place_ || nhwc) return;
    const std::int64_t mr = run_.run ? run_.length * run_.runs : gemm_microkernel<T>().mr, pq = g_.P * g_.Q;
    const std::int64_t spanned = std::min(fwd_chunk_, (kIndirectTiles * mr - 1) / pq + 2);  // images a task reaches
    const std::int64_t slot = round_up(spanned * g_.Cg * padded_->buffer_elems(), 16);
    if (slot * std::int64_t(sizeof(T)) <= kTaskPlaneBytes) task_planes_ = slot, padded_elements_ = 0;
  }
  // Group grp's planes of the images that pixels [p0, p1] of a forward_indirect call reach, the
  // rows that those pixels read, into slot (image by image, Cg planes each), cleared first with
  // `clear` where the fills leave padding unwritten.
  void pad_task(const T* x, std::int64_t grp, std::int64_t p0, std::int64_t p1, T* slot, bool clear) const noexcept {
    const PaddedSource& src = *padded_;
    const std::int64_t pq = g_.P * g_.Q, hw = g_.H * g_.W, plane = src.buffer_elems(), a = p0 / pq, b = p1 / pq;
    const bool whole = src.fills_whole_rows();
    if (clear && !whole) std::fill(slot, slot + task_planes_, T(0));
    for (std::int64_t img = a; img <= b; ++img) {
      const T* in = x + (img * g_.C + grp * g_.Cg) * hw;
      T* out = slot + (img - a) * g_.Cg * plane;
      const std::int64_t oh0 = img == a ? p0 % pq / g_.Q : 0, oh1 = img == b ? p1 % pq / g_.Q : g_.P - 1;
      if (oh0 == 0 && oh1 == g_.P - 1) {
        src.fill_planes(in, hw, g_.Cg, out, whole);
        continue;
      }
      const std::int64_t at = oh0 * src.geometry().sh * src.geometry().ld;
      for (std::int64_t c = 0; c < g_.Cg; ++c) src.fill(in + c * hw, oh0, oh1 - oh0 + 1, out + c * plane + at, 1, whole);
    }
  }

  // Per (c, r, s), the tap's offset in the padded planes.
  std::vector<std::int64_t> tap_offsets(const PaddedSource& src) const {
    const DepthwisePlane& pg = src.geometry();
    const std::int64_t plane = src.buffer_elems();
    std::vector<std::int64_t> off;
    for (std::int64_t c = 0; c < g_.Cg; ++c)
      for (std::int64_t r = 0; r < g_.R; ++r)
        for (std::int64_t s = 0; s < g_.S; ++s) off.push_back(c * plane + r * pg.dh * pg.ld + pg.tap[s]);
    return off;
  }

  // weights_indirect's chunks of dY^T, `per_pixel` elements per pixel of an image: all images in
  // one, or (`chunked`) whole runs of images, or runs of kMaxRuns pixels of one image, about
  // kL2Bytes each. Chunk edges fall where a microkernel run would begin anyway, so that every
  // dW element is summed in the same order as in one piece (without split_weights' runs).
  void chunk_weights(std::int64_t per_pixel, std::int64_t per_run, bool chunked) {
    const std::int64_t pq = g_.P * g_.Q, fit = kL2Bytes / std::int64_t(sizeof(T)) / per_pixel;
    chunk_images_ = g_.N, chunk_pixels_ = pq;
    if (chunked && pq > kMaxRuns && fit < pq)
      chunk_images_ = 1, chunk_pixels_ = std::max<std::int64_t>(1, fit / kMaxRuns) * kMaxRuns;
    else if (chunked)
      chunk_images_ = std::min(g_.N, std::max<std::int64_t>(1, fit / pq / per_run) * per_run);
    dyt_elements_ = per_pixel * chunk_images_ * chunk_pixels_;
  }

  std::int64_t weight_chunks() const {
    const std::int64_t pq = g_.P * g_.Q;
    return chunk_pixels_ < pq ? g_.N * ceil_div(pq, chunk_pixels_) : ceil_div(g_.N, chunk_images_);
  }

  // weights_indirect's planes at a column stride past 1 and unit dilation: unsplit (each row as
  // it lies, padded), where the forward's split columns into stride phases. A kernel row's taps
  // then lie consecutive, so the run kernels read them (tap_runs); the pixels of a row lie a
  // stride apart, which the pixels' offsets carry. Unsplit rows are plain copies that write their
  // padding (the split planes are cleared first). ResNeXt-50's layer3.down at batch 16, one
  // thread: 6.26 -> 5.71 ms; the 7x7 stem at batch 1 1.74 -> 1.56.
  void plan_weight_source() {
    if (g_.sw == 1 || g_.dw != 1) return;
    auto src = std::make_unique<PaddedSource>(g_.H, g_.W, 1, 1, g_.pt, g_.pl, g_.P, (g_.Q - 1) * g_.sw + 1, g_.R, g_.S,
                                              g_.sh, 1, g_.dh, 1, sizeof(T), ~std::size_t(0));
    const double elements = double(g_.N) * double(g_.C) * src->estimate();
    if (src->oversized() || elements > double(kPaddedWeightBytes / sizeof(T))) return;
    wpadded_ = std::move(src);
    woffsets_ = tap_offsets(*wpadded_);
    padded_weight_elements_ = g_.N * g_.C * wpadded_->buffer_elems();
  }
  // The tap offsets weights_indirect reads: its own planes', or the forward's table.
  const std::vector<std::int64_t>& weight_offsets() const noexcept { return wpadded_ ? woffsets_ : offsets_; }

  // weights_indirect's kernel for runs of taps: the S taps of a kernel row lie consecutive in the
  // padded planes at unit column stride and dilation, so each run is read from one base, as
  // forward_indirect's runs of pixels (ResNeXt-50's 14x14 stage at batch 16, one thread: 4.60 ->
  // 4.17 ms; LeNet's conv2 0.166 -> 0.144).
  GemmRunKernel<T> tap_runs(const GemmMicrokernel<T>& uk) const noexcept {
    const GemmRunKernel<T> k = run_kernel_for(uk, g_.S, filter_panel());
    const std::vector<std::int64_t>& off = weight_offsets();
    for (std::size_t t = 1; k.run && t < off.size(); ++t)
      if (t % std::size_t(k.length) != 0 && off[t] != off[t - 1] + 1) return {};
    return k;
  }
  // Taps a weights_indirect micro-tile takes, against panels nr wide.
  int tile_taps(const GemmMicrokernel<T>& uk, std::int64_t nr) const noexcept {
    return wrun_.run ? wrun_.length * wrun_.runs : pair_rows(uk, nr);
  }

  // Few tap tiles (LeNet's first layer has 5) leave threads idle: the images are then split into
  // a shape-derived number of runs whose partial sums are added in order, so the bits stay the
  // same for any thread count. Chunked, there is one run, its micro-tiles kept in `partials`
  // from chunk to chunk.
  void split_weights(const GemmMicrokernel<T>& uk) {
    const std::int64_t across = swapped_ ? g_.Cg : g_.Kg, nr = panel_width(uk, across), mr = tile_taps(uk, nr);
    const std::int64_t panels = g_.G * ceil_div(across, nr), taps = std::int64_t(weight_offsets().size());
    // Runs counted on mr-tap tiles even where the tiles are paired, whose halved task count would
    // split more runs: sums in another order than the plan chunked under a workspace bound.
    const std::int64_t unpaired = panels * ceil_div(taps, uk.mr), tasks = panels * ceil_div(taps, mr);
    weight_splits_ = weight_chunks() > 1 ? 1 : std::clamp<std::int64_t>(ceil_div(kWantTasks, unpaired), 1, g_.N);
    partial_elements_ = weight_splits_ > 1 || weight_chunks() > 1 ? weight_splits_ * tasks * mr * nr : 0;
  }

  // dW for all images, whose planes lie padded in `planes`: dY^T is packed in filter panels
  // (dyt), then micro-tiles of mr taps by nr filters reduce over every pixel of every image in
  // order, each tap's row of X_col read at its offset plus the pixels' offsets (runs of images
  // into `partials`, then added in order, where split_weights split them). Swapped (1x1 only),
  // the roles of X and dY trade places: the rows are filters and the panels channels. Where
  // dY^T is chunked (chunk_weights), the pack and the reduction take turns, chunk by chunk; with
  // chunk_planes (pad_chunks_), `planes` is x, each chunk's images padded into chunk_planes first.
  void weights_indirect(const T* planes, const T* dy, T* dyt, T* partials, T* dw, T* chunk_planes) const noexcept {
    const GemmMicrokernel<T>& uk = gemm_microkernel<T>();
    const std::vector<std::int64_t>& offsets = weight_offsets();
    const std::int64_t plane = plane_elems_, pq = g_.P * g_.Q, taps = std::int64_t(offsets.size());
    const T* rows_src = swapped_ ? dy : chunk_planes ? chunk_planes : planes;
    const T* panel_src = swapped_ ? planes : dy;
    const std::int64_t row_image = (swapped_ ? g_.K : g_.C) * plane, row_group = (swapped_ ? g_.Kg : g_.Cg) * plane;
    const std::int64_t across = swapped_ ? g_.Cg : g_.Kg, panel_image = swapped_ ? g_.C : g_.K;
    const std::int64_t nr = panel_width(uk, across), panels = ceil_div(across, nr);
    const int mr = tile_taps(uk, nr), step = wrun_.run ? wrun_.length : 1;  // taps a micro-tile, and between its rows
    const std::int64_t tiles = ceil_div(taps, mr), tasks = g_.G * panels * tiles;
    // Consecutive tasks share a tap tile (its rows stay in L1) where all of dY^T fits in L2, else
    // a filter panel, whose dY^T then stays in the last-level cache, or, chunked, in L2; a
    // thread's panels of a chunk are then mostly those it packed (measured: the stem at batch 16
    // ran 20% faster at 2 threads than with a tap tile outer).
    const std::int64_t splits = weight_splits_, run = ceil_div(g_.N, splits), chunks = weight_chunks();
    const bool taps_outer = chunks == 1 && dyt_elements_ * std::int64_t(sizeof(T)) <= kL2Bytes;
    const bool sub_image = chunk_pixels_ < pq, kept = splits > 1 || chunks > 1;
    const std::int64_t image_chunks = ceil_div(pq, chunk_pixels_);  // sub_image: chunks per image
    // Task `task`'s micro-tile: its group, filter panel, first tap and taps.
    struct Tile {
      std::int64_t grp, pn, tap0, count;
    };
    auto tile_of = [&](std::int64_t task) {
      const std::int64_t t = taps_outer ? task / panels % tiles : task % tiles;
      return Tile{task / (panels * tiles), taps_outer ? task % panels : task / tiles % panels, t * mr,
                  std::min<std::int64_t>(mr, taps - t * mr)};
    };
    // The micro-tile of task `task` goes to dW: taps down, filters across (swapped: filters
    // down, channels across, dW's own layout).
    auto store = [&](std::int64_t task, const T* c) {
      const auto [grp, pn, tap0, count] = tile_of(task);
      const std::int64_t width = std::min<std::int64_t>(nr, across - pn * nr);
      if (swapped_) {
        for (std::int64_t i = 0; i < count; ++i)
          copy_run(c + i * nr, width, dw + (grp * g_.Kg + tap0 + i) * g_.Cg + pn * nr);
        return;
      }
      for (std::int64_t j = 0; j < width; ++j) {
        T* dwk = dw + (grp * g_.Kg + pn * nr + j) * taps + tap0;
        for (std::int64_t i = 0; i < count; ++i) dwk[i] = c[i * nr + j];
      }
    };
    // Chunk `chunk`: images [i0, i0 + images), pixels [p0, p0 + pixels) of each.
    struct Chunk {
      std::int64_t i0, images, p0, pixels;
    };
    auto chunk_at = [&](std::int64_t chunk) {
      const std::int64_t i0 = sub_image ? chunk / image_chunks : chunk * chunk_images_;
      const std::int64_t p0 = sub_image ? chunk % image_chunks * chunk_pixels_ : 0;
      return Chunk{i0, std::min(g_.N, i0 + chunk_images_) - i0, p0, std::min(chunk_pixels_, pq - p0)};
    };
    // Tasks are alike and may be tiny (49 pixels at batch 1): static, as dynamic claims cost more.
#pragma omp parallel num_threads(threads_) if (threads_ > 1 && !forked_child() && tasks * splits > 1)
    for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
      const Chunk here = chunk_at(chunk);
      const std::int64_t i0 = here.i0, images = here.images, p0 = here.p0, pixels = here.pixels, i1 = i0 + images;
      // dyt[grp][panel][img][pix][j], a block of pixels at a time so that the block stays in L1
      // while each filter's row is written into it
      const std::int64_t blocks = ceil_div(pixels, kPackPixels), packs = images * g_.G * panels * blocks;
      if (pad_chunks_ && p0 == 0) {  // this chunk's images' planes (an image's at its first chunk)
        const PaddedSource& src = wpadded_ ? *wpadded_ : *padded_;
#pragma omp for schedule(static) nowait
        for (std::int64_t u = 0; u < pad_units(images * g_.C); ++u)
          pad_unit(src, planes + i0 * g_.C * g_.H * g_.W, images * g_.C, u, chunk_planes, chunk == 0);
      }
      // Pack task `task`: `rows` rows of `width` values from `at`, pq apart, to `to` in dyt; its
      // image in the chunk and first pixel.
      struct PackTask {
        const T* at;
        T* to;
        std::int64_t rows, width, img, b0;
      };
      auto pack_task = [&](std::int64_t task) {
        const std::int64_t panel = task / blocks, pn = panel % panels, grp = panel / panels % g_.G, img = panel / (panels * g_.G);
        const std::int64_t b0 = task % blocks * kPackPixels;
        return PackTask{panel_src + ((i0 + img) * panel_image + grp * across + pn * nr) * pq + p0 + b0,
                        dyt + (((grp * panels + pn) * images + img) * pixels + b0) * nr,
                        std::min<std::int64_t>(nr, across - pn * nr), std::min(pixels, b0 + kPackPixels) - b0, img, b0};
      };
#pragma omp for schedule(static)
      for (std::int64_t task = 0; task < packs; ++task) {
        const PackTask pt = pack_task(task);
        uk.pack(pt.at, pq, pt.rows, pt.width, pt.to, nr);
      }
      // The next chunk's dY (its pack tasks are this chunk's, moved by `ahead`), fetched into
      // cache while this chunk's products run: the packing waited on memory (the stem at batch 16).
      const Chunk next = chunk + 1 < chunks ? chunk_at(chunk + 1) : Chunk{i0, 0, p0, 0};
      const std::int64_t ahead = (next.i0 - i0) * panel_image * pq + next.p0 - p0;
      const std::int64_t jobs = tasks * splits;
#pragma omp for schedule(static)
      for (std::int64_t job = 0; job < jobs; ++job) {
        for (std::int64_t t = job * packs / jobs; next.images > 0 && t < (job + 1) * packs / jobs; ++t) {
          const PackTask pt = pack_task(t);
          if (pt.img >= next.images || pt.b0 >= next.pixels) continue;  // past a shorter last chunk
          for (std::int64_t r = 0; r < pt.rows; ++r)
            prefetch_range<2>(pt.at + ahead + r * pq, std::size_t(std::min(pt.width, next.pixels - pt.b0)) * sizeof(T));
        }
        const std::int64_t task = job % tasks, split = job / tasks;
        const auto [grp, pn, tap0, count] = tile_of(task);
        alignas(64) T tile[kMaxTileRows * kMaxPanel];
        T* c = kept ? partials + job * mr * nr : tile;
        const T* rows[kMaxTileRows];
        const std::int64_t img0 = split * run, img1 = std::min(g_.N, img0 + run);
        if (img0 >= img1) std::fill(c, c + mr * nr, T(0));  // no images in this run
        for (std::int64_t img = std::max(img0, i0); img < std::min(img1, i1); img += images_per_run_) {
          const T* base = rows_src + (img - (pad_chunks_ ? i0 : 0)) * row_image + grp * row_group;
          for (int i = 0; i < mr; i += step) rows[i] = base + offsets[std::size_t(tap0 + std::min<std::int64_t>(i, count - step))];
          const std::int64_t steps = std::min(images_per_run_, std::min(img1, i1) - img) * pixels;
          const T* panel = dyt + ((grp * panels + pn) * images + img - i0) * pixels * nr;
          if (wrun_.run)
            gathered_blocks(wrun_.run, nr, steps, rows, pixel_offsets_.data() + p0, panel, c, img > img0 || p0 > 0);
          else
            gathered_product(uk, nr, steps, rows, pixel_offsets_.data() + p0, panel, c, img > img0 || p0 > 0, mr > uk.mr);
        }
        if (splits == 1 && chunk == chunks - 1) store(task, c);
      }
    }
    if (splits == 1) return;
#pragma omp parallel for schedule(static) num_threads(threads_) if (threads_ > 1 && !forked_child() && tasks > 1)
    for (std::int64_t task = 0; task < tasks; ++task) {  // the runs' partial sums, in order
      T* sum = partials + task * mr * nr;
      for (std::int64_t split = 1; split < splits; ++split) {
        const T* part = partials + (split * tasks + task) * mr * nr;
        for (std::int64_t e = 0; e < mr * nr; ++e) sum[e] += part[e];
      }
      store(task, sum);
    }
  }

  // The weight gradient as dot products of rows (weights_rows), where output rows fill at least
  // 7/8 of the vectors they take, and a group has at most 4 filters, or at most 8 filters or 32
  // taps on rows of more than 16 outputs: there the turned-around path's panels are mostly empty
  // or its dY^T pack weighs most. Measured, one thread, AVX-512: ResNeXt-50's 28x28 stage (8
  // filters a group) 10.1 -> 7.2 ms, its 56x56 stage (4) 19.6 -> 9.0, 4 filters on 14x14 2.3 ->
  // 1.3; VGG-16 conv1_1 (27 taps) 25.4 -> 16.5. As fast or slower elsewhere: 16 filters a group
  // on 28x28 as fast, 8 on 14x14 4.9 -> 5.2 ms (AVX2: 4.8 -> 6.1) and on 7x7 1.1 -> 2.9, ResNet-18
  // layer1 at batch 16 (64 filters) 36 -> 42, the 7x7 stem (147 taps) at batch 16 as fast.
  void plan_weights_rows(int threads, std::size_t workspace_bound) {
    const RowDotKernel<T>& rk = row_dot_kernel<T>();
    if (!padded_ || padded_weight_elements_ == 0 || rk.max_a > kMaxRowDot || rk.max_b > kMaxRowDot) return;
    // half-width vectors where rows fill them better (LeNet's 24 columns: 3 ymm, 1.5 zmm registers)
    dot_narrow_ = rk.narrow_lanes > 0 && round_up(g_.Q, rk.narrow_lanes) < round_up(g_.Q, rk.lanes);
    const bool filled = 8 * g_.Q >= 7 * round_up(g_.Q, dot_lanes()), wide = g_.Q > 16;
    if (!filled || !(g_.Kg <= 4 || (wide && (g_.Kg <= 8 || g_.Cg * g_.R * g_.S <= 32)))) return;
    // Tasks split each group's filter blocks, then its tap blocks, into as few runs as give
    // every thread kRowDotTasks: each task reads its images' X once per filter block, from L2.
    const std::int64_t want = std::int64_t(threads) * kRowDotTasks;
    dot_fruns_ = std::min(dot_fblocks(), ceil_div(want, g_.G));
    dot_truns_ = std::min(dot_tblocks(), ceil_div(want, g_.G * dot_fruns_));
    rows_weights_ = true;
    // One task a group: it pads its group's planes image by image, into a slot per thread that
    // stays in L1 or L2 (padded all at once, they went out to memory and came back: ResNeXt-50's
    // 28x28 stage at batch 16, 6.7 -> 6.0 ms on one thread, 3.14 -> 2.73 on two).
    if (dot_fruns_ * dot_truns_ == 1 && g_.xw == 1 && !in_place_)
      dot_slot_ = round_up(g_.Cg * padded_->buffer_elems(), 16);
    if (dot_slot_ && workspace_size(Direction::BackwardWeights) > workspace_bound) dot_slot_ = 0;
    if (workspace_size(Direction::BackwardWeights) > workspace_bound) rows_weights_ = false, dot_slot_ = 0;
    if (rows_weights_ && offsets_.empty()) offsets_ = tap_offsets(*padded_);  // else the turned-around paths' table
  }
  // weights_rows' tiles per group: blocks of the kernel's max_a filters and of its max_b taps
  std::int64_t dot_fblocks() const noexcept { return ceil_div(g_.Kg, std::int64_t(row_dot_kernel<T>().max_a)); }
  std::int64_t dot_tblocks() const noexcept {
    return ceil_div(g_.Cg * g_.R * g_.S, std::int64_t(row_dot_kernel<T>().max_b));
  }
  // weights_rows' partial sums, whole cache lines, and its totals in double after them: the
  // workspace they take, in elements of T
  std::int64_t dot_elements() const noexcept {
    const RowDotKernel<T>& rk = row_dot_kernel<T>();
    return round_up(g_.G * dot_fblocks() * dot_tblocks() * rk.max_a * rk.max_b * dot_lanes(),
                    std::int64_t(kWorkspaceAlign / sizeof(T)));
  }
  std::int64_t dot_lanes() const noexcept {
    return dot_narrow_ ? row_dot_kernel<T>().narrow_lanes : row_dot_kernel<T>().lanes;
  }
  std::int64_t dot_workspace() const noexcept { return dot_elements() * std::int64_t(1 + sizeof(double) / sizeof(T)); }

  // dW for all images, whose planes lie padded in `planes`: dW[k, (c, r, s)] is the sum over the
  // images and output rows of dY's row of filter k times the row that tap (c, r, s) reads, as
  // the row dot kernel computes it for tiles of max_a filters by max_b taps, each pair's sum in
  // lanes. Nothing is packed. The kernel's sums (`parts`) run over at most kRowDotChain outputs,
  // whole images or bands of an image's rows, and are then added into `totals` in double, whose
  // lanes are added in order at the end: one chain in float over a 1100x1100 image had drifted
  // by 1.6e-5 of the result.
  // With dot_slot_, `planes` is x itself, and each task pads its images into its thread's slot.
  void weights_rows(const T* planes, const T* dy, T* parts, double* totals, T* dw, T* slots) const noexcept {
    const RowDotKernel<T>& rk = row_dot_kernel<T>();
    const RowDotFn<T> run = dot_narrow_ ? rk.run_narrow : rk.run;
    const std::int64_t taps = g_.Cg * g_.R * g_.S, ma = rk.max_a, mb = rk.max_b, lanes = dot_lanes();
    const std::int64_t fblocks = dot_fblocks(), tblocks = dot_tblocks(), tile = ma * mb * lanes;
    const std::int64_t tasks = g_.G * dot_fruns_ * dot_truns_;
    const std::int64_t plane = padded_->buffer_elems(), pq = g_.P * g_.Q, row_ld = g_.sh * padded_->geometry().ld;
    // rows per kernel call, and where they are whole images, the images that one chain spans
    const std::int64_t band = std::clamp<std::int64_t>(kRowDotChain / g_.Q, 1, g_.P);
    const std::int64_t chain = band < g_.P ? 1 : std::max<std::int64_t>(1, kRowDotChain / pq);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads_) if (threads_ > 1 && !forked_child() && tasks > 1)
    for (std::int64_t task = 0; task < tasks; ++task) {
      const std::int64_t grp = task / (dot_fruns_ * dot_truns_), fr = task / dot_truns_ % dot_fruns_;
      const std::int64_t tr = task % dot_truns_;
      const std::int64_t fb0 = fr * fblocks / dot_fruns_, fb1 = (fr + 1) * fblocks / dot_fruns_;
      const std::int64_t tb0 = tr * tblocks / dot_truns_, tb1 = (tr + 1) * tblocks / dot_truns_;
      // tile (fb, tb) of the group at (fb * tblocks + tb) * tile
      T* const part = parts + grp * fblocks * tblocks * tile;
      double* const total = totals + grp * fblocks * tblocks * tile;
      for (std::int64_t fb = fb0; fb < fb1; ++fb)
        std::fill(total + (fb * tblocks + tb0) * tile, total + (fb * tblocks + tb1) * tile, 0.0);
      const T* a[kMaxRowDot];
      const T* b[kMaxRowDot];
      T* slot = dot_slot_ ? slots + thread_index() * dot_slot_ : nullptr;
      const bool whole = padded_->fills_whole_rows();
      if (slot && !whole) std::fill(slot, slot + dot_slot_, T(0));  // the padding the fills leave
      for (std::int64_t img = 0; img < g_.N; ++img) {
        const std::int64_t at = (img * g_.C + grp * g_.Cg) * (slot ? g_.H * g_.W : plane);
        if (slot) padded_->fill_planes(planes + at, g_.H * g_.W, g_.Cg, slot, whole);
        for (std::int64_t r0 = 0; r0 < g_.P; r0 += band) {
          const bool first = img % chain == 0, last = img % chain == chain - 1 || img == g_.N - 1;
          const T* base = (slot ? slot : planes + at) + r0 * row_ld;
          for (std::int64_t fb = fb0; fb < fb1; ++fb) {
            const int na = int(std::min(ma, g_.Kg - fb * ma));
            for (int f = 0; f < na; ++f) a[f] = dy + (img * g_.K + grp * g_.Kg + fb * ma + f) * pq + r0 * g_.Q;
            for (std::int64_t tb = tb0; tb < tb1; ++tb) {
              for (std::int64_t t = 0; t < mb; ++t)  // a ragged last block repeats its last tap, unread
                b[t] = base + offsets_[std::size_t(std::min(tb * mb + t, taps - 1))];
              run(std::min(band, g_.P - r0), g_.Q, a, g_.Q, na, b, row_ld, part + (fb * tblocks + tb) * tile, !first);
            }
          }
          if (!last) continue;
          for (std::int64_t fb = fb0; fb < fb1; ++fb)
            for (std::int64_t e = (fb * tblocks + tb0) * tile; e < (fb * tblocks + tb1) * tile; ++e) total[e] += part[e];
        }
      }
      for (std::int64_t fb = fb0; fb < fb1; ++fb)
        for (std::int64_t tb = tb0; tb < tb1; ++tb)
          for (std::int64_t f = 0; f < std::min(ma, g_.Kg - fb * ma); ++f)
            for (std::int64_t t = 0; t < std::min(mb, taps - tb * mb); ++t) {
              const double* v = total + (fb * tblocks + tb) * tile + (f * mb + t) * lanes;
              double sum = v[0];
              for (std::int64_t l = 1; l < lanes; ++l) sum += v[l];
              dw[(grp * g_.Kg + fb * ma + f) * taps + tb * mb + t] = T(sum);
            }
    }
  }

  // Backward data turned around, per stride phase (ph, pw): dX^T[(a, e), c] = sum over the
  // phase's taps (k, r, s) of dY[k, a + off_r, e + off_s] W[k, c, r, s], with the phase's input
  // pixels as the microkernel's rows, read in place from zero-padded copies of the dY planes
  // through a table of tap offsets, against W in panels of channels. Nothing of dY_col is packed.
  struct DyPad {
    std::int64_t top = 0, left = 0, rows = 0, cols = 0, elements = 0, weights = 0;
    std::int64_t reach = 0;  // the most padded rows past a pixel's own that its taps read
    std::int64_t slot = 0;   // planes padded task by task, per thread (0: all at once)
    std::vector<std::vector<std::int64_t>> offsets;  // per phase: (k, r, s) -> offset in the planes
    std::vector<std::int64_t> packed_at;             // per phase: where its packed W starts (per group)
  };

  void plan_data_indirect(const GemmMicrokernel<T>& uk, std::size_t workspace_bound) {
    if (use_col2im() || !panels_filled(uk, g_.Cg) || g_.Cg > 4 * uk.nr || uk.mr > kMaxIndirectRows ||
        uk.nr > kMaxPanel || g_.Kg * g_.R * g_.S > kMaxTable)
      return;
    std::int64_t lo_r = 0, hi_r = g_.P - 1, lo_s = 0, hi_s = g_.Q - 1;  // dY rows and columns the taps reach
    for (std::int64_t ph = 0; ph < g_.nph; ++ph)
      for (std::int64_t off : rows_[std::size_t(ph)].offset) {
        lo_r = std::min(lo_r, off);
        hi_r = std::max(hi_r, off + g_.phase_rows(ph) - 1);
      }
    for (std::int64_t pw = 0; pw < g_.npw; ++pw)
      for (std::int64_t off : cols_[std::size_t(pw)].offset) {
        lo_s = std::min(lo_s, off);
        hi_s = std::max(hi_s, off + g_.phase_cols(pw) - 1);
      }
    DyPad d;
    d.top = -lo_r, d.left = -lo_s, d.rows = hi_r - lo_r + 1, d.cols = hi_s - lo_s + 1;
    const double elements = double(g_.N) * double(g_.K) * double(d.rows) * double(d.cols);
    if (elements > double(kPaddedBytes / std::int64_t(sizeof(T)))) return;
    d.elements = std::int64_t(elements);
    const std::int64_t plane = d.rows * d.cols, width = channel_panel(), panels = ceil_div(g_.Cg, width);
    for (std::int64_t ph = 0; ph < g_.nph; ++ph)
      for (std::int64_t off : rows_[std::size_t(ph)].offset) d.reach = std::max(d.reach, off + d.top);
    // A task's planes padded by the task, into a slot per thread that stays in L2, as
    // forward_indirect's (batch 16, one thread: ResNeXt-50's layer3.down 7.0 -> 6.3 ms, ResNet-18's
    // layer2.down 16.1 -> 13.5; on two threads within noise).
    if (round_up(g_.Kg * plane, 16) * std::int64_t(sizeof(T)) <= kTaskPlaneBytes)
      d.slot = round_up(g_.Kg * plane, 16), d.elements = threads_ * d.slot;
    for (std::int64_t ph = 0; ph < g_.nph; ++ph)
      for (std::int64_t pw = 0; pw < g_.npw; ++pw) {
        std::vector<std::int64_t> off;
        for (std::int64_t k = 0; k < g_.Kg; ++k)
          for (std::int64_t ro : rows_[std::size_t(ph)].offset)
            for (std::int64_t so : cols_[std::size_t(pw)].offset) off.push_back(k * plane + ro * d.cols + so);
        d.packed_at.push_back(d.weights);
        d.weights += panels * width * std::int64_t(off.size());
        d.offsets.push_back(std::move(off));
      }
    d.weights *= g_.G;
    dy_pad_ = std::move(d);
    data_indirect_ = true;
    if (workspace_size(Direction::BackwardData) > workspace_bound) data_indirect_ = false;
    // Each column phase's pixels in runs along its rows, where the ISA has a kernel for them
    // (ResNeXt-50's layer3.down at batch 16, one thread: 9.11 -> 8.14 ms).
    for (std::int64_t pw = 0; data_indirect_ && pw < g_.npw; ++pw)
      drun_.push_back(run_kernel_for(uk, g_.phase_cols(pw), channel_panel()));
  }
  // data_indirect's run kernel in column phase pw, or null; and its pixels a micro-tile there.
  const GemmRunKernel<T>* data_run(std::int64_t pw) const noexcept {
    return drun_.empty() || !drun_[std::size_t(pw)].run ? nullptr : &drun_[std::size_t(pw)];
  }
  int data_tile(std::int64_t pw) const noexcept {
    const GemmRunKernel<T>* k = data_run(pw);
    return k ? k->length * k->runs : pair_rows(gemm_microkernel<T>(), channel_panel());
  }

  void data_indirect(const T* dy, const T* w, T* dx, T* work) const noexcept {
    const GemmMicrokernel<T>& uk = gemm_microkernel<T>();
    const std::int64_t nr = channel_panel();
    const DyPad& d = dy_pad_;
    const std::int64_t plane = d.rows * d.cols, pq = g_.P * g_.Q, phases = g_.nph * g_.npw;
    const std::int64_t panels = ceil_div(g_.Cg, nr), per_group = d.weights / g_.G;
    T* pad = work;
    T* wt = work + d.elements;
    const std::int64_t planes = g_.N * g_.K;
#pragma omp parallel num_threads(threads_) if (threads_ > 1 && !forked_child())
    {
      if (!d.slot) {
#pragma omp for schedule(static) nowait
        for (std::int64_t i = 0; i < planes; ++i) pad_dy(dy + i * pq, 1, 0, d.rows, pad + i * plane);
      }
#pragma omp for schedule(static)
      for (std::int64_t t = 0; t < g_.G * phases * panels; ++t) {  // W per (group, phase, panel)
        const std::int64_t grp = t / (phases * panels), phase = t / panels % phases, pn = t % panels;
        const Taps &tr = rows_[std::size_t(phase / g_.npw)], &ts = cols_[std::size_t(phase % g_.npw)];
        const std::int64_t taps = std::int64_t(d.offsets[std::size_t(phase)].size());
        T* out = wt + grp * per_group + d.packed_at[std::size_t(phase)] + pn * taps * nr;
        std::int64_t p = 0;
        for (std::int64_t k = 0; k < g_.Kg; ++k)
          for (std::int64_t r : tr.index)
            for (std::int64_t s : ts.index) {
              for (std::int64_t j = 0; j < nr; ++j) {
                const std::int64_t c = pn * nr + j;
                out[p * nr + j] = c < g_.Cg ? w[(((grp * g_.Kg + k) * g_.Cg + c) * g_.R + r) * g_.S + s] : T(0);
              }
              ++p;
            }
      }
    }
    // tasks: (image, group, run of micro-tiles), each through every phase, so that the phases'
    // interleaved pixels fill dX's lines while they are in cache (phase by phase over a whole
    // image, each line was fetched once per phase: 22% of ResNet-18 layer2.down's input gradient)
    std::int64_t max_tiles = 0;
    for (std::int64_t pw = 0; pw < g_.npw; ++pw)
      max_tiles = std::max(max_tiles, ceil_div(g_.phase_rows(0) * g_.phase_cols(pw), data_tile(pw)));
    const std::int64_t runs = ceil_div(max_tiles, kIndirectTiles), tasks = g_.N * g_.G * runs;
    // consecutive tasks per thread, as forward_indirect's (ResNet-18 layer2.down on 2 threads:
    // 1.09x as long handed out one by one)
#pragma omp parallel for schedule(static) num_threads(threads_) if (threads_ > 1 && !forked_child() && tasks > 1)
    for (std::int64_t task = 0; task < tasks; ++task) {
      const std::int64_t run = task % runs, grp = task / runs % g_.G, img = task / (runs * g_.G);
      const T* planes_of = d.slot ? nullptr : pad + (img * g_.K + grp * g_.Kg) * plane;  // the group's planes
      if (d.slot) {  // padded here: the rows that the run's pixels read, over every phase
        std::int64_t u0 = d.rows, u1 = 0;
        for (std::int64_t pw = 0; pw < g_.npw; ++pw)
          for (std::int64_t ph = 0; ph < g_.nph; ++ph) {
            const std::int64_t mr = data_tile(pw), wph = g_.phase_cols(pw), pix = g_.phase_rows(ph) * wph;
            const std::int64_t p0 = run * kIndirectTiles * mr, p1 = std::min(pix, p0 + kIndirectTiles * mr);
            if (p0 < p1) u0 = std::min(u0, p0 / wph), u1 = std::max(u1, (p1 - 1) / wph + d.reach + 1);
          }
        T* slot = pad + thread_index() * d.slot;
        pad_dy(dy + (img * g_.K + grp * g_.Kg) * pq, g_.Kg, u0, std::min(u1, d.rows), slot);
        planes_of = slot;
      }
      const T* base = planes_of + d.top * d.cols + d.left;
      alignas(64) T c[kMaxTileRows * kMaxPanel];  // a micro-tile, rows nr apart
      const T* rows[kMaxTileRows];
      // the tile's pixels in spans along phase rows: span h from pixel first[h], at place at[h] of a dX plane
      std::int64_t first[kMaxTileRows + 1], at[kMaxTileRows];
      for (std::int64_t phase = 0; phase < phases; ++phase) {
        const std::int64_t ph = phase / g_.npw, pw = phase % g_.npw, mr = data_tile(pw);
        const GemmRunKernel<T>* runs_of_pixels = data_run(pw);
        const std::int64_t step = runs_of_pixels ? runs_of_pixels->length : 1;  // pixels between row pointers
        const std::int64_t hph = g_.phase_rows(ph), wph = g_.phase_cols(pw);
        const std::int64_t pix = hph * wph, taps = std::int64_t(d.offsets[std::size_t(phase)].size());
        const std::int64_t t0 = run * kIndirectTiles, t1 = std::min(ceil_div(pix, mr), t0 + kIndirectTiles);
        const T* wg = wt + grp * per_group + d.packed_at[std::size_t(phase)];
        T* dxg = dx + (img * g_.C + grp * g_.Cg) * g_.H * g_.W + ph * g_.W + pw;
        std::int64_t prow = t0 * mr / wph, pcol = t0 * mr % wph;  // the next pixel's row and column in the phase
        std::int64_t fetched = t0 * mr / wph - 1;  // the last phase row whose dX rows are fetched
        for (std::int64_t t = t0; t < t1; ++t) {
          // The dX rows that this tile writes first (column phase 0), fetched before its products:
          // stored into lines not in cache, the tile's stores waited on each miss in turn (ResNeXt-50
          // layer3.down at batch 16, one thread: 7.8 -> 6.7 ms; ResNet-18 layer2.down 15.7 -> 14.5).
          const std::int64_t last = (std::min(pix, (t + 1) * mr) - 1) / wph;
          for (; pw == 0 && fetched < last; ++fetched)
            for (std::int64_t ch = 0; ch < g_.Cg; ++ch)
              prefetch_range<3>(dxg + ch * g_.H * g_.W + (fetched + 1) * g_.sh * g_.W, std::size_t(g_.W) * sizeof(T));
          const std::int64_t count = std::min<std::int64_t>(mr, pix - t * mr);
          std::int64_t spans = 0;
          for (std::int64_t i = 0; i < mr; ++i) {  // rows past the last pixel repeat it (or its run), not stored
            if (i >= count) {
              if (i % step == 0) rows[i] = rows[i - step];
              continue;
            }
            if (i == 0 || pcol == 0) first[spans] = i, at[spans++] = prow * g_.sh * g_.W + pcol * g_.sw;
            if (i % step == 0) rows[i] = base + prow * d.cols + pcol;
            if (++pcol == wph) pcol = 0, ++prow;
          }
          first[spans] = count;
          for (std::int64_t pn = 0; pn < panels; ++pn) {
            const std::int64_t* off = d.offsets[std::size_t(phase)].data();
            if (taps == 0)  // a phase that no tap reaches gets zeros
              std::fill(c, c + mr * nr, T(0));
            else if (runs_of_pixels)
              gathered_blocks(runs_of_pixels->run, nr, taps, rows, off, wg + pn * taps * nr, c, false);
            else
              gathered_product(uk, nr, taps, rows, off, wg + pn * taps * nr, c, false, mr > uk.mr);
            const std::int64_t channels = std::min<std::int64_t>(nr, g_.Cg - pn * nr);
            for (std::int64_t h = 0; h < spans; ++h)
              uk.unpack(c + first[h] * nr, nr, first[h + 1] - first[h], channels, dxg + pn * nr * g_.H * g_.W + at[h],
                        g_.H * g_.W, g_.sw);
          }
        }
      }
    }
  }

  // Padded rows [u0, u1) of `count` consecutive dY planes (pq apart) into data_indirect's planes
  // at out (dy_pad_'s geometry): zero outside dY.
  void pad_dy(const T* dy, std::int64_t count, std::int64_t u0, std::int64_t u1, T* out) const noexcept {
    const DyPad& d = dy_pad_;
    const std::int64_t right = d.cols - d.left - g_.Q;
    for (std::int64_t k = 0; k < count; ++k)
      for (std::int64_t u = u0; u < u1; ++u) {
        T* row = out + (k * d.rows + u) * d.cols;
        const std::int64_t a = u - d.top;  // its dY row
        if (a < 0 || a >= g_.P) {
          zero_run(row, d.cols);
          continue;
        }
        zero_run(row, d.left);
        copy_run(dy + k * g_.P * g_.Q + a * g_.Q, g_.Q, row + d.left);
        zero_run(row + d.left + g_.Q, right);
      }
  }

  // The padded planes of `count` consecutive planes of x: x itself where the copy would be x
  // (stride 1, no padding: LeNet's layers, which spent 10% of their forward copying), else copies
  // in `planes`, one buffer per plane. The padding sits in the same places in every buffer and
  // fill() never writes it, so buffers that already held planes of this call (a later chunk) need
  // no clearing.
  const T* pad_planes(const T* x, std::int64_t count, T* planes, bool clear, const PaddedSource* source = nullptr) const
      noexcept {
    const PaddedSource& src = source ? *source : *padded_;
    if (in_place_ && &src == padded_.get()) return x;
    const std::int64_t units = pad_units(count);
#pragma omp parallel for schedule(static) num_threads(threads_) if (threads_ > 1 && !forked_child() && units > 1)
    for (std::int64_t i = 0; i < units; ++i) pad_unit(src, x, count, i, planes, clear);
    return planes;
  }
  // pad_planes' units of work for `count` planes: channels last, images (an image's planes at a
  // time, from its pixels); else blocks of kPadPlaneElements source elements or one plane.
  std::int64_t pad_unit_planes() const noexcept { return std::max<std::int64_t>(1, kPadPlaneElements / (g_.H * g_.W)); }
  std::int64_t pad_units(std::int64_t count) const noexcept {
    return g_.xw != 1 ? count / g_.C : ceil_div(count, pad_unit_planes());
  }
  void pad_unit(const PaddedSource& src, const T* x, std::int64_t count, std::int64_t i, T* planes, bool clear) const
      noexcept {
    const std::int64_t plane = src.buffer_elems();
    if (g_.xw != 1) {
      T* bufs = planes + i * g_.C * plane;
      if (clear) std::fill(bufs, bufs + g_.C * plane, T(0));
      return src.fill_channels_last(x + i * g_.xn, g_.C, bufs, plane);
    }
    const std::int64_t p0 = i * pad_unit_planes(), n = std::min(pad_unit_planes(), count - p0);
    for (std::int64_t p = p0; clear && !src.fills_whole_rows() && p < p0 + n; ++p) src.clear(planes + p * plane);
    src.fill_planes(x + p0 * g_.H * g_.W, g_.H * g_.W, n, planes + p0 * plane, src.fills_whole_rows());
  }

  Geometry g_;
  std::vector<Taps> rows_, cols_;
  std::vector<std::vector<std::int64_t>> phase_offsets_;  // backward data: per phase, W's offsets of A's columns
  static constexpr std::int64_t kCol2imMaxChannels = 8;
  static constexpr std::int64_t kWideCol2imColumns = 16;  // output rows up to this long: wide T
  static constexpr std::int64_t kCol2imBytes = 32 << 20;  // bound on the T workspace
  static constexpr std::int64_t kCol2imL2Bytes = 2 << 20;  // and its chunk on one thread
  static constexpr std::int64_t kPaddedBytes = 32 << 20;  // bound on forward's padded planes
  static constexpr std::int64_t kPaddedWeightBytes = 64 << 20;  // and on the weight gradient's
  static constexpr std::int64_t kPadStepBytes = 1 << 20;       // forward GEMM planes padded at a time, one thread
  static constexpr std::int64_t kTaskPlaneBytes = 512 << 10;  // the most a thread's task planes take
  static constexpr std::int64_t kPadPlaneElements = 2048;  // source elements of a pad_planes unit of small planes
  static constexpr std::int64_t kMergedPixels = 256;  // images up to this size share a forward GEMM
  static constexpr std::int64_t kIndirectTiles = 32;    // micro-tiles of pixels per forward_indirect task
  static constexpr std::int64_t kMaxTileRows = std::max(kMaxIndirectRows, kMaxRunRows);  // and their most pixels
  static constexpr std::int64_t kStageElements = 4096;  // and its staged results (filters x pixels)
  // forward_indirect's per-thread out and stage in the workspace (not on the stack: 33 or 66 kB
  // would take much of a small thread stack), each at a multiple of 16 elements
  static constexpr std::int64_t kStageSlot = (2 * kStageElements + 8 * kMaxPanel + 15) / 16 * 16;
  std::int64_t stage_offset() const noexcept { return (filter_elements_ + padded_elements_ + 15) / 16 * 16; }
  static constexpr std::int64_t kIndirectPixels = 1 << 20;  // the most pixels weights_indirect tabulates
  static constexpr std::int64_t kPackPixels = 64;           // pixels per block of its dY^T packing
  static constexpr std::int64_t kL2Bytes = 256 << 10;       // what it counts on finding in L2
  static constexpr std::int64_t kTurnedBytes = 4 << 20;     // and the most dY^T it copies whole
  static constexpr std::int64_t kWantTasks = 16;            // and the tasks it splits images to reach
  static constexpr std::int64_t kMaxTable = 1 << 20;        // the longest offset table a plan builds
  static constexpr double kTransposedStoreCost = 8;         // a dW element stored transposed, in packed elements
  const char* kernel_name_ = "";
  GemmLayout fwd_, bwd_data_, bwd_weights_;
  std::vector<T> packed_fwd_, packed_bwd_;  // prepared weights, packed
  std::unique_ptr<DirectConv<T>> as_forward_;  // the input gradient as a forward (plan_as_forward)
  std::int64_t chunk_ = 0, col2im_elements_ = 0;
  std::unique_ptr<PaddedSource> padded_;  // forward's padded input planes, when used
  std::unique_ptr<PaddedSource> wpadded_;  // and weights_indirect's, where they differ (plan_weight_source)
  std::vector<std::int64_t> woffsets_;     // and its tap offsets in them
  bool pad_chunks_ = false;                // and whether it pads a chunk of images at a time
  bool in_place_ = false;                 // and whether they are the input's own (pad_planes)
  std::int64_t fwd_chunk_ = 0, padded_elements_ = 0, padded_weight_elements_ = 0;
  std::int64_t pad_step_ = 0;  // the forward's images padded at a time (at most fwd_chunk_)
  std::vector<std::int64_t> wide_offsets_;  // forward, stride 1: B read in place (plan_wide)
  std::int64_t wide_n_ = 0;
  bool merged_ = false, indirect_ = false, fused_col2im_ = false, data_indirect_ = false;
  std::int64_t task_planes_ = 0;  // forward_indirect's planes per thread, padded task by task (0: all at once)
  std::int64_t dot_slot_ = 0;     // and weights_rows'
  bool nested_ = false;  // another plan's input gradient (as_forward_): forward only, no gradients planned
  DyPad dy_pad_;  // backward data turned around (data_indirect)
  std::vector<GemmRunKernel<T>> drun_;  // and its run kernels per column phase (none: empty)
  // forward_indirect, weights_indirect and weights_rows: per (c, r, s), the tap's offset in the
  // padded planes (weights_indirect on 1x1 planes read as they lie: per channel or filter, its plane's)
  std::vector<std::int64_t> offsets_;
  std::int64_t filter_elements_ = 0;   // and its packed W^T
  GemmRunKernel<T> run_;               // forward_indirect's kernel for runs of pixels, if any
  GemmRunKernel<T> wrun_;              // and weights_indirect's for runs of taps
  std::vector<std::int64_t> pixel_offsets_;  // weights_indirect: per output pixel, its window's offset
  std::int64_t dyt_elements_ = 0;            // and its packed dY^T, a chunk of
  std::int64_t chunk_images_ = 0, chunk_pixels_ = 0;  // images, and pixels of each, at a time
  std::int64_t plane_elems_ = 0;             // and the planes it reads (padded, or the input's own)
  std::int64_t weight_splits_ = 1, partial_elements_ = 0;  // and its runs of images, with their partial sums
  std::int64_t images_per_run_ = 1;                        // and the images one microkernel run spans
  bool swapped_ = false;                                   // and whether dY's planes are its rows (1x1)
  bool rows_weights_ = false;             // weights_rows: the weight gradient as row dot products
  bool dot_narrow_ = false;               // and whether on the kernel's half-width vectors
  std::int64_t dot_fruns_ = 1, dot_truns_ = 1;  // and the runs of filter and tap blocks a group splits into
  static constexpr std::int64_t kRowDotTasks = 4;  // the tasks weights_rows wants per thread
  static constexpr int kMaxRowDot = 8;     // the most rows of a or b a row dot kernel may take
  static constexpr std::int64_t kRowDotChain = 8192;  // the most outputs one chain of its sums spans
  int threads_ = 1;
};

}  // namespace
}  // namespace direct

std::unique_ptr<ConvImpl> make_direct(const ConvDesc& desc, int threads, std::size_t workspace_bound) {
  if (desc.dtype == DType::Float32) return std::make_unique<direct::DirectConv<float>>(desc, threads, workspace_bound);
  return std::make_unique<direct::DirectConv<double>>(desc, threads, workspace_bound);
}

}  // namespace fastconv
