#pragma once
// A batched, blocked GEMM over operands that are never materialised: each convolution
// direction supplies a Problem that packs A and B panels straight from the tensors
// (implicit GEMM) and stores finished C blocks back into them.
//
// Problem interface (b = batch entry; extents may differ per entry):
//   std::int64_t batches() const;
//   std::int64_t period() const;       // entries b and b + period() have equal extents and operand
//   std::int64_t m(b), n(b), k(b) const;
//   std::int64_t a_operand(b) const;   // entries with equal operand share one A matrix
//   static constexpr bool kPrepackA;   // pack each shared A once per call, before the GEMM
// and optionally, where A is a plain row-major matrix:
//   const T* a_rows(op) const; std::int64_t a_ld() const;  // A of an operand, and its row stride
//   void pack_a(op_or_b, k0, kc, i0, i1, T* dst, int mr) const;  // rows i0..i1 (i0 a multiple of mr,
//       i1 too or >= m) of columns k0..k0+kc, in mr-row panels from dst + i0 * kc, zero-padded;
//       problems whose A always comes packed (ready_a) need none
//   void pack_b(b, k0, kc, j0, nc, T* dst, int nr) const; // kc rows of nr-column panels, zero-padded
//   void store(b, i0, mc, j0, nc, const T* c, std::int64_t ldc) const;  // rows i0.., columns j0..
// or, where A's rows lie in memory with one table of column offsets (a weight matrix read
// transposed), for the microkernel's gathered entry:
//   const T* a_row(op, i) const; const std::int64_t* a_offsets(op) const;  // A(i, p) = a_row(i)[off[p]];
//                                                                          // no offsets: A is packed
//   std::int64_t a_row_step() const;  // a_row(op, i + 1) - a_row(op, i), the same for every i
// and optionally, where each row of a B panel lies contiguous in memory (stride-1 im2col rows in
// a padded plane), for the microkernel's entry that reads B in place (with prepacked A):
//   const T* b_row(b, j) const; const std::int64_t* b_offsets(b) const;  // B(p, j + t) =
//       b_row(b, j)[off[p] + t] for the t < nr of a panel starting at j; no offsets: B is packed
// and optionally, where an operand already lies in the form the microkernel reads (Winograd's
// transformed tiles), instead of pack_b or store:
//   const T* b_panels(b, k0, j0) const; std::int64_t b_panel_stride() const;  // B's panel holding
//       column j0 from reduction row k0; the next panel lies b_panel_stride() further
//   T* c_rows(b, i0, j0) const; std::int64_t c_ld() const;  // C in place, rows and columns
//       writable up to multiples of mr and nr (the microkernel writes whole micro-tiles)
//
// A tile is (batch entry, column block, row block, reduction split). Each packs its B panel once
// per reduction block and sweeps its rows of A over it. With too few tiles, problems with
// prepacked A split rows (their B panels then packed once, shared), the others split the
// reduction. Every C element is reduced in a fixed order that no thread count changes (k blocks
// in order, then splits in order), so results are bit-identical for any number of threads.
#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "cpu/kernel_table.hpp"
#include "threads.hpp"

