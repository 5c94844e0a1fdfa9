// The x86 depthwise plane kernels, written over the including ISA's Vec<T> (kernels/avx2
// includes this inside its namespace, after <algorithm>, <cstring>, <type_traits> and the kernel
// table types; AVX-512 CPUs run that build too, see kernel_table.cpp).

namespace {

// The first n lanes of v (0 < n < W) at dst: a plain store and two overlapping copies of a fixed
// size. Masked stores are slow on some CPUs, and a copy of run-time length became a call to
// memmove, which took a tenth of 14-wide MobileNet planes.
template <typename T>
inline void store_first(T* dst, typename Vec<T>::type v, int n) noexcept {
  T part[Vec<T>::width];
  Vec<T>::store(part, v);
  const auto two = [&](auto size) {
    std::memcpy(dst, part, size * sizeof(T));
    std::memcpy(dst + n - size, part + n - size, size * sizeof(T));
  };
  // (only sizes below the width: n < W, and GCC warned of copies past `part` otherwise)
  if constexpr (Vec<T>::width > 8)
    if (n >= 8) return two(std::integral_constant<int, 8>());
  if constexpr (Vec<T>::width > 4)
    if (n >= 4) return two(std::integral_constant<int, 4>());
  if (n >= 2) return two(std::integral_constant<int, 2>());
  dst[0] = part[0];
}

// A 3x3 plane read in place (DepthwisePlane::in_place): the vectors whose taps all lie inside
// the source rows (output columns [inner0, inner1)) read them where they lie; the others, at
// the rows' ends ("ends", then the partial last vector, the tail), load only the lanes inside,
// masked, so that no load leaves the plane. Their columns and masks are worked out once per
// plane, for up to kKept of them (the rest, for paddings of several vectors, when used).
template <typename T>
struct InPlaceColumns {
  using M = typename Vec<T>::mask_type;
  static constexpr int W = Vec<T>::width, kKept = 8;
  const DepthwisePlane& g;
  const DepthwiseInPlace& in;
  std::int64_t tail, body, inner0, inner1, left, ends, kept;
  std::int64_t at[kKept];
  M end_masks[kKept][3], tail_masks[3];

