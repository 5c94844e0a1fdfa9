// Winograd F(m x m, 3x3), m = 2, 4 or 6, for 3x3, stride-1, undilated convolution (Lavin & Gray;
// dilated layers run on it phase by phase, phases.cpp): each m x m output tile is computed from
// an (m + 2) square input tile with (m + 2)^2 multiplications per channel pair instead of 9 m^2
// (F(4x4): 36 instead of 144). Three steps:
//   input transform   V[xi][c][tile] = (B^T d B)[xi]    for every input tile d (zero padded)
//   tuple GEMM        M[xi][k][tile] = sum_c U[xi][k][c] V[xi][c][tile]   one GEMM per point xi
//                     and group, on the blocked GEMM driver and microkernels of the direct path
//   output transform  y tile = A^T M A (+ bias), clipped at the right and bottom edges
// with U[xi][k][c] = (G g G^T)[xi] the weight transform, computed once per weights.
// The input gradient is the same computation on dY with the kernel rotated by 180 degrees and
// its channel axes swapped. The weight gradient is the adjoint of the forward map in g: per tile,
// dW += G^T [(A dY A^T) * (B^T d B)] G, so the transform-domain products are summed over all
// tiles of all images (a GEMM per point contracting over tiles) before one inverse weight transform.
// Every direction walks the tiles in blocks of whole tile rows, transform to GEMM to transform,
// so that the transformed tiles of a block stay in the last-level cache.
#include <algorithm>
#include <vector>

#include "bias.hpp"
#include "cpu/kernel_table.hpp"
#include "direct/gemm_driver.hpp"
#include "impl.hpp"
#include "padded.hpp"
#include "threads.hpp"

namespace fastconv {
namespace winograd {
namespace {

using direct::ceil_div;
using direct::GemmLayout;
using direct::round_up;

constexpr int kLanes = kWeightLanes;  // filters per weight kernel call

// The transforms are per-ISA kernels (kernels/winograd_tiles.inl), each over the kernels' lanes
// of tiles (8, or 16 for AVX-512 on planes wide enough: WinogradFamily::tile chooses by the
// plane's width) or over kLanes filters side by side.
struct Geometry {
  std::int64_t N, C, H, W, K, G, Cg, Kg, P, Q, pt, pl;
  std::int64_t xi;              // transform-domain points, (m + 2)^2 for output tiles of m x m
  std::int64_t th, tw, tiles;  // tiles per image: th x tw; tiles in all images
  std::int64_t step;           // between an input row's values: C if channels-last, else 1
  int threads;                 // the plan's, which its tile blocks are sized for
  Geometry(const ConvDesc& d, int m, int plan_threads)
      : N(d.n), C(d.c), H(d.h), W(d.w), K(d.k), G(d.groups), Cg(d.c / d.groups), Kg(d.k / d.groups), P(d.p()),
        Q(d.q()), pt(d.pad_top), pl(d.pad_left), xi((m + 2) * (m + 2)), th(ceil_div(P, m)), tw(ceil_div(Q, m)),
        tiles(N * th * tw), step(d.input_layout == Layout::NHWC ? d.c : 1),
        threads(plan_threads) {}
};

// Where the transformed tiles of a block lie: tile t of channel c at offset(c, t), and point xi a
// further xi * point. Either rows (one panel as wide as the block) or the microkernel's B panels
// (nr tiles wide, all channels each), which the tuple GEMM then reads in place without packing.
struct TileLayout {
  std::int64_t width, panel, row, point;
  std::int64_t offset(std::int64_t c, std::int64_t t) const { return t / width * panel + c * row + t % width; }

  static TileLayout rows(std::int64_t channels, std::int64_t stride) { return {stride, 0, stride, channels * stride}; }
  static TileLayout panels(std::int64_t channels, std::int64_t tiles, std::int64_t nr) {
    return {nr, channels * nr, nr, ceil_div(tiles, nr) * channels * nr};
  }
  // Points an odd number of cache lines (of `line` elements) apart: the transforms write or read
  // every point of a tile at once, and points a multiple of 4 kB apart (ResNet-18 layer1: 28 kB)
  // would all fall in one set of the L1 cache, which holds 8 of them.
  TileLayout spread(std::int64_t line) const {
    TileLayout l = *this;
    l.point = direct::odd_lines(point, line);
    return l;
  }
};

// The tuple GEMM as a problem of the direct path's driver: entry b = (point xi, group). It reads
// V and writes M in place: the input transform writes V in B panels, and M's rows are padded
// so that the microkernel's whole micro-tiles fit (each group's rows to a multiple of mr). Its A,
// U[xi][k][c] (K x Cg per group), always comes packed: the weight transform writes it so.
template <typename T>
struct TupleGemm {
  static constexpr bool kPrepackA = true;
  const Geometry& g;
  const T* v;       // V[xi][c][tile] at vl
  T* prod;          // M[xi][group * kgp + k][tile] at ml
  TileLayout vl, ml;
  std::int64_t kgp, count;  // M rows per group, and tiles in this block

  std::int64_t batches() const { return g.xi * g.G; }
  std::int64_t period() const { return g.xi * g.G; }
  std::int64_t m(std::int64_t) const { return g.Kg; }
  std::int64_t n(std::int64_t) const { return count; }
  std::int64_t k(std::int64_t) const { return g.Cg; }
  std::int64_t a_operand(std::int64_t b) const { return b; }

  const T* b_panels(std::int64_t b, std::int64_t k0, std::int64_t j0) const {
    const std::int64_t xi = b / g.G, grp = b % g.G;
    return v + xi * vl.point + vl.offset(grp * g.Cg + k0, j0);
  }
  std::int64_t b_panel_stride() const { return vl.panel; }

  T* c_rows(std::int64_t b, std::int64_t i0, std::int64_t j0) const {
    const std::int64_t xi = b / g.G, grp = b % g.G;
    return prod + xi * ml.point + ml.offset(grp * kgp + i0, j0);
  }
  std::int64_t c_ld() const { return ml.row; }
};

// The weight gradient's GEMMs: S[xi][k][c] = sum over tiles of Z[xi][k][tile] * V[xi][c][tile],
// entry b = (point xi, group). The reduction over tiles is long, so the driver splits it.
template <typename T>
struct WeightGemm {
  static constexpr bool kPrepackA = false;
  const Geometry& g;
  const T* z;  // [xi][k][tile]
  const T* v;  // [xi][c][tile]
  T* out;      // [xi][k][c]
  TileLayout zl, vl;    // where Z's and V's tiles lie: rows, one per filter or channel
  std::int64_t count;   // tiles in this block
  bool accumulate;      // add to out (the sums of earlier blocks)