namespace fastconv::direct {

inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
inline std::int64_t round_up(std::int64_t a, std::int64_t b) { return ceil_div(a, b) * b; }
// n elements rounded up to an odd number of cache lines of `line` elements: buffers that many
// apart fall in different L1 sets, where a multiple of 4 kB apart they would share one.
inline std::int64_t odd_lines(std::int64_t n, std::int64_t line) { return (ceil_div(n, line) | 1) * line; }
constexpr int kMaxIndirectRows = 16;  // the most microkernel rows the gathered-A entry takes

// Which optional hooks a problem offers: Has<P, Hook> holds where Hook<P> names a member of P.
template <typename P, template <typename> class Hook, typename = void>
struct Has : std::false_type {};
template <typename P, template <typename> class Hook>
struct Has<P, Hook, std::void_t<Hook<P>>> : std::true_type {};
template <typename P> using RowsAHook = decltype(&P::a_rows);
template <typename P> using IndirectAHook = decltype(&P::a_offsets);
template <typename P> using PackAHook = decltype(&P::pack_a);
template <typename P> using PanelsBHook = decltype(&P::b_panels);
template <typename P> using RowsCHook = decltype(&P::c_rows);
template <typename P> using RowsBHook = decltype(&P::b_offsets);
template <typename P> using HasRowsA = Has<P, RowsAHook>;
template <typename P> using HasIndirectA = Has<P, IndirectAHook>;
template <typename P> using HasPackA = Has<P, PackAHook>;
template <typename P> using HasPanelsB = Has<P, PanelsBHook>;
template <typename P> using HasRowsC = Has<P, RowsCHook>;
template <typename P> using HasRowsB = Has<P, RowsBHook>;

// A GEMM's micro-tile rows for `rows` rows a group (filters, or channels): 8 where the ISA has
// that shape and the rows fill it, else the main kernel's. 8 rows fill panels that 6 would not
// (8, 16 and 32 filters per group: 6 + 2, 3 x 6 and 6 x 6 rows), and on an Intel Xeon with
// AVX-512 (Sapphire Rapids) they ran dense layers faster too: 16 sums hide more of the latency
// of B panels streaming from L2 than 12 (a GEMM of 96 x 224 x 256 from L2: 200 -> 211 GFLOP/s;
// ResNet-18 layer3, direct, 22.2 -> 21.6 ms).
template <typename T>
int gemm_rows(std::int64_t rows) noexcept {
  return gemm8_microkernel<T>().mr == 8 && rows % 8 == 0 ? 8 : gemm_microkernel<T>().mr;
}
// What a plan's name adds for a layout on the second shape: "+" and its name, else nothing.
template <typename T>
std::string rows_tag(int mr) {
  return mr == gemm_microkernel<T>().mr ? "" : std::string("+") + gemm_microkernel<T>(mr).name;
}

// Whether a problem's A may be read gathered: it offers offsets, and the rows fit the entry,
// which only the main shape has.
template <typename Problem>
bool indirect_a_ok(const Problem& prob, int mr) {
  if constexpr (HasIndirectA<Problem>::value) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(prob.a_row(0, 0))>>;
    return mr <= kMaxIndirectRows && gemm_microkernel<T>(mr).run_indirect != nullptr && prob.a_offsets(0) != nullptr;
  }
  return true;
}

// Whether the microkernel reads a problem's B in place: it offers offsets, and A comes prepacked
// (not read in place, rows_a).
template <typename Problem>
bool rows_b_ok(const Problem& prob, bool rows_a) {
  if constexpr (HasRowsB<Problem>::value) return Problem::kPrepackA && !rows_a && prob.b_offsets(0) != nullptr;
  return false;
}

// Everything the driver needs that depends on shapes only, computed when a plan is made.
struct GemmLayout {
  int mr = 0, nr = 0;
  std::int64_t batches = 0, max_m = 0, max_n = 0, max_k = 0;
  std::int64_t mc = 0, nc = 0, kc = 0;  // block sizes
  std::int64_t ksplit = 1;              // reduction splits (shape-derived, never thread-derived)
  bool rows_a = false;                  // the microkernel reads A in place, unpacked
  std::int64_t ntiles = 0;              // column blocks per entry
  std::int64_t mtiles = 1, mrows = 0;   // row blocks per entry, and rows in each (multiple of mr)
  std::vector<std::int64_t> a_offset;   // per A operand, into the prepacked area (elements)
  std::vector<std::int64_t> a_first;    // per A operand, the first batch entry that uses it
  std::int64_t a_prepacked = 0;         // elements of the prepacked area
  std::int64_t b_shared = 0;            // elements of B panels packed once for all row blocks
  std::int64_t per_thread = 0;          // elements of one thread's scratch
  std::int64_t partials = 0;            // elements of the split partial results
  int threads = 1;                      // 1 when the work is too small to pay for a parallel region

