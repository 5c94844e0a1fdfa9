// Portable row dot products: plain loops over kLanes interleaved sums per pair, which the
// compiler vectorises for the baseline target, with the same contract as the SIMD kernels.
#include "kernels/kernels.hpp"

namespace fastconv::kernels::generic {
namespace {

constexpr int kLanes = 4;

// Lane l sums columns q with q % kLanes == l, whole groups of kLanes first, then the tail.
template <typename T, int kA, int kB>
void row_dot_block(std::int64_t rows, std::int64_t cols, const T* const* a, std::int64_t a_ld, const T* const* b,
                   std::int64_t b_ld, T* sums, bool accumulate) noexcept {
  T s[kA][kB][kLanes];
  for (int f = 0; f < kA; ++f)
    for (int t = 0; t < kB; ++t)
      for (int l = 0; l < kLanes; ++l) s[f][t][l] = accumulate ? sums[(f * kB + t) * kLanes + l] : T(0);
  const std::int64_t whole = cols / kLanes * kLanes;
  for (std::int64_t i = 0; i < rows; ++i) {
    for (std::int64_t q = 0; q < whole; q += kLanes)
      for (int f = 0; f < kA; ++f)
        for (int t = 0; t < kB; ++t)
          for (int l = 0; l < kLanes; ++l) s[f][t][l] += a[f][i * a_ld + q + l] * b[t][i * b_ld + q + l];
    for (std::int64_t q = whole; q < cols; ++q)
      for (int f = 0; f < kA; ++f)
        for (int t = 0; t < kB; ++t) s[f][t][q - whole] += a[f][i * a_ld + q] * b[t][i * b_ld + q];
  }
  for (int f = 0; f < kA; ++f)
    for (int t = 0; t < kB; ++t)
      for (int l = 0; l < kLanes; ++l) sums[(f * kB + t) * kLanes + l] = s[f][t][l];
}

template <typename T, int kA, int kB>
void row_dot(std::int64_t rows, std::int64_t cols, const T* const* a, std::int64_t a_ld, int na, const T* const* b,
             std::int64_t b_ld, T* sums, bool accumulate) noexcept {
  if constexpr (kA > 1) {
    if (na < kA) return row_dot<T, kA - 1, kB>(rows, cols, a, a_ld, na, b, b_ld, sums, accumulate);
  }
  row_dot_block<T, kA, kB>(rows, cols, a, a_ld, b, b_ld, sums, accumulate);
}

}  // namespace

RowDotKernel<float> srowdot() { return {row_dot<float, 2, 4>, kLanes, 2, 4, "rowdot-generic-2x4"}; }
RowDotKernel<double> drowdot() { return {row_dot<double, 2, 4>, kLanes, 2, 4, "rowdot-generic-2x4"}; }

}  // namespace fastconv::kernels::generic