  std::int64_t batches() const { return g.xi * g.G; }
  std::int64_t period() const { return g.xi * g.G; }
  std::int64_t m(std::int64_t) const { return g.Kg; }
  std::int64_t n(std::int64_t) const { return g.Cg; }
  std::int64_t k(std::int64_t) const { return count; }
  std::int64_t a_operand(std::int64_t b) const { return b; }

  // Z's rows, which the microkernel reads in place where few column blocks share them
  const T* a_rows(std::int64_t b) const { return z + b / g.G * zl.point + zl.offset(b % g.G * g.Kg, 0); }
  std::int64_t a_ld() const { return zl.row; }
  void pack_a(std::int64_t b, std::int64_t k0, std::int64_t kc, std::int64_t i0, std::int64_t i1, T* dst, int mr) const {
    direct::pack_rows(a_rows(b), a_ld(), g.Kg, k0, kc, i0, i1, dst, mr);
  }

  // B[tile][c] = V[xi][c][tile]
  void pack_b(std::int64_t b, std::int64_t k0, std::int64_t kc, std::int64_t j0, std::int64_t nc, T* dst,
              int nr) const {
    const std::int64_t xi = b / g.G, grp = b % g.G;
    for (std::int64_t jj = 0; jj < nc; jj += nr, dst += kc * nr)
      gemm_microkernel<T>().pack(v + xi * vl.point + vl.offset(grp * g.Cg + j0 + jj, k0), vl.row,
                                 std::min<std::int64_t>(nr, nc - jj), kc, dst, nr);
  }

  void store(std::int64_t b, std::int64_t i0, std::int64_t mc, std::int64_t j0, std::int64_t nc, const T* c,
             std::int64_t ldc) const {
    const std::int64_t xi = b / g.G, grp = b % g.G;
    for (std::int64_t i = 0; i < mc; ++i) {
      T* o = out + (xi * g.K + grp * g.Kg + i0 + i) * g.Cg + j0;
      const T* ci = c + i * ldc;
      if (accumulate) {
        for (std::int64_t j = 0; j < nc; ++j) o[j] += ci[j];
      } else {
        std::copy(ci, ci + nc, o);
      }
    }
  }
};

template <typename T, int M>
class WinogradConv final : public ConvImpl {
  static constexpr int kTile = M, kAlpha = M + 2, kXi = kAlpha * kAlpha;  // output tile, input tile, points

 public:
  WinogradConv(const ConvDesc& desc, int threads)
      : g_(desc, M, threads), threads_(threads), bwd_(make_backward_desc(desc)) {
    const GemmMicrokernel<T>& uk = gemm_microkernel<T>();
    kernel_name_ = uk.name;
    layout_ = direct::make_layout(tuple_gemm(g_, nullptr, nullptr, block_tiles(g_)), tuple_rows(g_), uk.nr, sizeof(T),
                                  threads);
    if (fused(g_)) layout_.a_prepacked = 0;  // the weights come transformed, or are transformed in the GEMM
    planes_ = padded_planes(g_);
    const std::int64_t tiles = wgrad_rows(g_) * g_.tw;
    const WeightGemm<T> wgrad{g_, nullptr, nullptr, nullptr, wgrad_tiles(g_.K, tiles), wgrad_tiles(g_.C, tiles),
                              tiles, false};
    wgrad_layout_ = direct::make_layout(wgrad, tuple_rows(g_), uk.nr, sizeof(T), threads);
    if (bwd_ok_) {
      gb_ = std::make_unique<Geometry>(bwd_, M, threads);
      bwd_layout_ = direct::make_layout(tuple_gemm(*gb_, nullptr, nullptr, block_tiles(*gb_)), tuple_rows(*gb_), uk.nr,
                                        sizeof(T), threads);
      if (fused(*gb_)) bwd_layout_.a_prepacked = 0;
      bwd_planes_ = padded_planes(*gb_);
    } else {
      direct_ = make_direct(desc, threads);  // the input gradient when a padding exceeds 2
    }
  }

  std::string name() const override {
    const std::string own = name_of(Direction::Forward);
    return direct_ ? own + ", input gradient " + direct_->name_of(Direction::BackwardData) : own;
  }
  std::string name_of(Direction d) const override {
    if (d == Direction::BackwardData && direct_) return direct_->name_of(d);
    const GemmLayout& L =
        d == Direction::Forward ? layout_ : d == Direction::BackwardData ? bwd_layout_ : wgrad_layout_;
    const Geometry& g = d == Direction::BackwardData ? *gb_ : g_;
    return std::string("winograd/") + kernels(g).name + "+" + kernel_name_ + direct::rows_tag<T>(L.mr);
  }

  std::size_t workspace_size(Direction d) const noexcept override {
    if (d == Direction::BackwardWeights) {
      const std::int64_t stride = wgrad_rows(g_) * g_.tw;
      const std::int64_t tiles = kXi * (wgrad_tiles(g_.C, stride).point + wgrad_tiles(g_.K, stride).point);
      const std::int64_t rest = fused(g_) ? fused_wgrad_elements(g_, threads_)
                                          : kXi * g_.K * g_.Cg + wgrad_layout_.workspace_elements();
      return std::size_t(tiles + rest + threads_ * slot(*planes_)) * sizeof(T) + kWorkspaceAlign;
    }
    if (d == Direction::BackwardData && !bwd_ok_) return direct_->workspace_size(d);
    const Geometry& g = d == Direction::Forward ? g_ : *gb_;
    const GemmLayout& L = d == Direction::Forward ? layout_ : bwd_layout_;
    const PaddedSource& planes = d == Direction::Forward ? *planes_ : *bwd_planes_;
    const std::int64_t elements = own_blocks(g) ? L.a_prepacked + threads_ * area_elements(g, single(L), planes, 1)
                                                : area_elements(g, L, planes, threads_);
    return std::size_t(elements) * sizeof(T) + kWorkspaceAlign;
  }

