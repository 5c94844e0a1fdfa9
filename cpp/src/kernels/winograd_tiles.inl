// Winograd F(2x2, 3x3), F(4x4, 3x3) and F(6x6, 3x3) transforms, written once and compiled once per ISA
// (kernels/<isa>/winograd_<isa>.cpp include this file inside their own namespace). Each call
// transforms a block of up to kLanes tiles, in a row or in `rows` rows of kLanes / rows, or up to
// kLanes filters: the lanes of every loop are tiles or filters, so the arithmetic vectorises at
// the ISA's width and reads and writes are contiguous. The including file provides <algorithm>
// and the kernel table types before its namespace, and kLanes (8, or 16 for AVX-512) inside it.

namespace {

// Unrolled whole, so that arrays of registers stay in registers.
#if defined(__GNUC__) && !defined(__clang__)
#define FASTCONV_UNROLL _Pragma("GCC unroll 8")
#elif defined(__clang__)
#define FASTCONV_UNROLL _Pragma("unroll")
#else
#define FASTCONV_UNROLL
#endif

// Tile t's place in a block, in tiles: (row, column).
inline int lane_row(int rows, int t) { return t / (kLanes / rows); }
inline int lane_col(int rows, int t) { return t % (kLanes / rows); }

// F(4x4, 3x3): 6x6 input tiles, interpolation points 0, 1, -1, 2, -2 and infinity. Each 1-D pass
// maps lane vectors `stride` apart to lane vectors `ostride` apart.
struct F4 {
  static constexpr int kM = 4, kA = 6;

  // out = G g, 6 rows from a column of 3 (values, or vectors of lanes), multiplying by
  // reciprocals rather than dividing, which costs more
  template <typename T, typename V>
  static void g(V g0, V g1, V g2, V* out) {
    constexpr T k4 = T(1) / 4, k6 = T(1) / 6, k12 = T(1) / 12, k24 = T(1) / 24;
    out[0] = g0 * k4;
    out[1] = -(g0 + g1 + g2) * k6;
    out[2] = -(g0 - g1 + g2) * k6;
    out[3] = g0 * k24 + g1 * k12 + g2 * k6;
    out[4] = g0 * k24 - g1 * k12 + g2 * k6;
    out[5] = g2;
  }

  // out = G^T s, 3 rows from 6 (the weight gradient's inverse transform)
  template <typename T>
  static void gt(const T* s, int stride, T* out, int ostride) {
    constexpr T k4 = T(1) / 4, k6 = T(1) / 6, k12 = T(1) / 12, k24 = T(1) / 24;
    for (int t = 0; t < kLanes; ++t) {
      const T s0 = s[t], s1 = s[stride + t], s2 = s[2 * stride + t], s3 = s[3 * stride + t], s4 = s[4 * stride + t],
              s5 = s[5 * stride + t];
      out[t] = s0 * k4 - (s1 + s2) * k6 + (s3 + s4) * k24;
      out[ostride + t] = (s2 - s1) * k6 + (s3 - s4) * k12;
      out[2 * ostride + t] = (s3 + s4 - s1 - s2) * k6 + s5;
    }
  }

  // out = B^T d, 6 rows from 6
  template <typename T>
  static void bt(const T* d, int stride, T* out, int ostride) {
    for (int t = 0; t < kLanes; ++t) {
      const T d0 = d[t], d1 = d[stride + t], d2 = d[2 * stride + t], d3 = d[3 * stride + t], d4 = d[4 * stride + t],
              d5 = d[5 * stride + t];
      out[t] = 4 * d0 - 5 * d2 + d4;
      out[ostride + t] = -4 * d1 - 4 * d2 + d3 + d4;
      out[2 * ostride + t] = 4 * d1 - 4 * d2 - d3 + d4;
      out[3 * ostride + t] = -2 * d1 - d2 + 2 * d3 + d4;
      out[4 * ostride + t] = 2 * d1 - d2 - 2 * d3 + d4;
      out[5 * ostride + t] = 4 * d1 - 5 * d3 + d5;
    }
  }

