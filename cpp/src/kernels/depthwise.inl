// Plane kernels of the depthwise path in plain loops, for the baseline target: every tap reads
// consecutive elements of the padded source, so the row loops vectorise at the baseline width.
// The including file provides <algorithm> and the kernel table types before its namespace.

namespace {

template <typename T>
void forward_plane(const DepthwisePlane& g, const T* __restrict src, const T* __restrict w, T bias, bool accumulate,
                   T* __restrict y) noexcept {
  for (std::int64_t oh = 0; oh < g.P; ++oh) {
    T* __restrict yr = y + oh * g.Q;
    if (!accumulate) std::fill(yr, yr + g.Q, bias);
    for (std::int64_t r = 0; r < g.R; ++r) {
      const T* row = src + (oh * g.sh + r * g.dh) * g.ld;
      for (std::int64_t s = 0; s < g.S; ++s) {
        const T ws = w[r * g.S + s];
        const T* __restrict xs = row + g.tap[s];
        for (std::int64_t ow = 0; ow < g.Q; ++ow) yr[ow] += ws * xs[ow];
      }
    }
  }
}

// Each row's dot product in eight fixed partial sums.
template <typename T>
void weights_plane(const DepthwisePlane& g, const T* __restrict src, const T* __restrict dy, double* acc) noexcept {
  for (std::int64_t oh = 0; oh < g.P; ++oh) {
    const T* __restrict dyr = dy + oh * g.Q;
    for (std::int64_t r = 0; r < g.R; ++r) {
      const T* row = src + (oh * g.sh + r * g.dh) * g.ld;
      for (std::int64_t s = 0; s < g.S; ++s) {
        const T* __restrict xs = row + g.tap[s];
        T part[8] = {};
        std::int64_t ow = 0;
        for (; ow + 8 <= g.Q; ow += 8)
          for (int j = 0; j < 8; ++j) part[j] += xs[ow + j] * dyr[ow + j];
        for (; ow < g.Q; ++ow) part[0] += xs[ow] * dyr[ow];
        acc[r * g.S + s] += double(((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7])));
      }
    }
  }
}

template <typename T>
void split_rows(const T* __restrict src, std::int64_t src_ld, std::int64_t rows, std::int64_t pairs,
                T* __restrict even, T* __restrict odd, std::int64_t ld) noexcept {
  for (std::int64_t i = 0; i < rows; ++i, src += src_ld, even += ld, odd += ld) {
    prefetch_range<2>(src + rows * src_ld, std::size_t(2 * pairs) * sizeof(T));
    for (std::int64_t k = 0; k < pairs; ++k) even[k] = src[2 * k], odd[k] = src[2 * k + 1];
  }
}

}  // namespace