  std::int64_t mp() const { return round_up(max_m, mr); }
  std::int64_t ncp() const { return round_up(nc, nr); }
  std::int64_t workspace_elements() const { return a_prepacked + b_shared + per_thread * threads + partials; }
};

template <typename Problem>
GemmLayout make_layout(const Problem& prob, int mr, int nr, std::size_t elem, int threads) {
  GemmLayout L;
  L.mr = mr, L.nr = nr;
  L.batches = prob.batches();
  std::int64_t operands = 0;
  // Entries repeat with the period (images only add batches), so planning never walks them all:
  // a billion images cost no more to plan than one.
  const std::int64_t distinct = std::min(L.batches, prob.period());
  for (std::int64_t b = 0; b < distinct; ++b) {
    L.max_m = std::max(L.max_m, prob.m(b));
    L.max_n = std::max(L.max_n, prob.n(b));
    L.max_k = std::max(L.max_k, prob.k(b));
    operands = std::max(operands, prob.a_operand(b) + 1);
  }
  // Below ~64k multiply-adds, waking a thread team costs more than it saves.
  const double work = double(L.batches) * double(L.max_m) * double(L.max_n) * double(L.max_k);
  L.threads = work < 65536.0 ? 1 : threads;
  threads = L.threads;
  const std::int64_t kc_max = elem == 4 ? 256 : 128;  // B micro-panel (kc x nr) stays in L1
  // Equal reduction blocks: a short last block would pay the C tile's loads and stores for few
  // multiply-adds.
  L.kc = std::max<std::int64_t>(1, ceil_div(L.max_k, ceil_div(std::max<std::int64_t>(L.max_k, 1), kc_max)));
  L.mc = std::min(round_up(L.max_m, mr), round_up(96, mr));  // A block (mc x kc) stays in L2
  // Column block: the B panel within L2; the C buffer (all rows) may be larger, since each
  // micro-tile of it is touched once per kc-long reduction block.
  const std::int64_t b_budget = (256 << 10) / std::int64_t(elem), c_budget = (4 << 20) / std::int64_t(elem);
  std::int64_t nc = std::min(c_budget / L.mp(), b_budget / L.kc);
  nc = std::max<std::int64_t>(nr, nc / nr * nr);
  L.nc = std::min(round_up(std::max<std::int64_t>(L.max_n, 1), nr), nc);
  L.ntiles = ceil_div(std::max<std::int64_t>(L.max_n, 1), L.nc);

  // Few tiles and a long reduction, with A packed per tile (weight gradients): split the
  // reduction. Problems with prepacked A split rows instead, below.
  const std::int64_t kTilesWanted = 16;
  const std::int64_t tiles = L.batches * L.ntiles;
  if (!Problem::kPrepackA && !HasRowsC<Problem>::value && tiles < kTilesWanted && L.max_k >= 4 * L.kc) {
    L.ksplit = std::min(ceil_div(kTilesWanted, tiles), L.max_k / (2 * L.kc));
    const std::int64_t cap = (64 << 20) / std::int64_t(elem);  // partial results stay modest
    while (L.ksplit > 1 && L.ksplit * tiles * L.mp() * L.ncp() > cap) --L.ksplit;
  }
  // Then, while threads would idle, split rows (keeping blocks of at least 4 micro-tiles) and
  // narrow the column blocks. Neither changes any result: each element is reduced the same way.
  L.mrows = L.mp();
  const std::int64_t want = 2 * std::int64_t(threads);
  if (Problem::kPrepackA && L.batches * L.ntiles * L.ksplit < want) {
    const std::int64_t most = std::max<std::int64_t>(1, L.max_m / (4 * mr));
    L.mtiles = std::min(most, ceil_div(want, L.batches * L.ntiles * L.ksplit));
    L.mrows = round_up(ceil_div(L.max_m, L.mtiles), mr);
    L.mtiles = ceil_div(L.max_m, L.mrows);
  }
  while (L.nc > nr && L.batches * L.ntiles * L.mtiles * L.ksplit < want) {
    L.nc = std::max<std::int64_t>(nr, round_up(L.nc / 2, nr));
    L.ntiles = ceil_div(std::max<std::int64_t>(L.max_n, 1), L.nc);
  }
  // Equal column blocks, and where they are few, as many per entry as make every thread's share
  // equal: 784 columns in blocks of 256 left one of two threads 512 and the other 272.
  const std::int64_t others = L.batches * L.mtiles * L.ksplit;
  std::int64_t blocks = L.ntiles;
  if (others * blocks < 8 * threads)
    while ((others * blocks) % threads != 0 && blocks < ceil_div(std::max<std::int64_t>(L.max_n, 1), nr)) ++blocks;
  L.nc = round_up(ceil_div(std::max<std::int64_t>(L.max_n, 1), blocks), nr);
  L.ntiles = ceil_div(std::max<std::int64_t>(L.max_n, 1), L.nc);

  // An A operand that few column blocks read costs more to pack than it saves (a whole weight
  // matrix, for one image); the microkernel then reads it in place, in L2-sized row blocks.
  if constexpr (HasRowsA<Problem>::value || HasIndirectA<Problem>::value)
    L.rows_a = L.batches / std::max<std::int64_t>(operands, 1) * L.ntiles <= 2 && indirect_a_ok(prob, mr);
  if (Problem::kPrepackA) {
    L.a_offset.assign(std::size_t(operands), -1);
    L.a_first.assign(std::size_t(operands), -1);
    for (std::int64_t b = 0; b < distinct; ++b) {
      const std::size_t op = std::size_t(prob.a_operand(b));
      if (L.a_offset[op] >= 0) continue;
      L.a_offset[op] = L.a_prepacked;
      L.a_first[op] = b;
      // each operand an odd number of cache lines long: Winograd's weight transform writes one
      // value into each of 16-64 operands at a time, which would all fall in one L1 set when
      // their size is a multiple of 4 kB
      L.a_prepacked += odd_lines(round_up(prob.m(b), mr) * prob.k(b), std::int64_t(64 / elem));
    }
  }
  // Row blocks of one column block all need its B panels: pack them once, before the tiles.
  if (L.mtiles > 1 && !HasPanelsB<Problem>::value && !rows_b_ok(prob, L.rows_a))
    L.b_shared = L.batches * L.ntiles * L.max_k * L.ncp();
  // Whole cache lines a thread, so that every thread's B panels start on one: a zmm load across
  // two lines costs two (Winograd's weight gradient on 2 threads, mp x kc of A last, ran misaligned).
  const std::int64_t scratch = (HasPanelsB<Problem>::value ? 0 : L.kc * L.ncp()) +
                               (HasRowsC<Problem>::value ? 0 : L.mp() * L.ncp()) +
                               (Problem::kPrepackA ? (L.rows_a ? mr * L.kc : 0) : L.mp() * L.kc);
  L.per_thread = round_up(scratch, std::int64_t(64 / elem));
  L.partials = L.ksplit > 1 ? L.ksplit * L.batches * L.ntiles * L.mp() * L.ncp() : 0;
  return L;
}

