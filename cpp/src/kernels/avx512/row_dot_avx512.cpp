// AVX-512 row dot products: 4 x 6 sums (24 of the 32 registers), four a vectors and one b; on
// zmm registers, and on ymm ones (HalfVec) for rows that fill those better (LeNet's 24-wide rows
// are three ymm registers but one and a half zmm). Built with the AVX-512 flags.
#include "kernels/avx512/vec_avx512.hpp"
#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx512 {
#include "kernels/row_dot.inl"

template <typename T>
RowDotKernel<T> row_dot_kernel() {
  RowDotKernel<T> k{row_dot<Vec<T>, 4, 6, T>, Vec<T>::width, 4, 6, "rowdot-avx512-4x6"};
  k.run_narrow = row_dot<HalfVec<T>, 4, 6, T>, k.narrow_lanes = HalfVec<T>::width, k.narrow_name = "rowdot-avx512-ymm-4x6";
  return k;
}

RowDotKernel<float> srowdot() { return row_dot_kernel<float>(); }
RowDotKernel<double> drowdot() { return row_dot_kernel<double>(); }

}  // namespace fastconv::kernels::avx512
