// Dot products of rows over a vector type V of the including ISA (Vec<T>, or on AVX-512 its half
// width, HalfVec<T>; see RowDotKernel): na rows of a against kB rows of b, each pair's sum in a
// register of its own, so that every value loaded feeds na or kB multiply-adds and nothing is
// packed or broadcast. The last vector of each row is masked. The loops over pairs are unrolled
// by pragma: GCC 12 left the 4 x 6 nest rolled, its sums on the stack (half the speed).

namespace {

template <typename V, typename T, int kA, int kB>
void row_dot_block(std::int64_t rows, std::int64_t cols, const T* const* a, std::int64_t a_ld, const T* const* b,
                   std::int64_t b_ld, T* sums, bool accumulate) noexcept {
  using R = typename V::type;
  constexpr int W = V::width;
  R s[kA][kB];
  #pragma GCC unroll 8
  for (int f = 0; f < kA; ++f)
    #pragma GCC unroll 8
    for (int t = 0; t < kB; ++t) s[f][t] = accumulate ? V::load(sums + (f * kB + t) * W) : V::zero();
  const std::int64_t whole = (cols - 1) / W;  // vectors before the last, which may be partial
  const auto last = V::first(int(cols - whole * W));
  for (std::int64_t i = 0; i < rows; ++i) {
    const std::int64_t ai = i * a_ld, bi = i * b_ld;
    for (std::int64_t q = 0; q < whole * W; q += W) {
      R av[kA];
      #pragma GCC unroll 8
      for (int f = 0; f < kA; ++f) av[f] = V::load(a[f] + ai + q);
      #pragma GCC unroll 8
      for (int t = 0; t < kB; ++t) {
        const R bv = V::load(b[t] + bi + q);
        #pragma GCC unroll 8
        for (int f = 0; f < kA; ++f) s[f][t] = V::fma(av[f], bv, s[f][t]);
      }
    }
    const std::int64_t q = whole * W;
    R av[kA];
    #pragma GCC unroll 8
    for (int f = 0; f < kA; ++f) av[f] = V::load(a[f] + ai + q, last);
    #pragma GCC unroll 8
    for (int t = 0; t < kB; ++t) {
      const R bv = V::load(b[t] + bi + q, last);
      #pragma GCC unroll 8
      for (int f = 0; f < kA; ++f) s[f][t] = V::fma(av[f], bv, s[f][t]);
    }
  }
  #pragma GCC unroll 8
  for (int f = 0; f < kA; ++f)
    #pragma GCC unroll 8
    for (int t = 0; t < kB; ++t) V::store(sums + (f * kB + t) * W, s[f][t]);
}

// na (1 to kA) rows of a: a ragged last block of filters costs only its own rows.
template <typename V, int kA, int kB, typename T>
void row_dot(std::int64_t rows, std::int64_t cols, const T* const* a, std::int64_t a_ld, int na, const T* const* b,
             std::int64_t b_ld, T* sums, bool accumulate) noexcept {
  if constexpr (kA > 1) {
    if (na < kA) return row_dot<V, kA - 1, kB>(rows, cols, a, a_ld, na, b, b_ld, sums, accumulate);
  }
  row_dot_block<V, T, kA, kB>(rows, cols, a, a_ld, b, b_ld, sums, accumulate);
}

}  // namespace
