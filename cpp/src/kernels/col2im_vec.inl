// col2im at unit stride over the including ISA's Vec<T>, for the x86 GEMM files (AVX2 and
// AVX-512 include it inside their namespaces).

namespace {

// Col2imRowsFn for dX rows of NV vectors: a block of rows summed in registers, tap after tap, each
// tap's rows of T loaded at the vectors they overlap (masked to the tap's columns), then stored
// once. Tap by tap into dX instead, each add waited on the store of the tap before (LeNet at
// batch 64, one thread: conv2's input gradient 0.378 -> 0.226 ms, conv1's 0.376 -> 0.225). Each
// sum takes its taps in (r, s) order, as the loops did, so the same bits.
template <typename T, int NV>
void col2im_rows_of(const Col2imGeometry& g, const T* t, std::int64_t ld, std::int64_t t_plane, T* dx,
                    std::int64_t planes) noexcept {
  using V = Vec<T>;
  using M = typename V::mask_type;
  constexpr int W = V::width, kRows = std::max(1, kVectorRegisters / 2 / NV);  // sums: half the registers
  // per column tap s and vector v of a dX row: the lanes of its run of Q values
  M mask[kCol2imColumnTaps][NV];
  for (std::int64_t s = 0; s < g.S; ++s)
    for (int v = 0; v < NV; ++v) {
      const std::int64_t lo = s * g.dw - g.pl - v * W, hi = std::min(lo + g.Q, g.W - v * W);
      const int a = int(std::clamp<std::int64_t>(lo, 0, W)), b = int(std::clamp<std::int64_t>(hi, a, W));
      mask[s][v] = V::between(a, b);
    }
  for (std::int64_t p = 0; p < planes; ++p, t += t_plane, dx += g.H * g.W)
    for (std::int64_t ih0 = 0; ih0 < g.H; ih0 += kRows) {
      typename V::type acc[kRows][NV];
      for (int j = 0; j < kRows; ++j)
        for (int v = 0; v < NV; ++v) acc[j][v] = V::zero();
      for (std::int64_t r = 0; r < g.R; ++r) {
        // the block's rows j0 <= j < j1 read T's rows oh = ih0 + j + pt - r * dh in [0, P)
        const std::int64_t first = ih0 + g.pt - r * g.dh;
        const std::int64_t j0 = std::max<std::int64_t>(0, -first), j1 = std::min<std::int64_t>({kRows, g.P - first, g.H - ih0});
        if (j0 >= j1) continue;
        for (std::int64_t s = 0; s < g.S; ++s) {
          const T* src = t + (r * g.S + s) * ld + first * g.Q - (s * g.dw - g.pl);  // + j * Q: row j's, at dX column 0
          for (int v = 0; v < NV; ++v) {
            const M m = mask[s][v];
#pragma GCC unroll 16
            for (int j = 0; j < kRows; ++j)
              if (j >= j0 && j < j1) acc[j][v] = V::add(acc[j][v], V::load(src + j * g.Q + v * W, m));
          }
        }
      }
      const std::int64_t rows = std::min<std::int64_t>(kRows, g.H - ih0);
#pragma GCC unroll 16
      for (int j = 0; j < kRows; ++j)
        for (int v = 0; v < NV; ++v) {
          if (j >= rows) continue;
          T* d = dx + (ih0 + j) * g.W + v * W;
          if ((v + 1) * W <= g.W) {
            V::store(d, acc[j][v]);
          } else {
            V::store(d, V::first(int(g.W - v * W)), acc[j][v]);
          }
        }
    }
}

template <typename T>
void col2im_rows(const Col2imGeometry& g, const T* t, std::int64_t ld, std::int64_t t_plane, T* dx,
                 std::int64_t planes) noexcept {
  static_assert(kCol2imRowVectors == 4, "one instance per row width");
  switch ((g.W + Vec<T>::width - 1) / Vec<T>::width) {
    case 1: return col2im_rows_of<T, 1>(g, t, ld, t_plane, dx, planes);
    case 2: return col2im_rows_of<T, 2>(g, t, ld, t_plane, dx, planes);
    case 3: return col2im_rows_of<T, 3>(g, t, ld, t_plane, dx, planes);
    default: return col2im_rows_of<T, 4>(g, t, ld, t_plane, dx, planes);
  }
}

}  // namespace
