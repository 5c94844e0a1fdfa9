// Portable GEMM microkernels: plain loops the compiler vectorises for the baseline target.
#include "kernels/kernels.hpp"

namespace fastconv::kernels::generic {
#include "kernels/pack_panel.inl"

namespace {

// A element (i, p) at a[p * MR + i] when packed (lda 0), else at a[i * lda + p].
template <typename T, int MR, int NR>
inline void gemm_ukernel(std::int64_t kc, const T* a, std::int64_t lda, const T* b, T* c, std::int64_t ldc,
                         bool accumulate) noexcept {
  T acc[MR][NR] = {};
  const std::int64_t row_step = lda ? lda : 1, col_step = lda ? 1 : MR;
  for (std::int64_t p = 0; p < kc; ++p) {
    const T* ap = a + p * col_step;
    const T* bp = b + p * NR;
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += ap[i * row_step] * bp[j];
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : T(0)) + acc[i][j];
}

// 2 MR rows by the first NR / 2 columns of the B panel, A(i, p) at a[i * lda + p] or, with
// offsets, a[i * lda + off[p]], or packed (kPacked: two MR-row panels, the second at a + MR kc):
// the same sums as gemm_ukernel's and gemm_indirect's.
template <typename T, int MR, int NR, bool kPacked = false>
void gemm_indirect_tall(std::int64_t kc, const T* a, std::int64_t lda, const std::int64_t* off, const T* b, T* c,
                        std::int64_t ldc, bool accumulate) noexcept {
  T acc[2 * MR][NR / 2] = {};
  auto at = [&](int i, std::int64_t p) {  // the layout is known at compile time: no branch per element
    if constexpr (kPacked) return a[i / MR * MR * kc + p * MR + i % MR];
    else return a[i * lda + (off ? off[p] : p)];
  };
  for (std::int64_t p = 0; p < kc; ++p)
    for (int i = 0; i < 2 * MR; ++i)
      for (int j = 0; j < NR / 2; ++j) acc[i][j] += at(i, p) * b[p * NR + j];
  for (int i = 0; i < 2 * MR; ++i)
    for (int j = 0; j < NR / 2; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : T(0)) + acc[i][j];
}

template <typename T, int MR, int NR>
void gemm_rows_tall(std::int64_t kc, const T* a, std::int64_t lda, const T* b, T* c, std::int64_t ldc,
                    bool accumulate) noexcept {
  gemm_indirect_tall<T, MR, NR>(kc, a, lda, nullptr, b, c, ldc, accumulate);
}

// A element (i, p) at rows[i][off[p]].
template <typename T, int MR, int NR>
void gemm_indirect(std::int64_t kc, const T* const* rows, const std::int64_t* off, const T* b, T* c, std::int64_t ldc,
                   bool accumulate) noexcept {
  T acc[MR][NR] = {};
  for (std::int64_t p = 0; p < kc; ++p) {
    const T* bp = b + p * NR;
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += rows[i][off[p]] * bp[j];
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : T(0)) + acc[i][j];
}

// A packed, B element (p, j) at b[off[p] + j].
template <typename T, int MR, int NR>
void gemm_rows_b(std::int64_t kc, const T* a, const T* b, const std::int64_t* off, T* c, std::int64_t ldc,
                 bool accumulate) noexcept {
  T acc[MR][NR] = {};
  for (std::int64_t p = 0; p < kc; ++p) {
    const T* ap = a + p * MR;
    const T* bp = b + off[p];
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += ap[i] * bp[j];
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : T(0)) + acc[i][j];
}

template <typename T, int MR, int NR>
void gemm_packed(std::int64_t kc, const T* a, const T* b, T* c, std::int64_t ldc, bool accumulate) noexcept {
  gemm_ukernel<T, MR, NR>(kc, a, 0, b, c, ldc, accumulate);
}

template <typename T, int MR, int NR>
void gemm_packed_tall(std::int64_t kc, const T* a, const T* b, T* c, std::int64_t ldc, bool accumulate) noexcept {
  gemm_indirect_tall<T, MR, NR, true>(kc, a, 0, nullptr, b, c, ldc, accumulate);
}

}  // namespace

GemmMicrokernel<float> sgemm() {
  return {gemm_packed<float, 4, 8>, gemm_packed_tall<float, 4, 8>, gemm_ukernel<float, 4, 8>, gemm_rows_tall<float, 4, 8>,
          gemm_indirect<float, 4, 8>, gemm_indirect<float, 4, 4>, gemm_indirect_tall<float, 4, 8>, gemm_rows_b<float, 4, 8>,
          pack_panel_loops<float>, unpack_panel_loops<float>, 4, 8, "gemm-generic-4x8"};
}
GemmMicrokernel<double> dgemm() {
  return {gemm_packed<double, 4, 4>, gemm_packed_tall<double, 4, 4>, gemm_ukernel<double, 4, 4>, gemm_rows_tall<double, 4, 4>,
          gemm_indirect<double, 4, 4>, gemm_indirect<double, 4, 2>, gemm_indirect_tall<double, 4, 4>, gemm_rows_b<double, 4, 4>,
          pack_panel_loops<double>, unpack_panel_loops<double>, 4, 4, "gemm-generic-4x4"};
}

}  // namespace fastconv::kernels::generic