  void forward(const void* x, const void* w, const void* bias, void* y, void* ws) const noexcept override {
    run(g_, layout_, *planes_, static_cast<const T*>(x), static_cast<const T*>(w), false, packed_fwd_.data(),
        static_cast<const T*>(bias), static_cast<T*>(y), static_cast<T*>(align_workspace(ws)));
  }

  void backward_data(const void* dy, const void* w, void* dx, void* ws) const noexcept override {
    if (!bwd_ok_) return direct_->backward_data(dy, w, dx, ws);
    run(*gb_, bwd_layout_, *bwd_planes_, static_cast<const T*>(dy), static_cast<const T*>(w), true, packed_bwd_.data(),
        nullptr, static_cast<T*>(dx), static_cast<T*>(align_workspace(ws)));
  }

  // Transforms the weights once for forward and backward data, packed for the tuple GEMM's
  // microkernel, as each call would (the cache of a plan run many times).
  void prepare_weights(const void* w, std::size_t bytes) override {
    ConvImpl::prepare_weights(w, bytes);
    if (direct_) direct_->prepare_weights(w, bytes);
    packed_fwd_.resize(std::size_t(transformed_elements(g_, layout_)));
    transform_weights(g_, layout_, static_cast<const T*>(w), false, packed_fwd_.data());
    if (!bwd_ok_) return;
    packed_bwd_.resize(std::size_t(transformed_elements(*gb_, bwd_layout_)));
    transform_weights(*gb_, bwd_layout_, static_cast<const T*>(w), true, packed_bwd_.data());
  }

  // S[xi][k][c] = sum over tiles of Z[xi][k][tile] V[xi][c][tile], a block of tile rows at a time,
  // each block's sums added in order.
  void backward_weights(const void* xv, const void* dyv, void* dwv, void* db, void* ws) const noexcept override {
    const Geometry& g = g_;
    const T* dy = static_cast<const T*>(dyv);
    T* dw = static_cast<T*>(dwv);
    const std::int64_t rows = wgrad_rows(g), stride = rows * g.tw;
    const TileLayout vl = wgrad_tiles(g.C, stride), zl = wgrad_tiles(g.K, stride);
    if (fused(g)) {
      T* v = static_cast<T*>(align_workspace(ws));
      T* z = v + kXi * vl.point;
      T* rest = z + kXi * zl.point;
      transform_input(g, *planes_, static_cast<const T*>(xv), 0, g.N * g.th, v, vl, rest + fused_wgrad_elements(g, threads_),
                      threads_);
      transform_gradient(g, dy, 0, g.N * g.th, z, zl);
      fused_weight_gradient(g, z, zl, v, vl, dw, rest);
      if (db) bias_gradient(g.N, g.K, g.P * g.Q, dy, static_cast<T*>(db), threads_);
      return;
    }
    T* sum = static_cast<T*>(align_workspace(ws));
    T* v = sum + kXi * g.K * g.Cg;
    T* z = v + kXi * vl.point;
    T* gemm_ws = z + kXi * zl.point;
    T* bufs = gemm_ws + wgrad_layout_.workspace_elements();
    for (std::int64_t r0 = 0; r0 < g.N * g.th; r0 += rows) {
      const std::int64_t r1 = std::min(r0 + rows, g.N * g.th);
      transform_input(g, *planes_, static_cast<const T*>(xv), r0, r1, v, vl, bufs, threads_);
      transform_gradient(g, dy, r0, r1, z, zl);
      direct::run_gemm<T>(WeightGemm<T>{g, z, v, sum, zl, vl, (r1 - r0) * g.tw, r0 > 0}, wgrad_layout_,
                          gemm_ws);
    }
    // dW[k][c] = G^T S[k][c] G, for consecutive (k, c) pairs side by side (as many as the
    // inverse kernel's lanes): each point's sums are consecutive there
    const auto inverse = inverse_weights(g);
    const std::int64_t pairs = g.K * g.Cg, blocks = ceil_div(pairs, inverse.lanes);
#pragma omp parallel for schedule(static) num_threads(threads_) if (threads_ > 1 && !forked_child() && blocks > 8)
    for (std::int64_t blk = 0; blk < blocks; ++blk) {
      const std::int64_t kc0 = blk * inverse.lanes;
      inverse.run(sum + kc0, pairs, int(std::min<std::int64_t>(inverse.lanes, pairs - kc0)), dw + kc0 * 9);
    }
    if (db) bias_gradient(g.N, g.K, g.P * g.Q, dy, static_cast<T*>(db), threads_);
  }

 private:
  // Workspace: V (points x C x B) and M (or Z, points x K x B, M's rows padded) for a block of B tiles
  // (rounded up to whole B panels), then the GEMM's own (which leads with the packed U), then
  // the threads' padded planes (with own_blocks: the packed U, then that area once per thread,
  // for one thread each); the weight gradient puts its sums S (points x K x Cg) first.
  static std::int64_t tile_elements(const Geometry& g) { return kXi * (v_layout(g).point + m_layout(g).point); }
  // All of U, packed: points x groups, each operand filters (rounded up to micro-tiles) x channels.
  static std::int64_t transformed_elements(const Geometry& g, const GemmLayout& L) { return kXi * g.G * operand_size(L); }
  static std::int64_t operand_size(const GemmLayout& L) { return L.a_offset[1] - L.a_offset[0]; }
  // Where the weight transform runs inside the GEMM, each point's panel in a thread's scratch:
  // an odd number of cache lines apart.
  static std::int64_t fused_point(const Geometry& g, const GemmLayout& L) {
    return direct::odd_lines(fused_rows(g, L) * fused_ld(L), line());
  }
  // Its rows' stride: the one at which the tall microkernel reads them fastest, where it holds kc.
  static std::int64_t fused_ld(const GemmLayout& L) { return std::max(L.kc, kTallRowStride); }
  // Filters a fused task takes: two micro-tiles where all tiles fill at most half a panel, for
  // the microkernel's tall entry (AVX-512's panels are 32 tiles wide, and ResNet-18's layer4 at
  // batch 1 has 16 tiles: one micro-tile each computed as much padding as tiles).
  static std::int64_t fused_rows(const Geometry& g, const GemmLayout& L) {
    return 2 * g.tiles <= L.nr && m_rows(g) >= 2 * L.mr ? 2 * L.mr : L.mr;
  }
  // The microkernel's shape: B panels are nr tiles wide, and M holds whole mr-row micro-tiles.
  static std::int64_t nr() { return gemm_microkernel<T>().nr; }
  static std::int64_t m_rows(const Geometry& g) { return round_up(g.Kg, tuple_rows(g)); }
  // The tuple GEMMs' micro-tile rows (filters), as direct's (gemm_rows); the fused GEMMs keep
  // the main kernel, whose tall entry they need.
  static int tuple_rows(const Geometry& g) { return fused(g) ? gemm_microkernel<T>().mr : direct::gemm_rows<T>(g.Kg); }
  static TileLayout v_layout(const Geometry& g) { return TileLayout::panels(g.C, block_tiles(g), nr()).spread(line()); }
  static TileLayout m_layout(const Geometry& g) {
    return TileLayout::rows(g.G * m_rows(g), round_up(block_tiles(g), nr())).spread(line());
  }
  static std::int64_t line() { return std::int64_t(kWorkspaceAlign / sizeof(T)); }
  // The weight gradient's V or Z (channels x stride tiles a point), points spread the same way.
  static TileLayout wgrad_tiles(std::int64_t channels, std::int64_t stride) {
    return TileLayout::rows(channels, stride).spread(line());
  }