template <typename T>
void pack_rows(const T* src, std::int64_t ld, std::int64_t m, std::int64_t k0, std::int64_t kc, std::int64_t i0,
               std::int64_t i1, T* dst, int mr) noexcept;

// Packs every shared A operand of a problem (L.a_prepacked elements), one (operand, k block,
// row part) per task. Parts split the rows where (operand, k block) pairs are fewer than twice
// the threads: ResNet-50's 1x1 input gradient at batch 1 packs one, and the second thread waited.
// Plans whose weights were prepared keep the result and pass it to run_gemm.
template <typename T, typename Problem>
void prepack_a(const Problem& prob, const GemmLayout& L, T* dst) noexcept {
  const std::int64_t ops = std::int64_t(L.a_first.size()), kc_max = L.kc, kblocks = ceil_div(L.max_k, kc_max);
  const std::int64_t parts =
      L.threads > 1 ? std::min(ceil_div(2 * L.threads, ops * kblocks), ceil_div(L.max_m, 16 * L.mr)) : 1;
  const std::int64_t rows = round_up(ceil_div(L.max_m, parts), L.mr), tasks = ops * kblocks * parts;
#pragma omp parallel for schedule(dynamic, 1) num_threads(L.threads) if (L.threads > 1 && !forked_child() && tasks > 1)
  for (std::int64_t t = 0; t < tasks; ++t) {
    const std::int64_t op = t / (kblocks * parts), k0 = t / parts % kblocks * kc_max, i0 = t % parts * rows;
    const std::int64_t b = L.a_first[std::size_t(op)];
    if (b < 0 || k0 >= prob.k(b) || i0 >= prob.m(b)) continue;
    prob.pack_a(op, k0, std::min(kc_max, prob.k(b) - k0), i0, std::min(i0 + rows, round_up(prob.m(b), L.mr)),
                dst + L.a_offset[std::size_t(op)] + k0 * round_up(prob.m(b), L.mr), L.mr);
  }
}

