// The channel-block kernels (DepthwiseKernels::block and block_weights) in plain loops over the 8
// lanes of a pixel, which vectorise at the baseline width (two SSE or NEON vectors of floats); 4
// output pixels at a time, whose sums fill 8 of SSE's 16 registers. The including file provides
// <algorithm> and the kernel table types before its namespace.

namespace {

constexpr int kBlockLanes = 8, kBlockPixels = 4;

// Only the columns some output reads (the weight gradient multiplies the others by zero, which
// must not meet x's infinities); lanes past count repeat the last channel.
template <typename T>
void to_block_loops(const DepthwiseBlock& g, const T* x, std::int64_t x_plane, int count, T* work,
                    bool clear) noexcept {
  constexpr int L = kBlockLanes;
  if (clear) std::fill(work, work + g.hp * g.wp * L, T(0));  // the padding, never written after
  const std::int64_t rows = std::min(g.H, g.hp - g.pt);
  const std::int64_t cols = std::min(g.W, (g.Q - 1) * g.sw + (g.S - 1) * g.dw + 1 - g.pl);
  for (int l = 0; l < L; ++l) {
    const T* plane = x + std::min(l, count - 1) * x_plane;
    for (std::int64_t i = 0; i < rows; ++i) {
      T* out = work + ((i + g.pt) * g.wp + g.pl) * L + l;
      for (std::int64_t j = 0; j < cols; ++j) out[j * L] = plane[(i * g.W + j) * g.step];
    }
  }
}

template <typename T>
void block_loops(const DepthwiseBlock& g, const T* x, std::int64_t x_plane, int count, const T* w, const T* bias,
                 T* y, std::int64_t y_plane, T* work, bool clear) noexcept {
  constexpr int L = kBlockLanes, N = kBlockPixels;
  const std::int64_t step = g.sw * L;
  T wb[kMaxBlockTaps * L], b[L];
  block_lane_weights<L>(w, bias, g.R * g.S, count, wb, b);
  to_block_loops(g, x, x_plane, count, work, clear);
  for (std::int64_t oh = 0; oh < g.P; ++oh)
    for (std::int64_t ow = 0; ow < g.Q; ow += N) {
      T acc[N][L];
      for (int t = 0; t < N; ++t)
        for (int l = 0; l < L; ++l) acc[t][l] = b[l];
      for (std::int64_t r = 0; r < g.R; ++r)
        for (std::int64_t s = 0; s < g.S; ++s) {
          const T* __restrict src = work + ((oh * g.sh + r * g.dh) * g.wp + ow * g.sw + s * g.dw) * L;
          const T* __restrict wv = wb + (r * g.S + s) * L;
          for (int t = 0; t < N; ++t)
            for (int l = 0; l < L; ++l) acc[t][l] += wv[l] * src[t * step + l];
        }
      const int n = int(std::min<std::int64_t>(N, g.Q - ow));
      for (int l = 0; l < count; ++l)
        for (int t = 0; t < n; ++t) y[l * y_plane + oh * g.Q + ow + t] = acc[t][l];
    }
}

// Each output row's sums over its pixels in order, added in double.
template <typename T>
void block_weights_loops(const DepthwiseBlock& g, const T* x, std::int64_t x_plane, int count, const T* dy,
                         std::int64_t dy_plane, double* acc, T* work, bool clear) noexcept {
  constexpr int L = kBlockLanes, N = kBlockPixels;
  const std::int64_t taps = g.R * g.S, step = g.sw * L;
  to_block_loops(g, x, x_plane, count, work, clear);
  T sums[kMaxBlockTaps * L];
  for (std::int64_t oh = 0; oh < g.P; ++oh) {
    std::fill(sums, sums + taps * L, T(0));
    for (std::int64_t ow = 0; ow < g.Q; ow += N) {
      const int n = int(std::min<std::int64_t>(N, g.Q - ow));
      T d[N][L] = {};  // zero past the row's end and the last channel
      for (int l = 0; l < count; ++l)
        for (int t = 0; t < n; ++t) d[t][l] = dy[l * dy_plane + oh * g.Q + ow + t];
      for (std::int64_t r = 0; r < g.R; ++r)
        for (std::int64_t s = 0; s < g.S; ++s) {
          const T* __restrict src = work + ((oh * g.sh + r * g.dh) * g.wp + ow * g.sw + s * g.dw) * L;
          T* __restrict sum = sums + (r * g.S + s) * L;
          for (int t = 0; t < N; ++t)
            for (int l = 0; l < L; ++l) sum[l] += src[t * step + l] * d[t][l];
        }
    }
    for (int l = 0; l < count; ++l)
      for (std::int64_t t = 0; t < taps; ++t) acc[l * taps + t] += double(sums[t * L + l]);
  }
}

}  // namespace