  // out = A^T m, 4 rows from 6
  template <typename T>
  static void at(const T* m, int stride, T* out, int ostride) {
    for (int t = 0; t < kLanes; ++t) {
      const T m0 = m[t], m1 = m[stride + t], m2 = m[2 * stride + t], m3 = m[3 * stride + t], m4 = m[4 * stride + t],
              m5 = m[5 * stride + t];
      const T a = m1 + m2, b = m1 - m2, c = m3 + m4, e = m3 - m4;
      out[t] = m0 + a + c;
      out[ostride + t] = b + 2 * e;
      out[2 * ostride + t] = a + 4 * c;
      out[3 * ostride + t] = b + 8 * e + m5;
    }
  }

  // out = A m, 6 rows from 4 (the transpose of at: dY tiles into the transform domain, for the
  // weight gradient)
  template <typename T>
  static void a(const T* m, int stride, T* out, int ostride) {
    for (int t = 0; t < kLanes; ++t) {
      const T m0 = m[t], m1 = m[stride + t], m2 = m[2 * stride + t], m3 = m[3 * stride + t];
      out[t] = m0;
      out[ostride + t] = m0 + m1 + m2 + m3;
      out[2 * ostride + t] = m0 - m1 + m2 - m3;
      out[3 * ostride + t] = m0 + 2 * m1 + 4 * m2 + 8 * m3;
      out[4 * ostride + t] = m0 - 2 * m1 + 4 * m2 - 8 * m3;
      out[5 * ostride + t] = m3;
    }
  }
};

// F(2x2, 3x3): 4x4 input tiles, points 0, 1, -1 and infinity; 2.25x fewer multiplications than
// direct where F(4x4) saves 4x, but its transforms add no factor above 1, so it rounds far less.
struct F2 {
  static constexpr int kM = 2, kA = 4;

  template <typename T, typename V>
  static void g(V g0, V g1, V g2, V* out) {
    out[0] = g0;
    out[1] = (g0 + g1 + g2) * T(0.5);
    out[2] = (g0 - g1 + g2) * T(0.5);
    out[3] = g2;
  }

  template <typename T>
  static void gt(const T* s, int stride, T* out, int ostride) {
    for (int t = 0; t < kLanes; ++t) {
      const T s0 = s[t], s1 = s[stride + t], s2 = s[2 * stride + t], s3 = s[3 * stride + t];
      out[t] = s0 + (s1 + s2) * T(0.5);
      out[ostride + t] = (s1 - s2) * T(0.5);
      out[2 * ostride + t] = (s1 + s2) * T(0.5) + s3;
    }
  }

  template <typename T>
  static void bt(const T* d, int stride, T* out, int ostride) {
    for (int t = 0; t < kLanes; ++t) {
      const T d0 = d[t], d1 = d[stride + t], d2 = d[2 * stride + t], d3 = d[3 * stride + t];
      out[t] = d0 - d2;
      out[ostride + t] = d1 + d2;
      out[2 * ostride + t] = d2 - d1;
      out[3 * ostride + t] = d1 - d3;
    }
  }

  template <typename T>
  static void at(const T* m, int stride, T* out, int ostride) {
    for (int t = 0; t < kLanes; ++t) {
      const T m0 = m[t], m1 = m[stride + t], m2 = m[2 * stride + t], m3 = m[3 * stride + t];
      out[t] = m0 + m1 + m2;
      out[ostride + t] = m1 - m2 - m3;
    }
  }

  template <typename T>
  static void a(const T* m, int stride, T* out, int ostride) {
    for (int t = 0; t < kLanes; ++t) {
      const T m0 = m[t], m1 = m[stride + t];
      out[t] = m0;
      out[ostride + t] = m0 + m1;
      out[2 * ostride + t] = m0 - m1;
      out[3 * ostride + t] = -m1;
    }
  }
};

// F(6x6, 3x3): 8x8 input tiles, points 0, 1, -1, 1/2, -1/2, 2, -2 and infinity (the points
// pair up, so each pass adds and subtracts two halves). 5.06x fewer multiplications than
// direct, but its transforms scale values by up to 32 and by 1/90: it rounds more than F(4x4).
struct F6 {
  static constexpr int kM = 6, kA = 8;

