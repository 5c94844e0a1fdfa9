// Depthwise plane kernels for the baseline target.
#include <algorithm>

#include "kernels/kernels.hpp"
#include "prefetch.hpp"

namespace fastconv::kernels::generic {
#include "kernels/depthwise.inl"

DepthwiseKernels<float> sdepthwise() { return {forward_plane<float>, weights_plane<float>, split_rows<float>, "depthwise-generic"}; }
DepthwiseKernels<double> ddepthwise() { return {forward_plane<double>, weights_plane<double>, split_rows<double>, "depthwise-generic"}; }

}  // namespace fastconv::kernels::generic
