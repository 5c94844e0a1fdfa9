// Plane kernels of the depthwise path, written once and compiled once per ISA
// (kernels/<isa>/depthwise_<isa>.cpp include this file inside their own namespace). Inlined row
// loops over restrict pointers let the compiler vectorise them at that ISA's width.
// The including file provides <algorithm> and the kernel table types before its namespace.

namespace {

// y plane (P x Q) = bias, or y += ..., plus sum over taps of w[r,s] * x[oh*sh - pt + r*dh, ow*sw + off[s]]
template <typename T>
void forward_plane(const DepthwisePlane& g, const T* __restrict x, const T* __restrict w, T bias, bool accumulate,
                   T* __restrict y) noexcept {
  for (std::int64_t oh = 0; oh < g.P; ++oh) {
    T* __restrict yr = y + oh * g.Q;
    if (!accumulate) std::fill(yr, yr + g.Q, bias);
    for (std::int64_t r = 0; r < g.R; ++r) {
      const std::int64_t ih = oh * g.sh - g.pt + r * g.dh;
      if (ih < 0 || ih >= g.H) continue;
      const T* __restrict xr = x + ih * g.W;
      for (std::int64_t s = 0; s < g.S; ++s) {
        const T ws = w[r * g.S + s];
        const std::int64_t lo = g.lo[s], hi = g.hi[s], off = g.off[s];
        if (g.sw == 1) {
          for (std::int64_t ow = lo; ow < hi; ++ow) yr[ow] += ws * xr[ow + off];
        } else {
          for (std::int64_t ow = lo; ow < hi; ++ow) yr[ow] += ws * xr[ow * g.sw + off];
        }
      }
    }
  }
}

// dx plane (H x W) += w[r,s] * dy[oh, ow] at (oh*sh - pt + r*dh, ow*sw + off[s]): the transpose
// of forward_plane, for strides above 1 (stride 1 runs forward_plane on a flipped kernel).
template <typename T>
void scatter_plane(const DepthwisePlane& g, const T* __restrict dy, const T* __restrict w, T* __restrict dx) noexcept {
  for (std::int64_t oh = 0; oh < g.P; ++oh) {
    const T* __restrict dyr = dy + oh * g.Q;
    for (std::int64_t r = 0; r < g.R; ++r) {
      const std::int64_t ih = oh * g.sh - g.pt + r * g.dh;
      if (ih < 0 || ih >= g.H) continue;
      T* __restrict dxr = dx + ih * g.W;
      for (std::int64_t s = 0; s < g.S; ++s) {
        const T ws = w[r * g.S + s];
        for (std::int64_t ow = g.lo[s]; ow < g.hi[s]; ++ow) dxr[ow * g.sw + g.off[s]] += ws * dyr[ow];
      }
    }
  }
}

// acc[r*S + s] += sum over (oh, ow) of x[oh*sh - pt + r*dh, ow*sw + off[s]] * dy[oh, ow], each
// row's dot product in eight fixed partial sums, rows added in order in double.
template <typename T>
void weights_plane(const DepthwisePlane& g, const T* __restrict x, const T* __restrict dy, double* acc) noexcept {
  for (std::int64_t oh = 0; oh < g.P; ++oh) {
    const T* __restrict dyr = dy + oh * g.Q;
    for (std::int64_t r = 0; r < g.R; ++r) {
      const std::int64_t ih = oh * g.sh - g.pt + r * g.dh;
      if (ih < 0 || ih >= g.H) continue;
      const T* __restrict xr = x + ih * g.W;
      for (std::int64_t s = 0; s < g.S; ++s) {
        const std::int64_t lo = g.lo[s], hi = g.hi[s], off = g.off[s];
        T part[8] = {};
        std::int64_t ow = lo;
        if (g.sw == 1) {
          for (; ow + 8 <= hi; ow += 8)
            for (int j = 0; j < 8; ++j) part[j] += xr[ow + j + off] * dyr[ow + j];
        } else {
          for (; ow + 8 <= hi; ow += 8)
            for (int j = 0; j < 8; ++j) part[j] += xr[(ow + j) * g.sw + off] * dyr[ow + j];
        }
        for (; ow < hi; ++ow) part[0] += xr[ow * g.sw + off] * dyr[ow];
        acc[r * g.S + s] += double(((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7])));
      }
    }
  }
}

template <typename T>
DepthwiseKernels<T> depthwise_kernels(const char* name) {
  return {forward_plane<T>, scatter_plane<T>, weights_plane<T>, name};
}

}  // namespace
