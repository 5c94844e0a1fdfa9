// AVX-512 depthwise plane kernels: the shared ones on zmm registers.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels/avx512/vec_avx512.hpp"
#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx512 {
#include "kernels/depthwise_vec.inl"

// The row split is AVX2's: it moves data at the memory's pace, not the registers'.
DepthwiseKernels<float> sdepthwise() {
  return {forward_plane<float>, weights_plane<float>, kernels::avx2::sdepthwise().split, "depthwise-avx512", 6 * Vec<float>::width};
}
DepthwiseKernels<double> ddepthwise() {
  return {forward_plane<double>, weights_plane<double>, kernels::avx2::ddepthwise().split, "depthwise-avx512", 6 * Vec<double>::width};
}

}  // namespace fastconv::kernels::avx512