  // Every direction runs a block of whole tile rows at a time, input transform to output
  // transform, so that V and M stay in cache instead of streaming through memory three times.
  // Measured on ResNet and VGG layers: a block needs enough GEMM work to pay for its setup
  // (2^22 multiply-adds; more only adds cache misses, as the output transform rereads M. On a
  // Xeon with 2 MB of L2, ResNet-18 layer1's blocks of 2^24 (126 tiles, 2.4 MB of V and M) ran
  // 1.4x slower than blocks of one panel, on one thread), and tiles that fill the microkernel's
  // panels, as a partial last panel computes its padding.
  static std::int64_t block_rows(const Geometry& g) {
    if (fused(g)) return g.N * g.th;
    const double per_tile = double(kXi) * double(g.Cg) * double(g.K);
    // At least one whole panel: AVX-512's are 32 tiles wide, and 16-tile blocks of ResNet-18's
    // layer3 computed as much padding as tiles (1.8x slower). On several threads, two a thread
    // where U passes 4 MB: the threads then share each block, each reading its points' part of
    // U once a block, where whole blocks of one panel had each thread stream all of U from the
    // last-level cache per panel (ResNet-18 layer3 on 2 threads: 1.15x slower forward).
    const std::int64_t panels = g.threads > 1 && u_bytes(g) > (std::int64_t(4) << 20) ? 2 * g.threads : 1;
    const std::int64_t want = std::max({std::int64_t(16), panels * nr(), std::int64_t(double(1 << 22) / per_tile)});
    const std::int64_t total = g.N * g.th, rows = std::min(ceil_div(want, g.tw), total);
    auto waste = [&](std::int64_t r) { return double(round_up(r * g.tw, nr()) - r * g.tw) / double(r * g.tw); };
    std::int64_t best = rows;  // the least padding within a third either way, and at most 4 MB of V and M
    const std::int64_t cap = std::max<std::int64_t>(
        rows * g.tw, (std::int64_t(4) << 20) / (kXi * (g.C + g.K) * std::int64_t(sizeof(T))));
    for (std::int64_t r = std::max<std::int64_t>(1, rows * 2 / 3); r <= std::min(total, rows * 4 / 3); ++r)
      if (r * g.tw <= cap && waste(r) < waste(best)) best = r;
    return best;
  }
  static std::int64_t block_tiles(const Geometry& g) { return block_rows(g) * g.tw; }
  // The transformed weights' bytes.
  static std::int64_t u_bytes(const Geometry& g) { return std::int64_t(kXi * sizeof(T)) * g.K * g.Cg; }

  // The weight gradient instead adds each block's products into the weight-sized sums S, which
  // costs a pass over S per block: its blocks hold about 4 MB of V and Z, and at least enough
  // tiles that S's passes cost less than V's and Z's.
  static std::int64_t wgrad_rows(const Geometry& g) {
    if (fused(g)) return g.N * g.th;
    const std::int64_t by_cache = (std::int64_t(4) << 20) / (kXi * (g.C + g.K) * std::int64_t(sizeof(T)));
    const std::int64_t by_sums = 2 * g.K * g.Cg / (g.C + g.K);
    return std::clamp<std::int64_t>(ceil_div(std::max({by_cache, by_sums, std::int64_t(64)}), g.tw), 1, g.N * g.th);
  }

  static TupleGemm<T> tuple_gemm(const Geometry& g, const T* v, T* m, std::int64_t count) {
    return {g, v, m, v_layout(g), m_layout(g), m_rows(g), count};
  }

  // The input gradient as a forward convolution over dY: channels K -> C, kernel rotated,
  // padding 2 - pad (valid while pad <= 2, the usual case).
  ConvDesc make_backward_desc(const ConvDesc& d) {
    ConvDesc b = d;
    b.input_layout = Layout::NCHW;  // dY
    b.c = d.k;
    b.k = d.c;
    b.h = d.p();
    b.w = d.q();
    b.pad_top = 2 - d.pad_top;
    b.pad_left = 2 - d.pad_left;
    b.pad_bottom = d.h - b.h + 2 - b.pad_top;
    b.pad_right = d.w - b.w + 2 - b.pad_left;
    bwd_ok_ = b.pad_top >= 0 && b.pad_left >= 0 && b.pad_bottom >= 0 && b.pad_right >= 0;
    return b;
  }

