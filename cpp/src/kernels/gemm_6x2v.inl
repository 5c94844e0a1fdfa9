// The x86 GEMM microkernels, written once over the including ISA's Vec<T> (one register of T)
// and compiled per ISA (kernels/avx2, kernels/avx512 include this inside their own namespace):
// 6 rows x 2 vectors of accumulators, so the panels are 2 * Vec<T>::width wide.

namespace {

constexpr int kMR = 6;

// C (6 rows of 2 vectors, rows ldc apart) = or += the accumulators.
template <typename T, typename R = typename Vec<T>::type>
inline void store_6x2v(T* c, std::int64_t ldc, bool accumulate, R c00, R c01, R c10, R c11, R c20, R c21, R c30,
                       R c31, R c40, R c41, R c50, R c51) noexcept {
  using V = Vec<T>;
  auto put = [&](int i, R lo, R hi) {
    T* ci = c + i * ldc;
    if (accumulate) lo = V::add(lo, V::load(ci)), hi = V::add(hi, V::load(ci + V::width));
    V::store(ci, lo);
    V::store(ci + V::width, hi);
  };
  put(0, c00, c01), put(1, c10, c11), put(2, c20, c21), put(3, c30, c31), put(4, c40, c41), put(5, c50, c51);
}

// A row of C = or += one vector of sums.
template <typename T, typename R = typename Vec<T>::type>
inline void store_1v(T* c, bool accumulate, R v) noexcept {
  Vec<T>::store(c, accumulate ? Vec<T>::add(v, Vec<T>::load(c)) : v);
}

// Accumulators are named variables: kept in an array, GCC spills them to the stack every step.
// A element (i, p) at a[p * kMR + i] when packed, else at a[i * lda + p]; B row p at b + 2W p,
// or with offsets (kRowsB), at b + off[p].
template <typename T, bool kPacked, bool kRowsB = false>
inline void gemm_6x2v(std::int64_t kc, const T* a, std::int64_t lda, const T* b, T* c, std::int64_t ldc,
                      bool accumulate, const std::int64_t* off = nullptr) noexcept {
  using V = Vec<T>;
  constexpr int W = V::width;
  const std::int64_t row = kPacked ? 1 : lda, step = kPacked ? kMR : 1;
  const T* a3 = a + 3 * row;  // rows 3..5, so each row is a base plus 0, 1 or 2 row steps
  auto c00 = V::zero(), c01 = V::zero(), c10 = V::zero(), c11 = V::zero(), c20 = V::zero(), c21 = V::zero();
  auto c30 = V::zero(), c31 = V::zero(), c40 = V::zero(), c41 = V::zero(), c50 = V::zero(), c51 = V::zero();
  for (std::int64_t p = 0; p < kc; ++p, a += step, a3 += step, b += kRowsB ? 0 : 2 * W) {
    const T* bp = kRowsB ? b + off[p] : b;
    const auto b0 = V::load(bp), b1 = V::load(bp + W);
    auto ai = V::broadcast(a);
    c00 = V::fma(ai, b0, c00), c01 = V::fma(ai, b1, c01);
    ai = V::broadcast(a + row);
    c10 = V::fma(ai, b0, c10), c11 = V::fma(ai, b1, c11);
    ai = V::broadcast(a + 2 * row);
    c20 = V::fma(ai, b0, c20), c21 = V::fma(ai, b1, c21);
    ai = V::broadcast(a3);
    c30 = V::fma(ai, b0, c30), c31 = V::fma(ai, b1, c31);
    ai = V::broadcast(a3 + row);
    c40 = V::fma(ai, b0, c40), c41 = V::fma(ai, b1, c41);
    ai = V::broadcast(a3 + 2 * row);
    c50 = V::fma(ai, b0, c50), c51 = V::fma(ai, b1, c51);
  }
  store_6x2v<T>(c, ldc, accumulate, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
}

// 12 rows by one vector: the first half of the B panel (rows 2 vectors apart), with A(i, p) at
// a[i * lda + p], or gathered, at a[i * lda + off[p]], or packed (kPacked: two kMR-row panels,
// the second at a + kMR * kc). Register-named accumulators and rows reached from four bases, as
// in gemm_6x2v.
// kLda, where not 0, is lda known at compile time (kTallRowStride).
template <typename T, bool kGathered, bool kPacked = false, std::int64_t kLda = 0>
inline void tall_12x1v(std::int64_t kc, const T* a, std::int64_t lda_, const std::int64_t* off, const T* b, T* c,
                       std::int64_t ldc, bool accumulate) noexcept {
  const std::int64_t lda = kLda ? kLda : lda_;
  using V = Vec<T>;
  constexpr int kNR = 2 * V::width;
  auto c0 = V::zero(), c1 = V::zero(), c2 = V::zero(), c3 = V::zero(), c4 = V::zero(), c5 = V::zero();
  auto c6 = V::zero(), c7 = V::zero(), c8 = V::zero(), c9 = V::zero(), c10 = V::zero(), c11 = V::zero();
  for (std::int64_t p = 0; p < kc; ++p, b += kNR) {
    const auto bp = V::load(b);
    const T* a0 = a + (kGathered ? off[p] : kPacked ? p * kMR : p);
    const T *a3 = a0 + 3 * lda, *a6 = a0 + (kPacked ? kMR * kc : 6 * lda), *a9 = a6 + 3 * lda;
    c0 = V::fma(V::broadcast(a0), bp, c0), c1 = V::fma(V::broadcast(a0 + lda), bp, c1);
    c2 = V::fma(V::broadcast(a0 + 2 * lda), bp, c2), c3 = V::fma(V::broadcast(a3), bp, c3);
    c4 = V::fma(V::broadcast(a3 + lda), bp, c4), c5 = V::fma(V::broadcast(a3 + 2 * lda), bp, c5);
    c6 = V::fma(V::broadcast(a6), bp, c6), c7 = V::fma(V::broadcast(a6 + lda), bp, c7);
    c8 = V::fma(V::broadcast(a6 + 2 * lda), bp, c8), c9 = V::fma(V::broadcast(a9), bp, c9);
    c10 = V::fma(V::broadcast(a9 + lda), bp, c10), c11 = V::fma(V::broadcast(a9 + 2 * lda), bp, c11);
  }
  auto put = [&](int i, typename V::type v) { store_1v<T>(c + i * ldc, accumulate, v); };
  put(0, c0), put(1, c1), put(2, c2), put(3, c3), put(4, c4), put(5, c5);
  put(6, c6), put(7, c7), put(8, c8), put(9, c9), put(10, c10), put(11, c11);
}

template <typename T>
void gemm_rows_tall(std::int64_t kc, const T* a, std::int64_t lda, const T* b, T* c, std::int64_t ldc,
                    bool accumulate) noexcept {
  if (lda == kTallRowStride)
    return tall_12x1v<T, false, false, kTallRowStride>(kc, a, lda, nullptr, b, c, ldc, accumulate);
  tall_12x1v<T, false>(kc, a, lda, nullptr, b, c, ldc, accumulate);
}

template <typename T>
void gemm_packed_tall(std::int64_t kc, const T* a, const T* b, T* c, std::int64_t ldc, bool accumulate) noexcept {
  tall_12x1v<T, false, true>(kc, a, 1, nullptr, b, c, ldc, accumulate);
}

template <typename T>
void gemm_indirect_tall(std::int64_t kc, const T* a, std::int64_t lda, const std::int64_t* off, const T* b, T* c,
                        std::int64_t ldc, bool accumulate) noexcept {
  tall_12x1v<T, true>(kc, a, lda, off, b, c, ldc, accumulate);
}

// A element (i, p) at rows[i][off[p]]: the pixels' windows, read in place.
template <typename T>
void gemm_6x2v_indirect(std::int64_t kc, const T* const* rows, const std::int64_t* off, const T* b, T* c,
                        std::int64_t ldc, bool accumulate) noexcept {
  using V = Vec<T>;
  constexpr int W = V::width;
  const T *a0 = rows[0], *a1 = rows[1], *a2 = rows[2], *a3 = rows[3], *a4 = rows[4], *a5 = rows[5];
  auto c00 = V::zero(), c01 = V::zero(), c10 = V::zero(), c11 = V::zero(), c20 = V::zero(), c21 = V::zero();
  auto c30 = V::zero(), c31 = V::zero(), c40 = V::zero(), c41 = V::zero(), c50 = V::zero(), c51 = V::zero();
  for (std::int64_t p = 0; p < kc; ++p, b += 2 * W) {
    const std::int64_t o = off[p];
    const auto b0 = V::load(b), b1 = V::load(b + W);
    auto ai = V::broadcast(a0 + o);
    c00 = V::fma(ai, b0, c00), c01 = V::fma(ai, b1, c01);
    ai = V::broadcast(a1 + o);
    c10 = V::fma(ai, b0, c10), c11 = V::fma(ai, b1, c11);
    ai = V::broadcast(a2 + o);
    c20 = V::fma(ai, b0, c20), c21 = V::fma(ai, b1, c21);
    ai = V::broadcast(a3 + o);
    c30 = V::fma(ai, b0, c30), c31 = V::fma(ai, b1, c31);
    ai = V::broadcast(a4 + o);
    c40 = V::fma(ai, b0, c40), c41 = V::fma(ai, b1, c41);
    ai = V::broadcast(a5 + o);
    c50 = V::fma(ai, b0, c50), c51 = V::fma(ai, b1, c51);
  }
  store_6x2v<T>(c, ldc, accumulate, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
}

// The same for 6 rows by one vector, B's rows one vector apart (a panel packed half as wide).
template <typename T>
void gemm_6x1v_indirect(std::int64_t kc, const T* const* rows, const std::int64_t* off, const T* b, T* c,
                        std::int64_t ldc, bool accumulate) noexcept {
  using V = Vec<T>;
  const T *a0 = rows[0], *a1 = rows[1], *a2 = rows[2], *a3 = rows[3], *a4 = rows[4], *a5 = rows[5];
  auto c0 = V::zero(), c1 = V::zero(), c2 = V::zero(), c3 = V::zero(), c4 = V::zero(), c5 = V::zero();
  for (std::int64_t p = 0; p < kc; ++p, b += V::width) {
    const std::int64_t o = off[p];
    const auto bp = V::load(b);
    c0 = V::fma(V::broadcast(a0 + o), bp, c0), c1 = V::fma(V::broadcast(a1 + o), bp, c1);
    c2 = V::fma(V::broadcast(a2 + o), bp, c2), c3 = V::fma(V::broadcast(a3 + o), bp, c3);
    c4 = V::fma(V::broadcast(a4 + o), bp, c4), c5 = V::fma(V::broadcast(a5 + o), bp, c5);
  }
  auto put = [&](int i, typename V::type v) { store_1v<T>(c + i * ldc, accumulate, v); };
  put(0, c0), put(1, c1), put(2, c2), put(3, c3), put(4, c4), put(5, c5);
}

// 12 rows by two vectors, as gemm_6x2v_indirect on two micro-tiles of rows: 24 sums.
template <typename T>
void gemm_12x2v_indirect(std::int64_t kc, const T* const* rows, const std::int64_t* off, const T* b, T* c,
                         std::int64_t ldc, bool accumulate) noexcept {
  using V = Vec<T>;
  constexpr int W = V::width;
  const T *a0 = rows[0], *a1 = rows[1], *a2 = rows[2], *a3 = rows[3], *a4 = rows[4], *a5 = rows[5];
  const T *a6 = rows[6], *a7 = rows[7], *a8 = rows[8], *a9 = rows[9], *a10 = rows[10], *a11 = rows[11];
  auto c00 = V::zero(), c01 = V::zero(), c10 = V::zero(), c11 = V::zero(), c20 = V::zero(), c21 = V::zero();
  auto c30 = V::zero(), c31 = V::zero(), c40 = V::zero(), c41 = V::zero(), c50 = V::zero(), c51 = V::zero();
  auto c60 = V::zero(), c61 = V::zero(), c70 = V::zero(), c71 = V::zero(), c80 = V::zero(), c81 = V::zero();
  auto c90 = V::zero(), c91 = V::zero(), ca0 = V::zero(), ca1 = V::zero(), cb0 = V::zero(), cb1 = V::zero();
  for (std::int64_t p = 0; p < kc; ++p, b += 2 * W) {
    const std::int64_t o = off[p];
    const auto b0 = V::load(b), b1 = V::load(b + W);
    auto madd = [&](const T* a, typename V::type& lo, typename V::type& hi) {
      const auto ai = V::broadcast(a + o);
      lo = V::fma(ai, b0, lo), hi = V::fma(ai, b1, hi);
    };
    madd(a0, c00, c01), madd(a1, c10, c11), madd(a2, c20, c21), madd(a3, c30, c31), madd(a4, c40, c41);
    madd(a5, c50, c51), madd(a6, c60, c61), madd(a7, c70, c71), madd(a8, c80, c81), madd(a9, c90, c91);
    madd(a10, ca0, ca1), madd(a11, cb0, cb1);
  }
  store_6x2v<T>(c, ldc, accumulate, c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51);
  store_6x2v<T>(c + 6 * ldc, ldc, accumulate, c60, c61, c70, c71, c80, c81, c90, c91, ca0, ca1, cb0, cb1);
}

// The same for 12 rows (two micro-tiles of rows): 12 sums in flight instead of 6.
template <typename T>
void gemm_12x1v_indirect(std::int64_t kc, const T* const* rows, const std::int64_t* off, const T* b, T* c,
                         std::int64_t ldc, bool accumulate) noexcept {
  using V = Vec<T>;
  const T *a0 = rows[0], *a1 = rows[1], *a2 = rows[2], *a3 = rows[3], *a4 = rows[4], *a5 = rows[5];
  const T *a6 = rows[6], *a7 = rows[7], *a8 = rows[8], *a9 = rows[9], *a10 = rows[10], *a11 = rows[11];
  auto c0 = V::zero(), c1 = V::zero(), c2 = V::zero(), c3 = V::zero(), c4 = V::zero(), c5 = V::zero();
  auto c6 = V::zero(), c7 = V::zero(), c8 = V::zero(), c9 = V::zero(), c10 = V::zero(), c11 = V::zero();
  for (std::int64_t p = 0; p < kc; ++p, b += V::width) {
    const std::int64_t o = off[p];
    const auto bp = V::load(b);
    c0 = V::fma(V::broadcast(a0 + o), bp, c0), c1 = V::fma(V::broadcast(a1 + o), bp, c1);
    c2 = V::fma(V::broadcast(a2 + o), bp, c2), c3 = V::fma(V::broadcast(a3 + o), bp, c3);
    c4 = V::fma(V::broadcast(a4 + o), bp, c4), c5 = V::fma(V::broadcast(a5 + o), bp, c5);
    c6 = V::fma(V::broadcast(a6 + o), bp, c6), c7 = V::fma(V::broadcast(a7 + o), bp, c7);
    c8 = V::fma(V::broadcast(a8 + o), bp, c8), c9 = V::fma(V::broadcast(a9 + o), bp, c9);
    c10 = V::fma(V::broadcast(a10 + o), bp, c10), c11 = V::fma(V::broadcast(a11 + o), bp, c11);
  }
  auto put = [&](int i, typename V::type v) { store_1v<T>(c + i * ldc, accumulate, v); };
  put(0, c0), put(1, c1), put(2, c2), put(3, c3), put(4, c4), put(5, c5);
  put(6, c6), put(7, c7), put(8, c8), put(9, c9), put(10, c10), put(11, c11);
}

template <typename T>
void gemm_packed(std::int64_t kc, const T* a, const T* b, T* c, std::int64_t ldc, bool accumulate) noexcept {
  gemm_6x2v<T, true>(kc, a, 0, b, c, ldc, accumulate);
}

template <typename T>
void gemm_rows_a(std::int64_t kc, const T* a, std::int64_t lda, const T* b, T* c, std::int64_t ldc,
                 bool accumulate) noexcept {
  gemm_6x2v<T, false>(kc, a, lda, b, c, ldc, accumulate);
}

template <typename T>
void gemm_rows_b(std::int64_t kc, const T* a, const T* b, const std::int64_t* off, T* c, std::int64_t ldc,
                 bool accumulate) noexcept {
  gemm_6x2v<T, true, true>(kc, a, 0, b, c, ldc, accumulate, off);
}

}  // namespace
