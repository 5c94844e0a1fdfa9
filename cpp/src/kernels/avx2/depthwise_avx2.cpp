// Depthwise plane kernels compiled with -mavx2 -mfma: the same loops, 8 floats a step.
#include <algorithm>

#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx2 {
#include "kernels/depthwise.inl"

DepthwiseKernels<float> sdepthwise() { return depthwise_kernels<float>("depthwise-avx2"); }
DepthwiseKernels<double> ddepthwise() { return depthwise_kernels<double>("depthwise-avx2"); }

}  // namespace fastconv::kernels::avx2