  // U[xi][k][c] = G g[k][c] G^T. For the input gradient, g[k][c] = rot180(w[c][k]) per group.
  // Written where the tuple GEMM's packing (layout L) would put it: operand (xi, group), block
  // of kc channels, panel of mr filters. A task takes one panel of filters.
  void transform_weights(const Geometry& g, const GemmLayout& L, const T* w, bool rotate, T* packed) const noexcept {
    const std::int64_t mr = L.mr, kgp = round_up(g.Kg, mr), panels = kgp / mr, tasks = g.G * panels;
    // U[xi][grp * Kg + kin][c] at xi * point + grp * op_size + c0 * kgp + kin / mr * kc * mr + ...:
    // make_layout lays the operands out in entry order, each kgp x Cg in blocks of kc channels
    // (and padded to an odd number of cache lines).
    const std::int64_t op_size = operand_size(L), point = g.G * op_size;
#pragma omp parallel for schedule(static) num_threads(threads_) if (threads_ > 1 && !forked_child() && tasks > 1)
    for (std::int64_t task = 0; task < tasks; ++task) {
      const std::int64_t grp = task / panels, panel0 = task % panels * mr;
      for (std::int64_t c0 = 0; c0 < g.Cg; c0 += L.kc) {
        const std::int64_t kc = std::min(L.kc, g.Cg - c0);
        transform_panel(g, w, rotate, grp, panel0, mr, c0, kc, packed + grp * op_size + c0 * kgp + panel0 * kc, point);
      }
    }
  }

  // The 3x3 filter g[kin][c] of group grp: w[kin][c] as it lies, or (rotate) w[c][kin], the
  // forward's [C][K/groups][3][3], to be read rotated by 180 degrees.
  static const T* filter(const Geometry& g, const T* w, bool rotate, std::int64_t grp, std::int64_t kin, std::int64_t c) {
    return w + (rotate ? (grp * g.Cg + c) * g.Kg + kin : (grp * g.Kg + kin) * g.Cg + c) * 9;
  }

  // U for filters [panel0, panel0 + mr) and channels [c0, c0 + kc) of group grp, as a packed A
  // panel: point xi at dst + xi * point, channel c's mr values consecutive. Filters past the
  // last are zero, and so are the panel rows they fill.
  static void transform_panel(const Geometry& g, const T* w, bool rotate, std::int64_t grp, std::int64_t panel0,
                              std::int64_t mr, std::int64_t c0, std::int64_t kc, T* dst, std::int64_t point) noexcept {
    const WinogradKernels<T>& wk = kernels(g);
    // Filters panel0 + l0 + t side by side: consecutive in the rotated weights (the forward's
    // [C][K/groups][3][3]), a channel row apart in the forward's.
    const std::int64_t stride = rotate ? 9 : g.Cg * 9;
    for (std::int64_t c = c0; c < c0 + kc; ++c)
      for (std::int64_t l0 = 0; l0 < mr; l0 += kLanes) {
        const std::int64_t kin = panel0 + l0, lanes = std::min<std::int64_t>(kLanes, mr - l0);
        const int count = int(std::clamp<std::int64_t>(g.Kg - kin, 0, lanes));
        T* d = dst + (c - c0) * mr + l0;
        if (count > 0)
          wk.weights(filter(g, w, rotate, grp, kin, c), stride, count, rotate, d, point);
        if (count < lanes)
          for (int xi = 0; xi < kXi; ++xi) std::fill(d + xi * point + count, d + xi * point + lanes, T(0));
      }
  }

