// AVX-512 row dot products: 4 x 6 sums (24 of the 32 zmm registers), four a vectors and one b.
// Built with the AVX-512 flags.
#include "kernels/avx512/vec_avx512.hpp"
#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx512 {
#include "kernels/row_dot.inl"

RowDotKernel<float> srowdot() { return {row_dot<float, 4, 6>, Vec<float>::width, 4, 6, "rowdot-avx512-4x6"}; }
RowDotKernel<double> drowdot() { return {row_dot<double, 4, 6>, Vec<double>::width, 4, 6, "rowdot-avx512-4x6"}; }

}  // namespace fastconv::kernels::avx512
