// Depthwise row kernels for the baseline target.
#include "kernels/kernels.hpp"

namespace fastconv::kernels::generic {
#include "kernels/rows.inl"

RowKernels<float> srows() { return row_kernels<float>("rows-generic"); }
RowKernels<double> drows() { return row_kernels<double>("rows-generic"); }

}  // namespace fastconv::kernels::generic