  // The tuple GEMM with the weight transform fused in, for blocks of few tiles: each transformed
  // weight then meets only a panel or two of tiles, so writing all of U to memory and reading it
  // back would cost more than its multiply-adds. A task transforms a panel of filters, kc
  // channels at a time, into the thread's scratch (every point, rows of consecutive channels,
  // which the kernel writes whole vectors of) and multiplies it there at once. The same
  // products, in the same order, as the GEMM driver on the packed transformed weights.
  void fused_gemm(const Geometry& g, const GemmLayout& L, const T* w, bool rotate, const T* v, T* m,
                  std::int64_t count, T* scratch) const noexcept {
    const GemmMicrokernel<T>& uk = gemm_microkernel<T>();
    const WinogradKernels<T>& wk = kernels(g);
    const std::int64_t mr = L.mr, nr = L.nr, kgp = m_rows(g), rows = fused_rows(g, L), panels = ceil_div(kgp, rows);
    const std::int64_t tasks = g.G * panels, point = fused_point(g, L), ld = fused_ld(L), jn = ceil_div(count, nr);
    const bool tall = rows > mr;  // then count <= nr / 2: one panel, half of it or less
    const std::int64_t stride = rotate ? g.Kg * 9 : 9;  // between consecutive channels' filters
    const TileLayout vl = v_layout(g), ml = m_layout(g);
    // a row of consecutive channels a call: as many as the ISA's widest weight kernel takes
    const auto weights = wk.weights_wide ? wk.weights_wide : wk.weights;
    const std::int64_t lanes = wk.weights_wide ? kWeightLanesWide : kLanes;
#pragma omp parallel for schedule(static) num_threads(threads_) if (threads_ > 1 && !forked_child() && tasks > 1)
    for (std::int64_t task = 0; task < tasks; ++task) {
      const std::int64_t grp = task / panels, panel0 = task % panels * rows, height = std::min(rows, kgp - panel0);
      T* a = scratch + thread_index() * kXi * point;
      for (std::int64_t c0 = 0; c0 < g.Cg; c0 += L.kc) {
        const std::int64_t kc = std::min(L.kc, g.Cg - c0);
        // row i: filter panel0 + i, channels c0 .., zero past the last filter
        const std::int64_t filters = std::min(height, g.Kg - panel0);
        for (std::int64_t i = filters; i < height; ++i)
          for (int xi = 0; xi < kXi; ++xi) std::fill_n(a + xi * point + i * ld, kc, T(0));
        auto transform = [&](std::int64_t i, std::int64_t c) {
          weights(filter(g, w, rotate, grp, panel0 + i, c), stride, int(std::min<std::int64_t>(lanes, c0 + kc - c)),
                  rotate, a + i * ld + c - c0, point);
        };
        // Along the weights as they lie: the rotated ones hold a channel's filters together, and
        // a row of channels would touch a page per channel (ResNet-18 layer4: 18 kB apart).
        if (rotate) {
          for (std::int64_t c = c0; c < c0 + kc; c += lanes)
            for (std::int64_t i = 0; i < filters; ++i) transform(i, c);
        } else {
          for (std::int64_t i = 0; i < filters; ++i)
            for (std::int64_t c = c0; c < c0 + kc; c += lanes) transform(i, c);
        }
        for (int xi = 0; xi < kXi; ++xi)
          for (std::int64_t j = 0; j < jn; ++j) {
            const T* b = v + xi * vl.point + vl.offset(grp * g.Cg + c0, j * nr);
            T* c = m + xi * ml.point + ml.offset(grp * kgp + panel0, j * nr);
            if (tall && height == rows) {
              uk.run_rows_tall(kc, a + xi * point, ld, b, c, ml.row, c0 > 0);
            } else {
              for (std::int64_t i = 0; i < height; i += mr)
                uk.run_rows(kc, a + xi * point + i * ld, ld, b, c + i * ml.row, ml.row, c0 > 0);
            }
          }
      }
    }
  }
  // The weight gradient where tiles are few: one block, and the inverse weight transform fused
  // into the GEMM, whose sums over the tiles are short. A task takes a micro-tile of filters x
  // channels, sums its products over all tiles at every point (one microkernel call each: the
  // same order on any thread count), and turns those sums straight into dW, instead of writing
  // the sums of all weights (S, (m + 2)^2 / 9 times dW) to memory and reading them back.
  // Z rows (filters) are read in place; V is packed once into B panels of nr channels.
  void fused_weight_gradient(const Geometry& g, const T* z, const TileLayout& zl, const T* v, const TileLayout& vl,
                             T* dw, T* work) const noexcept {
    const GemmMicrokernel<T>& uk = gemm_microkernel<T>();
    const auto inverse = inverse_weights(g);
    const std::int64_t mr = uk.mr, nr = uk.nr, stride = g.tiles, kp = ceil_div(g.Kg, mr), cp = ceil_div(g.Cg, nr);
    T* packed = work + mr * stride;  // [xi][group][channel panel]: tiles x nr
    T* scratch = packed + kXi * g.G * cp * stride * nr;
    const std::int64_t panels = kXi * g.G * cp;
#pragma omp parallel for schedule(static) num_threads(threads_) if (threads_ > 1 && !forked_child() && panels > 1)
    for (std::int64_t p = 0; p < panels; ++p) {
      const std::int64_t xi = p / (g.G * cp), grp = p / cp % g.G, c0 = p % cp * nr;
      uk.pack(v + xi * vl.point + vl.offset(grp * g.Cg + c0, 0), vl.row, std::min(nr, g.Cg - c0), stride,
              packed + p * stride * nr, nr);
    }
    const std::int64_t tasks = g.G * kp * cp;
#pragma omp parallel for schedule(static) num_threads(threads_) if (threads_ > 1 && !forked_child() && tasks > 1)
    for (std::int64_t task = 0; task < tasks; ++task) {
      const std::int64_t grp = task / (kp * cp), k0 = task / cp % kp * mr, c0 = task % cp * nr;
      T* sums = scratch + thread_index() * kXi * mr * nr;  // [xi][mr][nr]
      for (int xi = 0; xi < kXi; ++xi)
        uk.run_rows(stride, z + xi * zl.point + zl.offset(grp * g.Kg + k0, 0), zl.row,
                    packed + ((xi * g.G + grp) * cp + c0 / nr) * stride * nr, sums + xi * mr * nr, nr, false);
      const std::int64_t cols = std::min(nr, g.Cg - c0);
      for (std::int64_t i = 0; i < std::min(mr, g.Kg - k0); ++i)
        for (std::int64_t j = 0; j < cols; j += inverse.lanes)  // pairs side by side (fewer in narrow panels)
          inverse.run(sums + i * nr + j, mr * nr, int(std::min({inverse.lanes, nr - j, cols - j})),
                      dw + ((grp * g.Kg + k0 + i) * g.Cg + c0 + j) * 9);  // G^T S G
    }
  }
  // Its workspace past V and Z: Z's slack (the last micro-tile of filters reads mr rows past
  // them), the packed V and each thread's sums, then the padded planes.
  static std::int64_t fused_wgrad_elements(const Geometry& g, int threads) {
    const std::int64_t mr = gemm_microkernel<T>().mr, n = nr();
    return mr * g.tiles + kXi * g.G * ceil_div(g.Cg, n) * g.tiles * n + threads * kXi * mr * n;
  }

  // The weight gradient's inverse transform, over as many pairs as the ISA's widest kernel takes.
  struct Inverse {
    void (*run)(const T* s, std::int64_t point, int count, T* dw) noexcept;
    std::int64_t lanes;
  };
  static Inverse inverse_weights(const Geometry& g) {
    const WinogradKernels<T>& wk = kernels(g);
    return wk.weights_t_wide ? Inverse{wk.weights_t_wide, kWeightLanesWide} : Inverse{wk.weights_t, kLanes};
  }

  // Fused where all tiles fill at most four of the microkernel's panels; they then make one block.
  static bool fused(const Geometry& g) { return g.tiles <= 4 * nr(); }

  // Each (image, channel) plane copied into padded planes that hold every tile's patch whole,
  // and a whole lane block's from any tile of a row (blocks split at GEMM panels start anywhere,
  // and the kernels read all their lanes' patches), so the transform kernels check no bounds.
  // A buffer holds the rows of one tile block, not the whole plane.
  static std::unique_ptr<PaddedSource> padded_planes(const Geometry& g) {
    const std::int64_t lanes = kernels(g).lanes, width = (g.tw + lanes) * kTile;
    const std::int64_t strip_rows = std::min(g.th, std::max(block_rows(g), wgrad_rows(g))) * kTile;
    const std::size_t strip_bytes = std::size_t((strip_rows + 2) * (width + 2)) * sizeof(T);
    return std::make_unique<PaddedSource>(g.H, g.W, 1, 1, g.pt, g.pl, g.th * kTile, width, 3, 3, 1, 1, 1, 1, sizeof(T),
                                          strip_bytes);
  }
  // One thread's padded plane, a cache line apart, with slack for vector loads past its end.
  static std::int64_t slot(const PaddedSource& planes) {
    const std::int64_t line = std::int64_t(kWorkspaceAlign / sizeof(T));
    return (planes.buffer_elems() + 2 * line - 1) / line * line;
  }

