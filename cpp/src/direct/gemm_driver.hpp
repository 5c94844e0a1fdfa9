#pragma once
// A batched, blocked GEMM over operands that are never materialised: each convolution
// direction supplies a Problem that packs A and B panels straight from the tensors
// (implicit GEMM) and stores finished C blocks back into them.
//
// Problem interface (b = batch entry, all extents may differ per entry):
//   std::int64_t batches() const;
//   std::int64_t m(b), n(b), k(b) const;
//   void pack_a(b, i0, mc, k0, kc, T* dst, int mr) const;  // kc columns of mr rows, zero-padded
//   void pack_b(b, k0, kc, j0, nc, T* dst, int nr) const;  // kc rows of nr columns, zero-padded
//   void store(b, i0, mc, j0, nc, const T* c, std::int64_t ldc) const;
//
// Every C element is reduced by one thread in a fixed order, so results are bit-identical
// for any thread count.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "cpu/kernel_table.hpp"
#include "threads.hpp"

namespace fastconv::direct {

inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
inline std::int64_t round_up(std::int64_t a, std::int64_t b) { return ceil_div(a, b) * b; }

struct Blocking {
  std::int64_t mc = 0, nc = 0, kc = 0;
};

// Block sizes for the largest entry of a problem: A block in L2, B micro-panels in L1.
// Columns are split further while there are too few tiles to keep the threads busy.
inline Blocking choose_blocking(std::int64_t batches, std::int64_t m, std::int64_t n, std::int64_t k,
                                int mr, int nr, std::size_t elem, int threads) {
  Blocking b;
  const std::int64_t kc_max = elem == 4 ? 256 : 128;
  b.kc = std::max<std::int64_t>(1, std::min(k, kc_max));
  b.mc = std::min(round_up(m, mr), round_up(96, mr));
  b.nc = std::min(round_up(n, nr), round_up(256, nr));
  const std::int64_t want = 4 * static_cast<std::int64_t>(threads);
  while (b.nc > 2 * nr && batches * ceil_div(m, b.mc) * ceil_div(n, b.nc) < want)
    b.nc = round_up(b.nc / 2, nr);
  return b;
}

// Per-thread scratch, in elements: packed A block, packed B panel, C block.
inline std::int64_t thread_scratch(const Blocking& b, int mr, int nr) {
  const std::int64_t mcp = round_up(b.mc, mr), ncp = round_up(b.nc, nr);
  return mcp * b.kc + b.kc * ncp + mcp * ncp;
}

template <typename T, typename Problem>
void run_gemm(const Problem& prob, const Blocking& blk, T* scratch, int threads) noexcept {
  const GemmMicrokernel<T>& uk = gemm_microkernel<T>();
  const int mr = uk.mr, nr = uk.nr;
  const std::int64_t mcp = round_up(blk.mc, mr), ncp = round_up(blk.nc, nr);
  const std::int64_t per_thread = thread_scratch(blk, mr, nr);

  std::int64_t max_m = 0, max_n = 0;
  const std::int64_t batches = prob.batches();
  for (std::int64_t b = 0; b < batches; ++b) {
    max_m = std::max(max_m, prob.m(b));
    max_n = std::max(max_n, prob.n(b));
  }
  const std::int64_t mtiles = ceil_div(max_m, blk.mc), ntiles = ceil_div(max_n, blk.nc);
  const std::int64_t tiles = batches * mtiles * ntiles;

#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && tiles > 1)
  for (std::int64_t t = 0; t < tiles; ++t) {
    const std::int64_t b = t / (mtiles * ntiles);
    const std::int64_t i0 = (t / ntiles) % mtiles * blk.mc;
    const std::int64_t j0 = t % ntiles * blk.nc;
    const std::int64_t m = prob.m(b), n = prob.n(b), k = prob.k(b);
    if (i0 >= m || j0 >= n) continue;
    const std::int64_t mc = std::min(blk.mc, m - i0), nc = std::min(blk.nc, n - j0);

    T* a_pack = scratch + thread_index() * per_thread;
    T* b_pack = a_pack + mcp * blk.kc;
    T* c_blk = b_pack + blk.kc * ncp;
    if (k == 0) std::fill(c_blk, c_blk + mcp * ncp, T(0));  // no terms: the block is zero

    for (std::int64_t k0 = 0; k0 < k; k0 += blk.kc) {
      const std::int64_t kc = std::min(blk.kc, k - k0);
      prob.pack_a(b, i0, mc, k0, kc, a_pack, mr);
      prob.pack_b(b, k0, kc, j0, nc, b_pack, nr);
      for (std::int64_t jr = 0; jr < nc; jr += nr)
        for (std::int64_t ir = 0; ir < mc; ir += mr)
          uk.run(kc, a_pack + ir * kc, b_pack + jr * kc, c_blk + ir * ncp + jr, ncp, k0 > 0);
    }
    prob.store(b, i0, mc, j0, nc, c_blk, ncp);
  }
}

// Packs rows i0..i0+mc of a row-major matrix (columns k0..k0+kc) into mr-row panels.
template <typename T>
void pack_rows(const T* src, std::int64_t ld, std::int64_t i0, std::int64_t mc, std::int64_t k0,
               std::int64_t kc, T* dst, int mr) noexcept {
  for (std::int64_t ir = 0; ir < mc; ir += mr, dst += kc * mr) {
    const std::int64_t rows = std::min<std::int64_t>(mr, mc - ir);
    for (std::int64_t i = 0; i < rows; ++i) {
      const T* s = src + (i0 + ir + i) * ld + k0;
      for (std::int64_t p = 0; p < kc; ++p) dst[p * mr + i] = s[p];
    }
    for (std::int64_t i = rows; i < mr; ++i)
      for (std::int64_t p = 0; p < kc; ++p) dst[p * mr + i] = T(0);
  }
}

}  // namespace fastconv::direct
