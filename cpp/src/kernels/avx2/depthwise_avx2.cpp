// AVX2+FMA depthwise plane kernels.
#include <algorithm>

#include "kernels/avx2/vec_avx2.hpp"
#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx2 {
#include "kernels/depthwise_vec.inl"

DepthwiseKernels<float> sdepthwise() { return {forward_plane<float>, weights_plane<float>, "depthwise-avx2"}; }
DepthwiseKernels<double> ddepthwise() { return {forward_plane<double>, weights_plane<double>, "depthwise-avx2"}; }

}  // namespace fastconv::kernels::avx2