// Adds the reduction splits of each block in order, then stores it.
template <typename T, typename Problem>
void reduce_splits(const Problem& prob, const GemmLayout& L, std::int64_t batches, T* partials) noexcept {
  const std::int64_t mp = L.mp(), ncp = L.ncp();
  const std::int64_t blocks = batches * L.ntiles;
#pragma omp parallel for schedule(dynamic, 1) num_threads(L.threads) if (L.threads > 1 && !forked_child() && blocks > 1)
  for (std::int64_t t = 0; t < blocks; ++t) {
    const std::int64_t b = t / L.ntiles, jt = t % L.ntiles, j0 = jt * L.nc;
    if (j0 >= prob.n(b)) continue;
    const std::int64_t size = round_up(prob.m(b), L.mr) * ncp;
    T* sum = partials + t * mp * ncp;  // split 0 of this block
    for (std::int64_t s = 1; s < L.ksplit; ++s) {
      const T* part = partials + (s * blocks + t) * mp * ncp;
      for (std::int64_t i = 0; i < size; ++i) sum[i] += part[i];
    }
    prob.store(b, 0, prob.m(b), j0, std::min(L.nc, prob.n(b) - j0), sum, ncp);
  }
}

// Runs a problem on a layout made for it, or for a problem of the same shape with more batch
// entries (a shorter last chunk of images runs on the layout of a full chunk). With ready_a,
// the shared A operands come packed already (prepared weights).
template <typename T, typename Problem>
void run_gemm(const Problem& prob, const GemmLayout& L, T* ws, const T* ready_a = nullptr) noexcept {
  const GemmMicrokernel<T>& uk = gemm_microkernel<T>(L.mr);
  const int mr = L.mr, nr = L.nr;
  const std::int64_t mp = L.mp(), ncp = L.ncp(), kc_max = L.kc;
  T* prepacked = ws;
  T* shared_b = ws + L.a_prepacked;
  T* scratch = shared_b + L.b_shared;
  T* partials = scratch + L.per_thread * L.threads;
  const std::int64_t batches = std::min(prob.batches(), L.batches);
  auto b_panel = [&](std::int64_t b, std::int64_t jt, std::int64_t k0) {
    return shared_b + ((b * L.ntiles + jt) * L.max_k + k0) * ncp;
  };

  const bool rows_a = L.rows_a && ready_a == nullptr;  // prepared weights come packed already
  const bool rows_b = rows_b_ok(prob, rows_a);
  if constexpr (HasPackA<Problem>::value) {
    if (Problem::kPrepackA && ready_a == nullptr && !rows_a) prepack_a<T>(prob, L, prepacked);
  }
  const T* a_area = ready_a != nullptr ? ready_a : prepacked;

  if constexpr (!HasPanelsB<Problem>::value) {
    if (L.b_shared > 0 && !rows_b) {  // one (entry, column block, k block) per task
      const std::int64_t kblocks = ceil_div(L.max_k, kc_max), tasks = batches * L.ntiles * kblocks;
#pragma omp parallel for schedule(dynamic, 1) num_threads(L.threads) if (L.threads > 1 && !forked_child() && tasks > 1)
      for (std::int64_t t = 0; t < tasks; ++t) {
        const std::int64_t b = t / (L.ntiles * kblocks), jt = t / kblocks % L.ntiles, k0 = t % kblocks * kc_max;
        const std::int64_t j0 = jt * L.nc;
        if (j0 >= prob.n(b) || k0 >= prob.k(b)) continue;
        prob.pack_b(b, k0, std::min(kc_max, prob.k(b) - k0), j0, std::min(L.nc, prob.n(b) - j0), b_panel(b, jt, k0), nr);
      }
    }
  }

  const std::int64_t tiles = batches * L.ntiles * L.mtiles * L.ksplit;
#pragma omp parallel for schedule(dynamic, 1) num_threads(L.threads) if (L.threads > 1 && !forked_child() && tiles > 1)
  for (std::int64_t t = 0; t < tiles; ++t) {
    const std::int64_t split = t % L.ksplit, mt = t / L.ksplit % L.mtiles;
    const std::int64_t jt = t / (L.ksplit * L.mtiles) % L.ntiles, b = t / (L.ksplit * L.mtiles * L.ntiles);
    const std::int64_t m = prob.m(b), n = prob.n(b), k = prob.k(b), j0 = jt * L.nc, ibeg = mt * L.mrows;
    if (j0 >= n || ibeg >= m) continue;
    const std::int64_t nc = std::min(L.nc, n - j0), iend = std::min(m, ibeg + L.mrows);
    const std::int64_t chunk = round_up(ceil_div(k, L.ksplit), kc_max);
    const std::int64_t kbeg = std::min(k, split * chunk), kend = std::min(k, kbeg + chunk);

    T* b_pack = scratch + thread_index() * L.per_thread;
    T* c_buf = b_pack + (HasPanelsB<Problem>::value ? 0 : kc_max * ncp);
    T* a_pack = c_buf + (HasRowsC<Problem>::value ? 0 : mp * ncp);
    const std::int64_t mpb = round_up(m, mr), rows = round_up(iend - ibeg, mr);
    T* c = c_buf;  // rows ibeg.. of the block, ldc apart
    std::int64_t ldc = ncp;
    if constexpr (HasRowsC<Problem>::value) c = prob.c_rows(b, ibeg, j0), ldc = prob.c_ld();
    if (kbeg == kend)  // no terms: the block is zero
      for (std::int64_t i = 0; i < rows; ++i) std::fill(c + i * ldc, c + i * ldc + round_up(nc, nr), T(0));

    for (std::int64_t k0 = kbeg; k0 < kend; k0 += kc_max) {
      const std::int64_t kc = std::min(kc_max, kend - k0);
      const T* bp = b_pack;
      std::int64_t panel = kc * nr;  // between B micro-panels
      if constexpr (HasPanelsB<Problem>::value) {
        bp = prob.b_panels(b, k0, j0), panel = prob.b_panel_stride();
      } else if (L.b_shared > 0) {
        bp = b_panel(b, jt, k0);
      } else if (!rows_b) {
        prob.pack_b(b, k0, kc, j0, nc, b_pack, nr);
      }
      // Every micro-tile of the block: tile(ir, B micro-panel, C micro-tile, accumulate), except
      // that a ragged last panel of at most half its width goes to tall(...) in 2 mr-row tiles,
      // for rows below tall_end, where tall_ok: AVX-512's panels are 32 wide, and a block of 16
      // columns (a turned-around weight gradient of 16 filters, 16 Winograd tiles) would compute
      // as much padding as values.
      auto sweep_tall = [&](auto&& tile, auto&& tall, bool tall_ok, std::int64_t tall_end) {
        for (std::int64_t i0 = ibeg; i0 < iend; i0 += L.mc)
          for (std::int64_t jr = 0; jr < nc; jr += nr) {
            const T* bj = bp + jr / nr * panel;
            const std::int64_t i1 = std::min(iend, i0 + L.mc);
            std::int64_t ir = i0;
            if (tall_ok && 2 * (nc - jr) <= nr)
              for (; ir + 2 * mr <= std::min(i1, tall_end); ir += 2 * mr)
                tall(ir, bj, c + (ir - ibeg) * ldc + jr, k0 > kbeg);
            for (; ir < i1; ir += mr) tile(ir, bj, c + (ir - ibeg) * ldc + jr, k0 > kbeg);
          }
      };
      // Where A's rows are read in place lda apart, not when they lie a multiple of 4 KB apart:
      // twelve rows then share one L1 set and overflow its ways (ResNet-50's 1x1 with 1024
      // channels ran 2.5% slower).
      auto apart_ok = [](std::int64_t lda) { return lda * std::int64_t(sizeof(T)) % 4096 != 0; };
      if constexpr (HasRowsA<Problem>::value) {
        if (rows_a) {
          const T* a = prob.a_rows(prob.a_operand(b)) + k0;
          const std::int64_t lda = prob.a_ld(), whole = ibeg + (iend - ibeg) / mr * mr;
          if (whole < iend)  // ragged last rows
            pack_rows(a + whole * lda, lda, iend - whole, 0, kc, 0, iend - whole, a_pack, mr);
          sweep_tall(
              [&](std::int64_t ir, const T* bj, T* ci, bool acc) {
                if (ir < whole) {
                  uk.run_rows(kc, a + ir * lda, lda, bj, ci, ldc, acc);
                } else {
                  uk.run(kc, a_pack, bj, ci, ldc, acc);
                }
              },
              [&](std::int64_t ir, const T* bj, T* ci, bool acc) {
                uk.run_rows_tall(kc, a + ir * lda, lda, bj, ci, ldc, acc);
              },
              apart_ok(lda) && uk.run_rows_tall != nullptr, whole);
          continue;
        }
      }
      if constexpr (HasIndirectA<Problem>::value) {
        if (rows_a) {
          const std::int64_t op = prob.a_operand(b), lda = prob.a_row_step();
          const std::int64_t* off = prob.a_offsets(op) + k0;
          const T* rows[kMaxIndirectRows];
          sweep_tall(
              [&](std::int64_t ir, const T* bj, T* ci, bool acc) {
                for (int i = 0; i < mr; ++i) rows[i] = prob.a_row(op, std::min(ir + i, iend - 1));  // ragged: repeat
                uk.run_indirect(kc, rows, off, bj, ci, ldc, acc);
              },
              [&](std::int64_t ir, const T* bj, T* ci, bool acc) {
                uk.run_indirect_tall(kc, prob.a_row(op, ir), lda, off, bj, ci, ldc, acc);
              },
              apart_ok(lda), iend);
          continue;
        }
      }
      const T* a;
      if constexpr (Problem::kPrepackA) {
        a = a_area + L.a_offset[std::size_t(prob.a_operand(b))] + k0 * mpb;
      } else {
        prob.pack_a(b, k0, kc, 0, m, a_pack, mr);
        a = a_pack;
      }
      if constexpr (HasRowsB<Problem>::value) {
        if (rows_b) {
          const std::int64_t* off = prob.b_offsets(b) + k0;
          for (std::int64_t i0 = ibeg; i0 < iend; i0 += L.mc)
            for (std::int64_t jr = 0; jr < nc; jr += nr) {
              const T* bj = prob.b_row(b, j0 + jr);
              for (std::int64_t ir = i0; ir < std::min(iend, i0 + L.mc); ir += mr)
                uk.run_rows_b(kc, a + ir * kc, bj, off, c + (ir - ibeg) * ldc + jr, ldc, k0 > kbeg);
            }
          continue;
        }
      }
      sweep_tall([&](std::int64_t ir, const T* bj, T* ci, bool acc) { uk.run(kc, a + ir * kc, bj, ci, ldc, acc); },
                 [&](std::int64_t ir, const T* bj, T* ci, bool acc) { uk.run_tall(kc, a + ir * kc, bj, ci, ldc, acc); },
                 uk.run_tall != nullptr, iend);
    }
    if constexpr (HasRowsC<Problem>::value) {
      continue;  // stored in place, and never split (make_layout)
    } else if (L.ksplit == 1) {
      prob.store(b, ibeg, iend - ibeg, j0, nc, c_buf, ncp);
    } else {  // only problems without prepacked A split the reduction, and their rows are whole
      T* part = partials + ((split * batches + b) * L.ntiles + jt) * mp * ncp;
      std::copy(c_buf, c_buf + mpb * ncp, part);
    }
  }

  if constexpr (!HasRowsC<Problem>::value) {
    if (L.ksplit > 1) reduce_splits<T>(prob, L, batches, partials);
  }
}

