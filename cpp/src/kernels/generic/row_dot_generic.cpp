// Portable row dot products: plain loops over kLanes interleaved sums per pair, which the
// compiler vectorises for the baseline target, with the same contract as the SIMD kernels.
#include <algorithm>

#include "kernels/kernels.hpp"

namespace fastconv::kernels::generic {
namespace {

constexpr int kLanes = 4;

template <typename T, int kA, int kB>
void row_dot(std::int64_t rows, std::int64_t cols, const T* const* a, std::int64_t a_ld, int na, const T* const* b,
             std::int64_t b_ld, T* sums, bool accumulate) noexcept {
  if (!accumulate) std::fill(sums, sums + na * kB * kLanes, T(0));
  for (std::int64_t i = 0; i < rows; ++i)
    for (int f = 0; f < na; ++f)
      for (int t = 0; t < kB; ++t) {
        const T* ar = a[f] + i * a_ld;
        const T* br = b[t] + i * b_ld;
        T* s = sums + (f * kB + t) * kLanes;
        for (std::int64_t q = 0; q < cols; ++q) s[q % kLanes] += ar[q] * br[q];
      }
}

}  // namespace

RowDotKernel<float> srowdot() { return {row_dot<float, 2, 4>, kLanes, 2, 4, "rowdot-generic-2x4"}; }
RowDotKernel<double> drowdot() { return {row_dot<double, 2, 4>, kLanes, 2, 4, "rowdot-generic-2x4"}; }

}  // namespace fastconv::kernels::generic
