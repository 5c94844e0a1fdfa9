// Depthwise plane kernels for the baseline target.
#include <algorithm>

#include "kernels/kernels.hpp"
#include "prefetch.hpp"

namespace fastconv::kernels::generic {
#include "kernels/depthwise.inl"
#include "kernels/depthwise_block.inl"

template <typename T>
DepthwiseKernels<T> kernels() {
  return {forward_plane<T>, weights_plane<T>, split_rows<T>, "depthwise-generic", 0, block_loops<T>,
          block_weights_loops<T>, kBlockLanes};
}

DepthwiseKernels<float> sdepthwise() { return kernels<float>(); }
DepthwiseKernels<double> ddepthwise() { return kernels<double>(); }

}  // namespace fastconv::kernels::generic
