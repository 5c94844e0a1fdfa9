// Depthwise plane kernels for the baseline target.
#include <algorithm>

#include "kernels/kernels.hpp"

namespace fastconv::kernels::generic {
#include "kernels/depthwise.inl"

DepthwiseKernels<float> sdepthwise() { return depthwise_kernels<float>("depthwise-generic"); }
DepthwiseKernels<double> ddepthwise() { return depthwise_kernels<double>("depthwise-generic"); }

}  // namespace fastconv::kernels::generic