// Packs rows i0..i1 (of m) of a row-major matrix (columns k0..k0+kc) into mr-row panels, the
// first at dst + i0 * kc.
template <typename T>
void pack_rows(const T* src, std::int64_t ld, std::int64_t m, std::int64_t k0, std::int64_t kc, std::int64_t i0,
               std::int64_t i1, T* dst, int mr) noexcept {
  const PackPanelFn<T> pack = gemm_microkernel<T>().pack;
  for (std::int64_t ir = i0, end = std::min(i1, m); ir < end; ir += mr)
    pack(src + ir * ld + k0, ld, std::min<std::int64_t>(mr, m - ir), kc, dst + ir * kc, mr);
}

// out[i * stride], i < count: the values of a sampling grid laid over a plane (rows x cols,
// element (y, x) at plane[y * row_stride + x * col_stride]), starting at grid position (a, e)
// of a grid `grid_w` wide and walking row-major. Grid point (a, e) reads plane element
// (a*sa + ra, e*se + ce); points outside the plane read zero.
template <typename T>
inline void gather(const T* plane, std::int64_t rows, std::int64_t cols, std::int64_t row_stride,
                   std::int64_t col_stride, std::int64_t grid_w, std::int64_t a, std::int64_t e, std::int64_t count,
                   std::int64_t sa, std::int64_t ra, std::int64_t se, std::int64_t ce, T* out,
                   std::int64_t stride) noexcept {
  while (count > 0) {
    const std::int64_t run = std::min(count, grid_w - e);  // the rest of this grid row
    const std::int64_t row = a * sa + ra;
    if (row < 0 || row >= rows) {
      for (std::int64_t i = 0; i < run; ++i) out[i * stride] = T(0);
    } else {
      const T* src = plane + row * row_stride;
      const std::int64_t c0 = e * se + ce;
      if (se == 1 && col_stride == 1 && c0 >= 0 && c0 + run <= cols) {  // the common case: a contiguous run
        for (std::int64_t i = 0; i < run; ++i) out[i * stride] = src[c0 + i];
      } else if (c0 >= 0 && c0 + (run - 1) * se < cols) {  // strided, but inside the row: no checks
        const std::int64_t step = se * col_stride;
        const T* from = src + c0 * col_stride;
        for (std::int64_t i = 0; i < run; ++i) out[i * stride] = from[i * step];
      } else {
        for (std::int64_t i = 0; i < run; ++i) {
          const std::int64_t col = c0 + i * se;
          out[i * stride] = col >= 0 && col < cols ? src[col * col_stride] : T(0);
        }
      }
    }
    out += run * stride;
    count -= run;
    e = 0;
    ++a;
  }
}

}  // namespace fastconv::direct