  // Calls fn(state, image, channel, ty0, ty1) on `threads` threads for every (image, channel)
  // plane that global tile rows [r0, r1) touch (row r = image * th + ty), with that image's rows
  // [ty0, ty1); state = init() once per thread.
  template <typename Init, typename Fn>
  void for_planes(const Geometry& g, std::int64_t channels, std::int64_t r0, std::int64_t r1, int threads, Init&& init,
                  Fn&& fn) const noexcept {
    const std::int64_t img0 = r0 / g.th, tasks = (ceil_div(r1, g.th) - img0) * channels;
#pragma omp parallel num_threads(threads) if (threads > 1 && !forked_child() && tasks > 1)
    {
      auto state = init();
#pragma omp for schedule(static)
      for (std::int64_t task = 0; task < tasks; ++task) {
        const std::int64_t img = img0 + task / channels;
        fn(state, img, task % channels, std::max(r0 - img * g.th, std::int64_t(0)), std::min(r1 - img * g.th, g.th));
      }
    }
  }

  // Calls fn(ty, tx, count, rows, tile) for the lane blocks of tiles in rows [ty0, ty1) of an
  // image; tile counts from the first tile of global row r0. Planes half or a quarter of a block
  // wide take 2 or 4 tile rows a block (rows), whose tiles are consecutive, where the kernels
  // take that many and pairable(tile) allows; the rows left over, one a block.
  template <typename Pairable, typename Fn>
  static void for_lane_blocks(const Geometry& g, std::int64_t img, std::int64_t ty0, std::int64_t ty1, std::int64_t r0,
                              Pairable&& pairable, Fn&& fn) noexcept {
    const WinogradKernels<T>& wk = kernels(g);
    const int lanes = wk.lanes, rows = wk.block_rows(g.tw);
    for (std::int64_t ty = ty0; ty < ty1;) {
      const std::int64_t tile = (img * g.th + ty - r0) * g.tw;
      if (rows > 1 && ty + rows <= ty1 && pairable(tile)) {
        fn(ty, 0, lanes, rows, tile);
        ty += rows;
        continue;
      }
      for (std::int64_t tx = 0; tx < g.tw; tx += lanes)
        fn(ty, tx, int(std::min<std::int64_t>(lanes, g.tw - tx)), 1, tile + tx);
      ++ty;
    }
  }
  static bool always(std::int64_t) { return true; }
  static const WinogradKernels<T>& kernels(const Geometry& g) { return winograd_kernels<T>(M, g.tw); }

  // V[xi][c][tile] (at vl) = B^T d B for global tile rows [r0, r1): each (image, channel) strip
  // padded in the thread's buffer (bufs: threads_ slots), then transformed.
  void transform_input(const Geometry& g, const PaddedSource& pad, const T* x, std::int64_t r0, std::int64_t r1,
                       T* v, const TileLayout& vl, T* bufs, int threads) const noexcept {
    const WinogradKernels<T>& wk = kernels(g);
    const std::int64_t ld = pad.geometry().ld;
    auto buffer = [&] {
      T* buf = bufs + thread_index() * slot(pad);
      pad.clear(buf);
      return buf;
    };
    for_planes(g, g.C, r0, r1, threads, buffer, [&](T* buf, std::int64_t img, std::int64_t c, std::int64_t ty0, std::int64_t ty1) {
      pad.fill(channel_start(x, img, c, g.C, g.H * g.W, g.step), ty0 * kTile, (ty1 - ty0) * kTile, buf, g.step);
      auto within_panel = [&](std::int64_t tile) { return vl.width - tile % vl.width >= wk.lanes; };
      for_lane_blocks(g, img, ty0, ty1, r0, within_panel,
                      [&](std::int64_t ty, std::int64_t tx, int count, int rows, std::int64_t tile) {
        while (count > 0) {  // split where the lanes cross into the next panel (blocks of rows never do)
          const int part = int(std::min<std::int64_t>(count, vl.width - tile % vl.width));
          wk.input(buf, ld, (ty - ty0) * kTile, tx * kTile, part, rows, v + vl.offset(c, tile), vl.point);
          tx += part, tile += part, count -= part;
        }
      });
    });
  }

  // y for global tile rows [r0, r1) = A^T M A + bias, from M[xi][group * m_rows + k][tile].
  void transform_output(const Geometry& g, const T* m, std::int64_t r0, std::int64_t r1, const T* bias, T* y,
                        int threads) const noexcept {
    const TileLayout ml = m_layout(g);
    const std::int64_t group_rows = m_rows(g);
    const WinogradKernels<T>& wk = kernels(g);
    auto none = [] { return 0; };
    for_planes(g, g.K, r0, r1, threads, none, [&](int, std::int64_t img, std::int64_t k, std::int64_t ty0, std::int64_t ty1) {
      for_lane_blocks(g, img, ty0, ty1, r0, always,
                      [&](std::int64_t ty, std::int64_t tx, int count, int rows, std::int64_t tile) {
        wk.output(m + ml.offset(k / g.Kg * group_rows + k % g.Kg, tile), ml.point, count, rows, bias ? bias[k] : T(0),
                  y + (img * g.K + k) * g.P * g.Q, g.P, g.Q, ty * kTile, tx * kTile);
      });
    });
  }

  // Z[xi][k][tile] = A dY A^T for global tile rows [r0, r1).
  void transform_gradient(const Geometry& g, const T* dy, std::int64_t r0, std::int64_t r1, T* z,
                          const TileLayout& zl) const noexcept {
    const WinogradKernels<T>& wk = kernels(g);
    auto none = [] { return 0; };
    for_planes(g, g.K, r0, r1, threads_, none, [&](int, std::int64_t img, std::int64_t k, std::int64_t ty0, std::int64_t ty1) {
      for_lane_blocks(g, img, ty0, ty1, r0, always,
                      [&](std::int64_t ty, std::int64_t tx, int count, int rows, std::int64_t tile) {
        wk.gradient(dy + (img * g.K + k) * g.P * g.Q, g.P, g.Q, ty * kTile, tx * kTile, count, rows,
                    z + zl.offset(k, tile), zl.point);
      });
    });
  }

  // One block pass's workspace: V, M, the GEMM's (its packed-A area first) and a padded plane
  // per thread.
  struct Area {
    T *v, *m, *gemm, *bufs;
  };
  static Area area(const Geometry& g, const GemmLayout& L, int threads, T* at) {
    T* m = at + kXi * v_layout(g).point;
    T* gemm = m + kXi * m_layout(g).point;
    return {at, m, gemm, gemm + gemm_elements(g, L, threads)};
  }
  static std::int64_t area_elements(const Geometry& g, const GemmLayout& L, const PaddedSource& planes, int threads) {
    return tile_elements(g) + gemm_elements(g, L, threads) + threads * slot(planes);
  }
  // The GEMM's workspace, or where fused, each thread's transformed panel if that is more.
  static std::int64_t gemm_elements(const Geometry& g, const GemmLayout& L, int threads) {
    return std::max(L.workspace_elements(), fused(g) ? threads * kXi * fused_point(g, L) : 0);
  }