  template <typename T>
  static void bt(const T* d, int stride, T* out, int ostride) {
    for (int t = 0; t < kLanes; ++t) {
      const T d0 = d[t], d1 = d[stride + t], d2 = d[2 * stride + t], d3 = d[3 * stride + t], d4 = d[4 * stride + t],
              d5 = d[5 * stride + t], d6 = d[6 * stride + t], d7 = d[7 * stride + t];
      const T a1 = d2 + d6 - T(4.25) * d4, b1 = d1 + d5 - T(4.25) * d3;
      const T a2 = T(4) * d2 - T(5) * d4 + d6, b2 = T(2) * d1 - T(2.5) * d3 + T(0.5) * d5;
      const T a3 = T(0.25) * d2 - T(1.25) * d4 + d6, b3 = T(0.5) * d1 - T(2.5) * d3 + T(2) * d5;
      out[t] = d0 - d6 + T(5.25) * (d4 - d2);
      out[ostride + t] = a1 + b1;
      out[2 * ostride + t] = a1 - b1;
      out[3 * ostride + t] = a2 + b2;
      out[4 * ostride + t] = a2 - b2;
      out[5 * ostride + t] = a3 + b3;
      out[6 * ostride + t] = a3 - b3;
      out[7 * ostride + t] = d7 - d1 + T(5.25) * (d3 - d5);
    }
  }

  template <typename T>
  static void at(const T* m, int stride, T* out, int ostride) {
    for (int t = 0; t < kLanes; ++t) {
      const T m0 = m[t], m1 = m[stride + t], m2 = m[2 * stride + t], m3 = m[3 * stride + t], m4 = m[4 * stride + t],
              m5 = m[5 * stride + t], m6 = m[6 * stride + t], m7 = m[7 * stride + t];
      const T s1 = m1 + m2, d1 = m1 - m2, s2 = m3 + m4, d2 = m3 - m4, s3 = m5 + m6, d3 = m5 - m6;
      out[t] = m0 + s1 + s2 + s3;
      out[ostride + t] = d1 + T(0.5) * d2 + T(2) * d3;
      out[2 * ostride + t] = s1 + T(0.25) * s2 + T(4) * s3;
      out[3 * ostride + t] = d1 + T(0.125) * d2 + T(8) * d3;
      out[4 * ostride + t] = s1 + T(0.0625) * s2 + T(16) * s3;
      out[5 * ostride + t] = d1 + T(0.03125) * d2 + T(32) * d3 + m7;
    }
  }

  template <typename T>
  static void a(const T* m, int stride, T* out, int ostride) {
    for (int t = 0; t < kLanes; ++t) {
      const T m0 = m[t], m1 = m[stride + t], m2 = m[2 * stride + t], m3 = m[3 * stride + t], m4 = m[4 * stride + t],
              m5 = m[5 * stride + t];
      const T e1 = m0 + m2 + m4, o1 = m1 + m3 + m5;
      const T e2 = m0 + T(0.25) * m2 + T(0.0625) * m4, o2 = T(0.5) * m1 + T(0.125) * m3 + T(0.03125) * m5;
      const T e3 = m0 + T(4) * m2 + T(16) * m4, o3 = T(2) * m1 + T(8) * m3 + T(32) * m5;
      out[t] = m0;
      out[ostride + t] = e1 + o1;
      out[2 * ostride + t] = e1 - o1;
      out[3 * ostride + t] = e2 + o2;
      out[4 * ostride + t] = e2 - o2;
      out[5 * ostride + t] = e3 + o3;
      out[6 * ostride + t] = e3 - o3;
      out[7 * ostride + t] = m5;
    }
  }

  template <typename T, typename V>
  static void g(V g0, V g1, V g2, V* out) {
    constexpr T k29 = T(2) / 9, k32 = T(32) / 45, k16 = T(16) / 45, k8 = T(8) / 45, k90 = T(1) / 90,
                k45 = T(1) / 45, k245 = T(2) / 45;
    out[0] = g0;
    out[1] = -(g0 + g1 + g2) * k29;
    out[2] = -(g0 - g1 + g2) * k29;
    out[3] = g0 * k32 + g1 * k16 + g2 * k8;
    out[4] = g0 * k32 - g1 * k16 + g2 * k8;
    out[5] = g0 * k90 + g1 * k45 + g2 * k245;
    out[6] = g0 * k90 - g1 * k45 + g2 * k245;
    out[7] = g2;
  }

