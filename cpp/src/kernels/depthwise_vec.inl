// The x86 depthwise plane kernels, written once over the including ISA's Vec<T> and compiled
// per ISA (kernels/avx2, kernels/avx512 include this inside their own namespace, after
// <algorithm> and the kernel table types).

namespace {

// Columns [ow, ow + (NV-1)*W + last) of output rows [oh, oh + NR), 0 < last <= W: NR x NV
// vectors of accumulators through every tap, so each multiply-add costs one load and no store.
// Loads may run past a row's end into the buffer's slack; those lanes are never stored.
template <typename T, int NR, int NV>
inline void forward_block(const DepthwisePlane& g, const T* src, const T* w, std::int64_t oh, std::int64_t ow,
                          int last, T bias, bool accumulate, T* y) noexcept {
  using V = Vec<T>;
  constexpr int W = V::width;
  const std::int64_t ld = g.ld, step = g.sh * ld, S = g.S;
  typename V::type a[NR * NV];  // one dimension: GCC keeps it in registers, not a 2-D array
  for (int j = 0; j < NR; ++j)
    for (int i = 0; i < NV; ++i) {
      const T* yi = y + (oh + j) * g.Q + ow + i * W;
      a[j * NV + i] = !accumulate ? V::set1(bias) : i + 1 < NV || last == W ? V::load(yi) : V::load(yi, V::first(last));
    }
  for (std::int64_t r = 0; r < g.R; ++r) {
    const T* row = src + (oh * g.sh + r * g.dh) * ld + ow;
    for (std::int64_t s = 0; s < S; ++s) {
      const auto ws = V::broadcast(w + r * S + s);
      const T* xs = row + g.tap[s];
      for (int j = 0; j < NR; ++j)
        for (int i = 0; i < NV; ++i) a[j * NV + i] = V::fma(ws, V::load(xs + j * step + i * W), a[j * NV + i]);
    }
  }
  for (int j = 0; j < NR; ++j) {
    T* yr = y + (oh + j) * g.Q + ow;
    for (int i = 0; i + 1 < NV; ++i) V::store(yr + i * W, a[j * NV + i]);
    if (last == W) {
      V::store(yr + (NV - 1) * W, a[j * NV + NV - 1]);
    } else {
      T part[W];  // a plain store and a copy: masked stores are slow on some CPUs
      V::store(part, a[j * NV + NV - 1]);
      std::copy(part, part + last, yr + (NV - 1) * W);
    }
  }
}

// Output rows [oh, oh + NR), in blocks of four vectors and a last block of one to four.
template <typename T, int NR>
void forward_rows(const DepthwisePlane& g, const T* src, const T* w, std::int64_t oh, T bias, bool accumulate,
                  T* y) noexcept {
  constexpr int W = Vec<T>::width;
  std::int64_t ow = 0;
  for (; g.Q - ow > 4 * W; ow += 4 * W) forward_block<T, NR, 4>(g, src, w, oh, ow, W, bias, accumulate, y);
  const int rest = int(g.Q - ow), vectors = (rest + W - 1) / W, last = rest - (vectors - 1) * W;
  switch (vectors) {
    case 1: return forward_block<T, NR, 1>(g, src, w, oh, ow, last, bias, accumulate, y);
    case 2: return forward_block<T, NR, 2>(g, src, w, oh, ow, last, bias, accumulate, y);
    case 3: return forward_block<T, NR, 3>(g, src, w, oh, ow, last, bias, accumulate, y);
    default: return forward_block<T, NR, 4>(g, src, w, oh, ow, last, bias, accumulate, y);
  }
}

// Two rows at a time: eight accumulators cover the multiply-add latency.
template <typename T>
void forward_plane(const DepthwisePlane& g, const T* src, const T* w, T bias, bool accumulate, T* y) noexcept {
  std::int64_t oh = 0;
  for (; oh + 2 <= g.P; oh += 2) forward_rows<T, 2>(g, src, w, oh, bias, accumulate, y);
  if (oh < g.P) forward_rows<T, 1>(g, src, w, oh, bias, accumulate, y);
}

// Dot products over blocks of up to eight rows in two vectors of partial sums, reduced in a
// fixed order and added in double: short float sums, with one reduction per block and tap.
template <typename T>
void weights_plane(const DepthwisePlane& g, const T* src, const T* dy, double* acc) noexcept {
  using V = Vec<T>;
  constexpr int W = V::width;
  constexpr std::int64_t kRows = 8;
  const std::int64_t tail = g.Q % W, body = g.Q - tail;
  const auto m = V::first(int(tail ? tail : 1));
  for (std::int64_t oh0 = 0; oh0 < g.P; oh0 += kRows) {
    const std::int64_t oh1 = std::min(g.P, oh0 + kRows);
    for (std::int64_t r = 0; r < g.R; ++r)
      for (std::int64_t s = 0; s < g.S; ++s) {
        auto p0 = V::zero(), p1 = V::zero();
        for (std::int64_t oh = oh0; oh < oh1; ++oh) {
          const T* xs = src + (oh * g.sh + r * g.dh) * g.ld + g.tap[s];
          const T* dyr = dy + oh * g.Q;
          std::int64_t ow = 0;
          for (; ow + 2 * W <= body; ow += 2 * W)
            p0 = V::fma(V::load(xs + ow), V::load(dyr + ow), p0), p1 = V::fma(V::load(xs + ow + W), V::load(dyr + ow + W), p1);
          if (ow < body) p0 = V::fma(V::load(xs + ow), V::load(dyr + ow), p0);
          if (tail) p1 = V::fma(V::load(xs + body, m), V::load(dyr + body, m), p1);
        }
        acc[r * g.S + s] += double(V::sum(V::add(p0, p1)));
      }
  }
}

}  // namespace