  // A block of tile rows [r0, r1): input transform, tuple GEMM on the packed weights `ready`,
  // output transform, on `threads` threads.
  void run_block(const Geometry& g, const GemmLayout& L, const PaddedSource& planes, const Area& a, const T* x,
                 const T* ready, const T* bias, T* y, std::int64_t r0, std::int64_t r1, int threads) const noexcept {
    transform_input(g, planes, x, r0, r1, a.v, v_layout(g), a.bufs, threads);
    direct::run_gemm<T>(tuple_gemm(g, a.v, a.m, (r1 - r0) * g.tw), L, a.gemm, ready);
    transform_output(g, a.m, r0, r1, bias, y, threads);
  }

  // With weights w, transforms them into the packed-A area first; else runs on the prepared
  // `packed` ones (rotated: the input gradient's). All threads share each block; or, with blocks
  // enough (own_blocks), the packed weights lead the workspace and each thread runs whole blocks
  // in an area of its own.
  void run(const Geometry& g, const GemmLayout& L, const PaddedSource& planes, const T* x, const T* w, bool rotated,
           const T* packed, const T* bias, T* y, T* work) const noexcept {
    const std::int64_t rows = block_rows(g), total = g.N * g.th;
    if (own_blocks(g)) {
      if (w) transform_weights(g, L, w, rotated, work);
      const T* ready = w ? work : packed;
      const GemmLayout one = single(L);
      T* areas = work + L.a_prepacked;
      const std::int64_t per_thread = area_elements(g, one, planes, 1);
      // A whole number of blocks per thread, each at most `rows` rows: ResNet-18 layer1 at batch 1
      // ran 7 blocks of 2 tile rows, 4 on one thread and 3 on the other; 8 blocks of 1 or 2 rows
      // ran its forward and input gradient 2-5% faster on 2 threads.
      const std::int64_t blocks = round_up(ceil_div(total, rows), threads_);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads_) if (!forked_child())
      for (std::int64_t b = 0; b < blocks; ++b)
        run_block(g, one, planes, area(g, one, 1, areas + thread_index() * per_thread), x, ready, bias, y,
                  total * b / blocks, total * (b + 1) / blocks, 1);
      return;
    }
    const Area a = area(g, L, threads_, work);
    if (w && fused(g)) {
      transform_input(g, planes, x, 0, total, a.v, v_layout(g), a.bufs, threads_);
      fused_gemm(g, L, w, rotated, a.v, a.m, g.tiles, a.gemm);
      transform_output(g, a.m, 0, total, bias, y, threads_);
      return;
    }
    if (w) transform_weights(g, L, w, rotated, a.gemm);  // the packed-A area leads the GEMM workspace
    const T* ready = w ? a.gemm : packed;
    for (std::int64_t r0 = 0; r0 < total; r0 += rows)
      run_block(g, L, planes, a, x, ready, bias, y, r0, std::min(r0 + rows, total), threads_);
  }

  // With blocks enough for every thread several times, each thread runs whole blocks on its own
  // (transforms and GEMM), so that no barrier separates the steps: on shared vCPUs a barrier
  // waits for whichever vCPU the host has paused. Three times suffice where the transformed
  // weights (U) are small enough to stay in each thread's L2: ResNet-18 layer1's 7 blocks ran
  // 1.15x faster on 2 threads so, but VGG-16 conv3_2's 7, each thread streaming 9 MB of U, 1.2x
  // slower.
  bool own_blocks(const Geometry& g) const noexcept {
    const bool small_u = u_bytes(g) <= (std::int64_t(1) << 20);
    return threads_ > 1 && ceil_div(g.N * g.th, block_rows(g)) >= (small_u ? 3 : 4) * threads_;
  }
  // The GEMM run by one thread, its transformed weights coming ready: no packed-A area, one
  // thread's scratch.
  static GemmLayout single(const GemmLayout& L) {
    GemmLayout one = L;
    one.a_prepacked = 0;
    one.threads = 1;
    return one;
  }

  Geometry g_;
  int threads_;
  bool bwd_ok_ = false;
  ConvDesc bwd_;
  std::unique_ptr<Geometry> gb_;
  std::unique_ptr<ConvImpl> direct_;
  std::unique_ptr<PaddedSource> planes_, bwd_planes_;  // input planes, padded for the transforms
  const char* kernel_name_ = "";
  GemmLayout layout_, bwd_layout_, wgrad_layout_;
  std::vector<T> packed_fwd_, packed_bwd_;  // prepared weights, transformed and packed
};

}  // namespace
}  // namespace winograd

bool winograd_accepts(const ConvDesc& d, std::string* why) {
  auto no = [why](const char* reason) {
    if (why) *why = reason;
    return false;
  };
  if (d.r != 3 || d.s != 3) return no("Winograd F(m x m, 3x3) needs a 3x3 kernel");
  if (d.stride_h != 1 || d.stride_w != 1) return no("Winograd needs stride 1");
  if ((d.dilation_h != 1 || d.dilation_w != 1) && !phases_divide(d))
    return no("Winograd needs dilation 1, or sizes and paddings that divide by the dilation");
  return true;
}

std::unique_ptr<ConvImpl> make_winograd(const ConvDesc& desc, int threads, int tile) {
  using winograd::WinogradConv;
  if (desc.dilation_h != 1 || desc.dilation_w != 1) return make_winograd_phases(desc, threads, tile);
  if (desc.dtype == DType::Float32) {
    if (tile == 2) return std::make_unique<WinogradConv<float, 2>>(desc, threads);
    if (tile == 6) return std::make_unique<WinogradConv<float, 6>>(desc, threads);
    return std::make_unique<WinogradConv<float, 4>>(desc, threads);
  }
  if (tile == 2) return std::make_unique<WinogradConv<double, 2>>(desc, threads);
  if (tile == 6) return std::make_unique<WinogradConv<double, 6>>(desc, threads);
  return std::make_unique<WinogradConv<double, 4>>(desc, threads);
}

}  // namespace fastconv