  template <typename T>
  static void gt(const T* s, int stride, T* out, int ostride) {
    constexpr T k29 = T(2) / 9, k32 = T(32) / 45, k16 = T(16) / 45, k8 = T(8) / 45, k90 = T(1) / 90,
                k45 = T(1) / 45, k245 = T(2) / 45;
    for (int t = 0; t < kLanes; ++t) {
      const T s0 = s[t], s1 = s[stride + t], s2 = s[2 * stride + t], s3 = s[3 * stride + t], s4 = s[4 * stride + t],
              s5 = s[5 * stride + t], s6 = s[6 * stride + t], s7 = s[7 * stride + t];
      out[t] = s0 - (s1 + s2) * k29 + (s3 + s4) * k32 + (s5 + s6) * k90;
      out[ostride + t] = (s2 - s1) * k29 + (s3 - s4) * k16 + (s5 - s6) * k45;
      out[2 * ostride + t] = -(s1 + s2) * k29 + (s3 + s4) * k8 + (s5 + s6) * k245 + s7;
    }
  }
};

// Tiles t < count of one gradient plane (P x Q): Z = A dy A^T of the m x m patch at (oy, ox)
// plus tile t's place, zero outside the plane. Writes Z[xi][tile0 + t] at z + xi * xi_stride + t.
template <typename F, typename T>
void gradient_block(const T* plane, std::int64_t P, std::int64_t Q, std::int64_t oy, std::int64_t ox, int count,
                    int rows, T* z, std::int64_t xi_stride) noexcept {
  constexpr int kM = F::kM, kA = F::kA;
  T d[kM][kM][kLanes], tmp[kA][kM][kLanes], out[kA][kA][kLanes];
  for (int i = 0; i < kM; ++i)
    for (int j = 0; j < kM; ++j)
      for (int t = 0; t < kLanes; ++t) {
        const std::int64_t yy = oy + kM * lane_row(rows, t) + i, xx = ox + kM * lane_col(rows, t) + j;
        d[i][j][t] = t < count && yy < P && xx < Q ? plane[yy * Q + xx] : T(0);
      }
  for (int j = 0; j < kM; ++j) F::a(&d[0][j][0], kM * kLanes, &tmp[0][j][0], kM * kLanes);  // A dy: kA x kM
  for (int xi = 0; xi < kA; ++xi) F::a(&tmp[xi][0][0], kLanes, &out[xi][0][0], kLanes);     // (A dy) A^T
  for (int xi = 0; xi < kA; ++xi)
    for (int nu = 0; nu < kA; ++nu) std::copy(&out[xi][nu][0], &out[xi][nu][0] + count, z + (xi * kA + nu) * xi_stride);
}

// Tiles t < count: the patches (m + 2 square) at (y0, x0) plus tile t's place of a padded plane,
// all inside it. Writes V[xi][tile0 + t] at v + xi * xi_stride + t.
template <typename F, typename T>
void input_block(const T* padded, std::int64_t ld, std::int64_t y0, std::int64_t x0, int count, int rows, T* v,
                 std::int64_t xi_stride) noexcept {
  constexpr int kM = F::kM, kA = F::kA;
  T d[kA][kA][kLanes], tmp[kA][kA][kLanes], out[kA][kA][kLanes];
  std::int64_t at[kLanes];  // each patch's origin
  for (int t = 0; t < kLanes; ++t) at[t] = (y0 + kM * lane_row(rows, t)) * ld + x0 + kM * lane_col(rows, t);
  for (int i = 0; i < kA; ++i)
    for (int j = 0; j < kA; ++j)
      for (int t = 0; t < kLanes; ++t) d[i][j][t] = padded[at[t] + i * ld + j];
  for (int j = 0; j < kA; ++j) F::bt(&d[0][j][0], kA * kLanes, &tmp[0][j][0], kA * kLanes);  // B^T d
  for (int xi = 0; xi < kA; ++xi) F::bt(&tmp[xi][0][0], kLanes, &out[xi][0][0], kLanes);     // (B^T d) B
  for (int xi = 0; xi < kA; ++xi)
    for (int nu = 0; nu < kA; ++nu) std::copy(&out[xi][nu][0], &out[xi][nu][0] + count, v + (xi * kA + nu) * xi_stride);
}

// Tiles t < count of one output plane from M[xi][tile0 + t] at m + xi * xi_stride: the y tile at
// (oy, ox) plus tile t's place = A^T M A + bias, clipped to the P x Q plane.
template <typename F, typename T>
void output_block(const T* m, std::int64_t xi_stride, int count, int block_rows, T bias, T* plane, std::int64_t P,
                  std::int64_t Q, std::int64_t oy, std::int64_t ox) noexcept {
  constexpr int kM = F::kM, kA = F::kA;
  T mm[kA][kA][kLanes], tmp[kM][kA][kLanes], out[kM][kM][kLanes];
  for (int xi = 0; xi < kA * kA; ++xi) {
    const T* src = m + xi * xi_stride;
    T* dst = &mm[xi / kA][xi % kA][0];
    for (int t = 0; t < kLanes; ++t) dst[t] = t < count ? src[t] : T(0);
  }
  for (int j = 0; j < kA; ++j) F::at(&mm[0][j][0], kA * kLanes, &tmp[0][j][0], kA * kLanes);  // A^T M
  for (int i = 0; i < kM; ++i) F::at(&tmp[i][0][0], kLanes, &out[i][0][0], kLanes);           // (A^T M) A
  for (int t = 0; t < count; ++t) {
    const std::int64_t y = oy + kM * lane_row(block_rows, t), x = ox + kM * lane_col(block_rows, t);
    const std::int64_t rows = std::min<std::int64_t>(kM, P - y), cols = std::min<std::int64_t>(kM, Q - x);
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < cols; ++j) plane[(y + i) * Q + x + j] = out[i][j][t] + bias;
  }
}

