// Depthwise row kernels compiled with -mavx2 -mfma: the same loops, 8 floats a step.
#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx2 {
#include "kernels/rows.inl"

RowKernels<float> srows() { return row_kernels<float>("rows-avx2"); }
RowKernels<double> drows() { return row_kernels<double>("rows-avx2"); }

}  // namespace fastconv::kernels::avx2
