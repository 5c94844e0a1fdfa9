// An 8-row GEMM microkernel over the including ISA's Vec<T>, for ISAs with 32 vector registers
// (AVX-512: 16 sums, two B vectors and a broadcast). For filters per group that are multiples of
// 8 but not of 6 (ResNeXt's 8, 16 and 32), where 6-row panels leave rows idle: 8 filters ran as
// 6 + 2 rows, a third of the multiply-adds on zero rows. Each broadcast feeds two multiply-adds,
// as in gemm_6x2v. (The turned-around kernels that take 8 or 16 filters as one vector ran at
// about two thirds of the peak here.)

namespace {

constexpr int kMR8 = 8;

// A element (i, p) at a[p * 8 + i] when packed, else at a[i * lda + p]; B row p at b + 2W p,
// or with offsets (kRowsB), at b + off[p]. Named sums, as in gemm_6x2v.
template <typename T, bool kPacked, bool kRowsB = false>
inline void gemm_8x2v(std::int64_t kc, const T* a, std::int64_t lda, const T* b, T* c, std::int64_t ldc,
                      bool accumulate, const std::int64_t* off = nullptr) noexcept {
  using V = Vec<T>;
  using R = typename V::type;
  constexpr int W = V::width;
  const std::int64_t row = kPacked ? 1 : lda, step = kPacked ? kMR8 : 1;
  const T* a4 = a + 4 * row;  // rows 4..7, so each row is a base plus 0 to 3 row steps
  R c00 = V::zero(), c01 = V::zero(), c10 = V::zero(), c11 = V::zero(), c20 = V::zero(), c21 = V::zero();
  R c30 = V::zero(), c31 = V::zero(), c40 = V::zero(), c41 = V::zero(), c50 = V::zero(), c51 = V::zero();
  R c60 = V::zero(), c61 = V::zero(), c70 = V::zero(), c71 = V::zero();
  for (std::int64_t p = 0; p < kc; ++p, a += step, a4 += step, b += kRowsB ? 0 : 2 * W) {
    const T* bp = kRowsB ? b + off[p] : b;
    const R b0 = V::load(bp), b1 = V::load(bp + W);
    auto madd = [&](const T* ap, R& lo, R& hi) {
      const R ai = V::broadcast(ap);
      lo = V::fma(ai, b0, lo), hi = V::fma(ai, b1, hi);
    };
    madd(a, c00, c01), madd(a + row, c10, c11), madd(a + 2 * row, c20, c21), madd(a + 3 * row, c30, c31);
    madd(a4, c40, c41), madd(a4 + row, c50, c51), madd(a4 + 2 * row, c60, c61), madd(a4 + 3 * row, c70, c71);
  }
  auto put = [&](int i, R lo, R hi) {
    T* ci = c + i * ldc;
    if (accumulate) lo = V::add(lo, V::load(ci)), hi = V::add(hi, V::load(ci + W));
    V::store(ci, lo);
    V::store(ci + W, hi);
  };
  put(0, c00, c01), put(1, c10, c11), put(2, c20, c21), put(3, c30, c31);
  put(4, c40, c41), put(5, c50, c51), put(6, c60, c61), put(7, c70, c71);
}

template <typename T>
void gemm8_packed(std::int64_t kc, const T* a, const T* b, T* c, std::int64_t ldc, bool accumulate) noexcept {
  gemm_8x2v<T, true>(kc, a, 0, b, c, ldc, accumulate);
}

template <typename T>
void gemm8_rows_a(std::int64_t kc, const T* a, std::int64_t lda, const T* b, T* c, std::int64_t ldc,
                  bool accumulate) noexcept {
  gemm_8x2v<T, false>(kc, a, lda, b, c, ldc, accumulate);
}

template <typename T>
void gemm8_rows_b(std::int64_t kc, const T* a, const T* b, const std::int64_t* off, T* c, std::int64_t ldc,
                  bool accumulate) noexcept {
  gemm_8x2v<T, true, true>(kc, a, 0, b, c, ldc, accumulate, off);
}

}  // namespace