// out(xi, value) for the points xi of G f G^T, f[3r + s] the taps of a 3x3 filter (or vectors of
// filters side by side), one row of G f at a time.
template <typename F, typename T, typename V, typename Out>
void weight_points(const V* f, Out&& out) {
  V gf[3][F::kA];  // G f, column by column
  FASTCONV_UNROLL
  for (int s = 0; s < 3; ++s) F::template g<T>(f[s], f[3 + s], f[6 + s], gf[s]);
  FASTCONV_UNROLL
  for (int row = 0; row < F::kA; ++row) {
    V o[F::kA];
    F::template g<T>(gf[0][row], gf[1][row], gf[2][row], o);
    FASTCONV_UNROLL
    for (int col = 0; col < F::kA; ++col) out(row * F::kA + col, o[col]);
  }
}

// Filters t < count at w + t * stride, taps reversed (rot180) with `reversed`, one at a time.
template <typename F, typename T>
void weight_block(const T* w, std::int64_t stride, int count, bool reversed, T* u, std::int64_t point) noexcept {
  for (int t = 0; t < count; ++t) {
    T f[9];
    for (int i = 0; i < 9; ++i) f[i] = w[t * stride + (reversed ? 8 - i : i)];
    weight_points<F, T>(f, [&](int xi, T value) { u[xi * point + t] = value; });
  }
}

// out[3r + s][t] = (G^T s G)[r][s] for the transform-domain sums s[xi][t].
template <typename F, typename T>
void weight_sums(const T* s, T* out) noexcept {
  T tmp[3][F::kA][kLanes];
  for (int col = 0; col < F::kA; ++col)
    F::gt(s + col * kLanes, F::kA * kLanes, &tmp[0][col][0], F::kA * kLanes);  // G^T s
  for (int row = 0; row < 3; ++row) F::gt(&tmp[row][0][0], kLanes, out + row * 3 * kLanes, kLanes);
}

// dW of filters t < count from their sums at s + xi * point + t.
template <typename F, typename T>
void weight_gradient_block(const T* s, std::int64_t point, int count, T* dw) noexcept {
  T in[F::kA * F::kA][kLanes], out[9][kLanes];
  for (int xi = 0; xi < F::kA * F::kA; ++xi)
    for (int t = 0; t < kLanes; ++t) in[xi][t] = t < count ? s[xi * point + t] : T(0);
  weight_sums<F, T>(in[0], out[0]);
  for (int t = 0; t < count; ++t)
    for (int tap = 0; tap < 9; ++tap) dw[t * 9 + tap] = out[tap][t];
}

template <typename F, typename T>
WinogradKernels<T> winograd_kernels(const char* name) {
  return {input_block<F, T>,  output_block<F, T>,          gradient_block<F, T>, weight_block<F, T>,
          weight_gradient_block<F, T>, F::kM, kLanes, name};
}

}  // namespace
