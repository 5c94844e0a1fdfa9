// AVX2 row dot products: 3 x 4 sums, three a vectors and one b (all 16 ymm registers).
// Built with -mavx2 -mfma.
#include "kernels/avx2/vec_avx2.hpp"
#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx2 {
#include "kernels/row_dot.inl"

RowDotKernel<float> srowdot() { return {row_dot<Vec<float>, 3, 4, float>, Vec<float>::width, 3, 4, "rowdot-avx2-3x4"}; }
RowDotKernel<double> drowdot() {
  return {row_dot<Vec<double>, 3, 4, double>, Vec<double>::width, 3, 4, "rowdot-avx2-3x4"};
}

}  // namespace fastconv::kernels::avx2