  explicit InPlaceColumns(const DepthwisePlane& plane) : g(plane), in(*plane.in_place) {
    tail = g.Q % W, body = g.Q - tail;
    inner0 = std::min(body, (std::max<std::int64_t>(in.pl, 0) + W - 1) / W * W);  // tap[0] = 0
    const std::int64_t last = in.pl + in.W - g.tap[2] - W;  // the last column a whole vector may start at
    inner1 = std::clamp<std::int64_t>(last < 0 ? 0 : (last / W + 1) * W, inner0, body);
    left = inner0 / W, ends = left + (body - inner1) / W, kept = std::min<std::int64_t>(ends, kKept);
    for (std::int64_t e = 0; e < kept; ++e) at[e] = column(e), masks(at[e], W, end_masks[e]);
    if (tail) masks(body, int(tail), tail_masks);
  }
  std::int64_t column(std::int64_t e) const { return e < left ? e * W : inner1 + (e - left) * W; }
  // the lanes [0, n) of the vector at column ow inside the plane, per tap column
  void masks(std::int64_t ow, int n, M* m) const {
    for (int s = 0; s < 3; ++s) {
      const std::int64_t c = ow + g.tap[s] - in.pl;  // the source column of lane 0
      m[s] = Vec<T>::between(int(std::clamp<std::int64_t>(-c, 0, n)), int(std::clamp<std::int64_t>(in.W - c, 0, n)));
    }
  }
  // the source row that tap row r of output row oh reads, shifted to buffer columns
  const T* row(const T* x, std::int64_t oh, std::int64_t r) const {
    const std::int64_t ih = oh * g.sh + r * g.dh - in.pt;
    return (ih >= 0 && ih < in.H ? x + ih * in.W : static_cast<const T*>(in.zeros)) - in.pl;
  }
  // fn(ow, masks) for every end vector, then fn(body, tail masks) for the tail
  template <typename Fn>
  void for_each_end(Fn&& fn) const {
    for (std::int64_t e = 0; e < kept; ++e) fn(at[e], end_masks[e]);
    for (std::int64_t e = kept; e < ends; ++e) {
      M m[3];
      masks(column(e), W, m);
      fn(column(e), m);
    }
    if (tail) fn(body, tail_masks);
  }
};

// Whether a plane's five column taps read consecutive columns (tap[s] == s: unit column stride
// and dilation), so that a 5x5 kernel may fix their offsets when compiled.
inline bool unit_taps5(const DepthwisePlane& g) noexcept {
  for (std::int64_t s = 0; s < 5; ++s)
    if (g.tap[s] != s) return false;
  return true;
}

// Columns [ow, ow + (NV-1)*W + last) of output rows [oh, oh + NR), 0 < last <= W: NR x NV
// vectors of accumulators through every tap, so each multiply-add costs one load and no store.
// With K = 3 (a 3x3 kernel), the taps are unrolled and the nine weights come in registers, kept
// for the whole plane; with K = 5, the taps are unrolled and each kernel row's five weights
// come in registers for the block; otherwise (K = 0) each tap broadcasts its weight and looks up
// its offset, in a loop (MobileNet's 14x14 planes ran about 20% faster with K = 3, its 56x56
// ones 5%; a 5x5 layer of 672 14x14 planes, at batch 1, 0.22 ms in the loop and 0.18 with
// K = 5, PyTorch's 0.17-0.21). The multiply-adds run in the same order either way, so all give
// the same bits. Loads may run past a row's end into the buffer's slack; those lanes are never
// stored.
template <typename T, int NR, int NV, int K>
inline void forward_block(const DepthwisePlane& g, const T* src, const T* w, const typename Vec<T>::type* w3,
                          std::int64_t oh, std::int64_t ow, int last, T bias, bool accumulate, T* y) noexcept {
  using V = Vec<T>;
  constexpr int W = V::width;
  const std::int64_t ld = g.ld, step = g.sh * ld, S = g.S;
  typename V::type a[NR * NV];  // one dimension: GCC keeps it in registers, not a 2-D array
  for (int j = 0; j < NR; ++j)
    for (int i = 0; i < NV; ++i) {
      const T* yi = y + (oh + j) * g.Q + ow + i * W;
      a[j * NV + i] = !accumulate ? V::set1(bias) : i + 1 < NV || last == W ? V::load(yi) : V::load(yi, V::first(last));
    }
  if constexpr (K == 5) {
    const auto taps = [&](auto tap) {  // tap(s): column tap s's offset
      for (int r = 0; r < 5; ++r) {
        const T* row = src + (oh * g.sh + r * g.dh) * ld + ow;
        typename V::type w5[5];
        for (int s = 0; s < 5; ++s) w5[s] = V::broadcast(w + 5 * r + s);
        for (int j = 0; j < NR; ++j)
          for (int i = 0; i < NV; ++i) {
            const T* xs = row + j * step + i * W;
            auto& acc = a[j * NV + i];
            for (int s = 0; s < 5; ++s) acc = V::fma(w5[s], V::load(xs + tap(s)), acc);
          }
      }
    };
    // Unit column stride: offsets known when compiled, which frees five registers (with them
    // held, the address arithmetic spilled and took most of the time).
    if (unit_taps5(g)) {
      taps([](int s) { return s; });
    } else {
      const std::int64_t t[5] = {g.tap[0], g.tap[1], g.tap[2], g.tap[3], g.tap[4]};
      taps([&t](int s) { return t[s]; });
    }
  } else if constexpr (K == 3) {
    const std::int64_t t0 = g.tap[0], t1 = g.tap[1], t2 = g.tap[2];
    for (int r = 0; r < 3; ++r) {
      const T* row = src + (oh * g.sh + r * g.dh) * ld + ow;
      for (int j = 0; j < NR; ++j)
        for (int i = 0; i < NV; ++i) {
          const T* xs = row + j * step + i * W;
          auto& acc = a[j * NV + i];
          acc = V::fma(w3[3 * r + 2], V::load(xs + t2),
                       V::fma(w3[3 * r + 1], V::load(xs + t1), V::fma(w3[3 * r], V::load(xs + t0), acc)));
        }
    }
  } else {
    for (std::int64_t r = 0; r < g.R; ++r) {
      const T* row = src + (oh * g.sh + r * g.dh) * ld + ow;
      for (std::int64_t s = 0; s < S; ++s) {
        const auto ws = V::broadcast(w + r * S + s);
        const T* xs = row + g.tap[s];
        for (int j = 0; j < NR; ++j)
          for (int i = 0; i < NV; ++i) a[j * NV + i] = V::fma(ws, V::load(xs + j * step + i * W), a[j * NV + i]);
      }
    }
  }
  for (int j = 0; j < NR; ++j) {
    T* yr = y + (oh + j) * g.Q + ow;
    for (int i = 0; i + 1 < NV; ++i) V::store(yr + i * W, a[j * NV + i]);
    if (last == W) {
      V::store(yr + (NV - 1) * W, a[j * NV + NV - 1]);
    } else {
      store_first<T>(yr + (NV - 1) * W, a[j * NV + NV - 1], last);
    }
  }
}

// Output rows [oh, oh + NR), in blocks of the widest vector count and a last block of one to
// that many. 3x3 and 5x5 blocks are narrower: 2 x 3 accumulators and 9 weights fill AVX2's 16
// registers (5x5: and a kernel row's 5 weights, with room for the addresses).
template <typename T, int NR, int K>
void forward_rows(const DepthwisePlane& g, const T* src, const T* w, const typename Vec<T>::type* w3,
                  std::int64_t oh, T bias, bool accumulate, T* y) noexcept {
  constexpr int W = Vec<T>::width, kWidest = K ? 3 : 4;
  std::int64_t ow = 0;
  for (; g.Q - ow > kWidest * W; ow += kWidest * W)
    forward_block<T, NR, kWidest, K>(g, src, w, w3, oh, ow, W, bias, accumulate, y);
  const int rest = int(g.Q - ow), vectors = (rest + W - 1) / W, last = rest - (vectors - 1) * W;
  switch (vectors) {
    case 1: return forward_block<T, NR, 1, K>(g, src, w, w3, oh, ow, last, bias, accumulate, y);
    case 2: return forward_block<T, NR, 2, K>(g, src, w, w3, oh, ow, last, bias, accumulate, y);
    case 3: return forward_block<T, NR, 3, K>(g, src, w, w3, oh, ow, last, bias, accumulate, y);
    default: return forward_block<T, NR, kWidest, K>(g, src, w, w3, oh, ow, last, bias, accumulate, y);
  }
}

// Two rows at a time, for more independent accumulators.
template <typename T, int K>
void forward_rows_of_plane(const DepthwisePlane& g, const T* src, const T* w, T bias, bool accumulate,
                           T* y) noexcept {
  typename Vec<T>::type w3[9];
  if constexpr (K == 3)
    for (int t = 0; t < 9; ++t) w3[t] = Vec<T>::broadcast(w + t);
  std::int64_t oh = 0;
  for (; oh + 2 <= g.P; oh += 2) forward_rows<T, 2, K>(g, src, w, w3, oh, bias, accumulate, y);
  if (oh < g.P) forward_rows<T, 1, K>(g, src, w, w3, oh, bias, accumulate, y);
}

// 3x3 in place (InPlaceColumns), NR rows at a time: inner vectors in blocks of three as
// forward_block's, then the ends one vector at a time, their loads masked. Every output sums
// its taps in forward_block's order, so the bits are the copy's.
template <typename T, int NR>
void forward_rows_in_place(const InPlaceColumns<T>& c, const T* x, const typename Vec<T>::type* w3, std::int64_t oh,
                           T bias, bool accumulate, T* y) noexcept {
  using V = Vec<T>;
  using M = typename V::mask_type;
  constexpr int W = V::width;
  const DepthwisePlane& g = c.g;
  const std::int64_t t1 = g.tap[1], t2 = g.tap[2];
  const T* rows[NR][3];
  for (int j = 0; j < NR; ++j)
    for (int r = 0; r < 3; ++r) rows[j][r] = c.row(x, oh + j, r);
  // NV vectors from column ow, n lanes of the last stored; masks m, or none
  const auto block = [&](auto nv, std::int64_t ow, int n, const M* m) {
    constexpr int NV = decltype(nv)::value;
    const auto load = [m](const T* p, int s) { return m ? V::load(p, m[s]) : V::load(p); };
    typename V::type a[NR * NV];
    for (int j = 0; j < NR; ++j)
      for (int i = 0; i < NV; ++i) {
        const T* yi = y + (oh + j) * g.Q + ow + i * W;
        a[j * NV + i] = !accumulate ? V::set1(bias) : n == W ? V::load(yi) : V::load(yi, V::first(n));
      }
    for (int r = 0; r < 3; ++r)
      for (int j = 0; j < NR; ++j)
        for (int i = 0; i < NV; ++i) {
          const T* xs = rows[j][r] + ow + i * W;
          auto& acc = a[j * NV + i];
          acc = V::fma(w3[3 * r + 2], load(xs + t2, 2), V::fma(w3[3 * r + 1], load(xs + t1, 1), V::fma(w3[3 * r], load(xs, 0), acc)));
        }
    for (int j = 0; j < NR; ++j)
      for (int i = 0; i < NV; ++i) {
        T* yi = y + (oh + j) * g.Q + ow + i * W;
        if (n == W) {
          V::store(yi, a[j * NV + i]);
        } else {
          store_first<T>(yi, a[j * NV + i], n);
        }
      }
  };
  std::int64_t ow = c.inner0;
  for (; ow + 3 * W <= c.inner1; ow += 3 * W) block(std::integral_constant<int, 3>(), ow, W, nullptr);
  for (; ow < c.inner1; ow += W) block(std::integral_constant<int, 1>(), ow, W, nullptr);
  c.for_each_end([&](std::int64_t at, const M* m) { block(std::integral_constant<int, 1>(), at, at < c.body ? W : int(c.tail), m); });
}

template <typename T>
void forward_plane_3x3_in_place(const DepthwisePlane& g, const T* x, const T* w, T bias, bool accumulate, T* y) noexcept {
  const InPlaceColumns<T> c(g);
  typename Vec<T>::type w3[9];
  for (int t = 0; t < 9; ++t) w3[t] = Vec<T>::broadcast(w + t);
  std::int64_t oh = 0;
  for (; oh + 2 <= g.P; oh += 2) forward_rows_in_place<T, 2>(c, x, w3, oh, bias, accumulate, y);
  if (oh < g.P) forward_rows_in_place<T, 1>(c, x, w3, oh, bias, accumulate, y);
}

template <typename T>
void forward_plane(const DepthwisePlane& g, const T* src, const T* w, T bias, bool accumulate, T* y) noexcept {
  if (g.in_place) return forward_plane_3x3_in_place(g, src, w, bias, accumulate, y);
  if (g.R == 3 && g.S == 3) return forward_rows_of_plane<T, 3>(g, src, w, bias, accumulate, y);
  if (g.R == 5 && g.S == 5) return forward_rows_of_plane<T, 5>(g, src, w, bias, accumulate, y);
  forward_rows_of_plane<T, 0>(g, src, w, bias, accumulate, y);
}

// 3x3: every tap of a block of up to eight rows at once, one vector of partial sums per tap, so
// that each dY vector is loaded once for nine multiply-adds and the nine chains hide their
// latency (tap after tap, two chains per tap waited on the multiply-add: ResNet-sized
// MobileNet planes ran at 45% of memory bandwidth). Reduced in a fixed order, added in double.
template <typename T>
void weights_plane_3x3(const DepthwisePlane& g, const T* src, const T* dy, double* acc) noexcept {
  using V = Vec<T>;
  constexpr int W = V::width;
  constexpr std::int64_t kRows = 8;
  const std::int64_t tail = g.Q % W, body = g.Q - tail;
  const auto m = V::first(int(tail ? tail : 1));
  const std::int64_t t0 = g.tap[0], t1 = g.tap[1], t2 = g.tap[2], r1 = g.dh * g.ld, r2 = 2 * g.dh * g.ld;
  for (std::int64_t oh0 = 0; oh0 < g.P; oh0 += kRows) {
    auto p0 = V::zero(), p1 = V::zero(), p2 = V::zero(), p3 = V::zero(), p4 = V::zero(), p5 = V::zero();
    auto p6 = V::zero(), p7 = V::zero(), p8 = V::zero();
    auto taps = [&](const T* xs, typename V::type d, auto load) {
      p0 = V::fma(load(xs + t0), d, p0), p1 = V::fma(load(xs + t1), d, p1), p2 = V::fma(load(xs + t2), d, p2);
      p3 = V::fma(load(xs + r1 + t0), d, p3), p4 = V::fma(load(xs + r1 + t1), d, p4), p5 = V::fma(load(xs + r1 + t2), d, p5);
      p6 = V::fma(load(xs + r2 + t0), d, p6), p7 = V::fma(load(xs + r2 + t1), d, p7), p8 = V::fma(load(xs + r2 + t2), d, p8);
    };
    for (std::int64_t oh = oh0; oh < std::min(g.P, oh0 + kRows); ++oh) {
      const T* xs = src + oh * g.sh * g.ld;
      const T* dyr = dy + oh * g.Q;
      // dY eight rows on, past the plane's end into the next one's, which the caller reads next:
      // without it, a dY load missed in 22% of the samples of MobileNet's stride-2 layer
      prefetch_range<3>(dyr + 8 * g.Q, std::size_t(g.Q) * sizeof(T));
      for (std::int64_t ow = 0; ow < body; ow += W) taps(xs + ow, V::load(dyr + ow), [](const T* p) { return V::load(p); });
      if (tail) taps(xs + body, V::load(dyr + body, m), [m](const T* p) { return V::load(p, m); });
    }
    const typename V::type p[9] = {p0, p1, p2, p3, p4, p5, p6, p7, p8};
    for (int t = 0; t < 9; ++t) acc[t] += double(V::sum(p[t]));
  }
}

// 3x3 in place (InPlaceColumns), blocks of rows as above: the inner vectors of every row of a
// block, then the ends. The order differs from the copy's, and so may the last bits. Kept apart
// from the copy's kernel: mixed in, the bookkeeping took longer than the copy saved.
template <typename T>
void weights_plane_3x3_in_place(const DepthwisePlane& g, const T* x, const T* dy, double* acc) noexcept {
  using V = Vec<T>;
  using M = typename V::mask_type;
  constexpr int W = V::width;
  constexpr std::int64_t kRows = 8;
  const InPlaceColumns<T> c(g);
  const std::int64_t t1 = g.tap[1], t2 = g.tap[2];
  const auto dm = V::first(int(c.tail ? c.tail : 1));
  for (std::int64_t oh0 = 0; oh0 < g.P; oh0 += kRows) {
    const std::int64_t rows = std::min(kRows, g.P - oh0);
    const T* src[kRows][3];
    for (std::int64_t i = 0; i < rows; ++i)
      for (int r = 0; r < 3; ++r) src[i][r] = c.row(x, oh0 + i, r);
    auto p0 = V::zero(), p1 = V::zero(), p2 = V::zero(), p3 = V::zero(), p4 = V::zero(), p5 = V::zero();
    auto p6 = V::zero(), p7 = V::zero(), p8 = V::zero();
    const auto taps = [&](const T* const* xr, std::int64_t ow, typename V::type d, auto load) {
      p0 = V::fma(load(xr[0] + ow, 0), d, p0), p1 = V::fma(load(xr[0] + ow + t1, 1), d, p1), p2 = V::fma(load(xr[0] + ow + t2, 2), d, p2);
      p3 = V::fma(load(xr[1] + ow, 0), d, p3), p4 = V::fma(load(xr[1] + ow + t1, 1), d, p4), p5 = V::fma(load(xr[1] + ow + t2, 2), d, p5);
      p6 = V::fma(load(xr[2] + ow, 0), d, p6), p7 = V::fma(load(xr[2] + ow + t1, 1), d, p7), p8 = V::fma(load(xr[2] + ow + t2, 2), d, p8);
    };
    for (std::int64_t i = 0; i < rows; ++i) {
      const T* dyr = dy + (oh0 + i) * g.Q;
      for (std::int64_t ow = c.inner0; ow < c.inner1; ow += W)
        taps(src[i], ow, V::load(dyr + ow), [](const T* p, int) { return V::load(p); });
    }
    for (std::int64_t i = 0; i < rows; ++i) {
      const T* dyr = dy + (oh0 + i) * g.Q;
      c.for_each_end([&](std::int64_t ow, const M* m) {
        const auto d = ow < c.body ? V::load(dyr + ow) : V::load(dyr + ow, dm);
        taps(src[i], ow, d, [m](const T* p, int s) { return V::load(p, m[s]); });
      });
    }
    const typename V::type p[9] = {p0, p1, p2, p3, p4, p5, p6, p7, p8};
    for (int t = 0; t < 9; ++t) acc[t] += double(V::sum(p[t]));
  }
}

// 5x5 with unit column taps (tap[s] == s), as weights_plane_3x3 but in two passes over the
// plane, kernel rows 0-2 then 3-4: 25 partial sums and a dY vector overflow AVX2's 16
// registers, 15 and one fill them. Each dY vector is loaded once per pass for 15 or 10
// multiply-adds, whose other operand comes from memory (the generic loop loaded two values
// for each, and ran LeNet's first layer at a third of the peak).
template <typename T, int R0, int NR>
void weights_pass_5x5(const DepthwisePlane& g, const T* src, const T* dy, double* acc) noexcept {
  using V = Vec<T>;
  constexpr int W = V::width;
  constexpr std::int64_t kRows = 8;
  const std::int64_t tail = g.Q % W, body = g.Q - tail;
  const auto m = V::first(int(tail ? tail : 1));
  for (std::int64_t oh0 = 0; oh0 < g.P; oh0 += kRows) {
    typename V::type p[NR * 5];
    for (auto& v : p) v = V::zero();
    const auto taps = [&](const T* xs, typename V::type d, auto load) {
      for (int r = 0; r < NR; ++r) {
        const T* row = xs + (R0 + r) * g.dh * g.ld;
        for (int s = 0; s < 5; ++s) p[r * 5 + s] = V::fma(load(row + s), d, p[r * 5 + s]);
      }
    };
    for (std::int64_t oh = oh0; oh < std::min(g.P, oh0 + kRows); ++oh) {
      const T* xs = src + oh * g.sh * g.ld;
      const T* dyr = dy + oh * g.Q;
      for (std::int64_t ow = 0; ow < body; ow += W) taps(xs + ow, V::load(dyr + ow), [](const T* q) { return V::load(q); });
      if (tail) taps(xs + body, V::load(dyr + body, m), [m](const T* q) { return V::load(q, m); });
    }
    for (int t = 0; t < NR * 5; ++t) acc[R0 * 5 + t] += double(V::sum(p[t]));
  }
}

template <typename T>
void weights_plane_5x5(const DepthwisePlane& g, const T* src, const T* dy, double* acc) noexcept {
  weights_pass_5x5<T, 0, 3>(g, src, dy, acc);
  weights_pass_5x5<T, 3, 2>(g, src, dy, acc);
}

// Dot products over blocks of up to eight rows in two vectors of partial sums, reduced in a
// fixed order and added in double: short float sums, with one reduction per block and tap.
template <typename T>
void weights_plane(const DepthwisePlane& g, const T* src, const T* dy, double* acc) noexcept {
  if (g.in_place) return weights_plane_3x3_in_place(g, src, dy, acc);
  if (g.R == 3 && g.S == 3) return weights_plane_3x3(g, src, dy, acc);
  if (g.R == 5 && g.S == 5 && unit_taps5(g))
    return weights_plane_5x5(g, src, dy, acc);
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
