// Convolution with one input channel per group, in several groups (depthwise): each
// output channel reads one input plane, so there is no reduction over channels for a GEMM to
// block. Computed plane by plane with the per-ISA plane kernels:
//   forward          y[n,k]  = bias + taps of w[k] over x[n, k's channel]
//   backward data    dx[n,c] = sum over k of c's group: stride 1 as a forward pass of the
//                    flipped kernel over dY, larger strides by scattering dY rows
//   backward weights dw[k]   = sum over images of per-row dot products, in double
// Each output plane (or filter) belongs to one thread and is summed in a fixed order.
#include <algorithm>
#include <vector>

#include "bias.hpp"
#include "cpu/kernel_table.hpp"
#include "impl.hpp"
#include "threads.hpp"

namespace fastconv {
namespace depthwise {
namespace {

// A plane geometry with its per-tap column ranges (DepthwisePlane points into `ranges`).
struct Plane {
  DepthwisePlane g;
  std::vector<std::int64_t> ranges;

  // in_w: input columns, out_w: output columns; tap s reads column ow*sw + s*dw - pl.
  Plane(std::int64_t H, std::int64_t W, std::int64_t P, std::int64_t Q, std::int64_t R, std::int64_t S,
        std::int64_t sh, std::int64_t sw, std::int64_t dh, std::int64_t dw, std::int64_t pt, std::int64_t pl)
      : g{H, W, P, Q, R, S, sh, sw, dh, pt, nullptr, nullptr, nullptr}, ranges(std::size_t(3 * S)) {
    for (std::int64_t s = 0; s < S; ++s) {
      const std::int64_t off = s * dw - pl;  // input column = ow * sw + off
      const std::int64_t first = off >= 0 ? 0 : (-off + sw - 1) / sw;
      const std::int64_t past = W - 1 - off < 0 ? 0 : (W - 1 - off) / sw + 1;
      ranges[std::size_t(s)] = std::min(first, Q);
      ranges[std::size_t(S + s)] = std::max(ranges[std::size_t(s)], std::min(past, Q));
      ranges[std::size_t(2 * S + s)] = off;
    }
    g.lo = ranges.data();
    g.hi = ranges.data() + S;
    g.off = ranges.data() + 2 * S;
  }
  Plane(const Plane&) = delete;
  Plane& operator=(const Plane&) = delete;
};

template <typename T>
class DepthwiseConv final : public ConvImpl {
 public:
  DepthwiseConv(const ConvDesc& d, int threads)
      : N_(d.n), C_(d.c), K_(d.k), Kg_(d.k / d.groups), threads_(threads),
        fwd_(d.h, d.w, d.p(), d.q(), d.r, d.s, d.stride_h, d.stride_w, d.dilation_h, d.dilation_w, d.pad_top,
             d.pad_left),
        // stride 1: dx = dY correlated with the flipped kernel, padded by (extent - 1 - pad)
        flipped_(d.p(), d.q(), d.h, d.w, d.r, d.s, 1, 1, d.dilation_h, d.dilation_w,
                 d.dilation_h * (d.r - 1) - d.pad_top, d.dilation_w * (d.s - 1) - d.pad_left),
        stride1_(d.stride_h == 1 && d.stride_w == 1) {}

  std::string name() const override { return std::string("direct/") + depthwise_kernels<T>().name; }
  std::size_t workspace_size(Direction) const noexcept override { return 0; }

  void forward(const void* xv, const void* wv, const void* bv, void* yv, void*) const noexcept override {
    const T* x = static_cast<const T*>(xv);
    const T* w = static_cast<const T*>(weights(wv));
    const T* bias = static_cast<const T*>(bv);
    T* y = static_cast<T*>(yv);
    const DepthwiseKernels<T>& dk = depthwise_kernels<T>();
    const DepthwisePlane& g = fwd_.g;
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads_) if (threads_ > 1 && !forked_child())
    for (std::int64_t n = 0; n < N_; ++n)
      for (std::int64_t k = 0; k < K_; ++k)
        dk.forward(g, x + (n * C_ + k / Kg_) * g.H * g.W, w + k * g.R * g.S, bias ? bias[k] : T(0), false,
                   y + (n * K_ + k) * g.P * g.Q);
  }

  void backward_data(const void* dyv, const void* wv, void* dxv, void*) const noexcept override {
    const T* dy = static_cast<const T*>(dyv);
    const T* w = static_cast<const T*>(weights(wv));
    T* dx = static_cast<T*>(dxv);
    const DepthwiseKernels<T>& dk = depthwise_kernels<T>();
    const DepthwisePlane& g = fwd_.g;
    const std::int64_t taps = g.R * g.S;
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads_) if (threads_ > 1 && !forked_child())
    for (std::int64_t n = 0; n < N_; ++n)
      for (std::int64_t c = 0; c < C_; ++c) {
        T* dxp = dx + (n * C_ + c) * g.H * g.W;
        if (!stride1_) std::fill(dxp, dxp + g.H * g.W, T(0));
        for (std::int64_t k = c * Kg_; k < (c + 1) * Kg_; ++k) {
          const T* dyp = dy + (n * K_ + k) * g.P * g.Q;
          if (!stride1_) {
            dk.scatter(g, dyp, w + k * taps, dxp);
            continue;
          }
          T flipped[kMaxFlipped];  // w[k] rotated by 180 degrees
          for (std::int64_t i = 0; i < taps; ++i) flipped[i] = w[k * taps + taps - 1 - i];
          dk.forward(flipped_.g, dyp, flipped, T(0), k > c * Kg_, dxp);
        }
      }
  }

  void backward_weights(const void* xv, const void* dyv, void* dwv, void* dbv, void*) const noexcept override {
    const T* x = static_cast<const T*>(xv);
    const T* dy = static_cast<const T*>(dyv);
    T* dw = static_cast<T*>(dwv);
    const DepthwiseKernels<T>& dk = depthwise_kernels<T>();
    const DepthwisePlane& g = fwd_.g;
    const std::int64_t taps = g.R * g.S;
#pragma omp parallel for schedule(static) num_threads(threads_) if (threads_ > 1 && !forked_child())
    for (std::int64_t k = 0; k < K_; ++k) {
      std::vector<double> acc(static_cast<std::size_t>(taps), 0.0);
      for (std::int64_t n = 0; n < N_; ++n)
        dk.weights(g, x + (n * C_ + k / Kg_) * g.H * g.W, dy + (n * K_ + k) * g.P * g.Q, acc.data());
      for (std::int64_t i = 0; i < taps; ++i) dw[k * taps + i] = T(acc[std::size_t(i)]);
    }
    if (dbv) bias_gradient(N_, K_, g.P * g.Q, dy, static_cast<T*>(dbv), threads_);
  }

  // Stride-1 backward data keeps a rotated copy of one filter on the stack.
  static constexpr std::int64_t kMaxFlipped = 1024;

 private:
  std::int64_t N_, C_, K_, Kg_;
  int threads_;
  Plane fwd_, flipped_;
  bool stride1_;
};

}  // namespace
}  // namespace depthwise

bool depthwise_accepts(const ConvDesc& desc) {
  return desc.c == desc.groups && desc.groups > 1 && desc.input_layout == Layout::NCHW &&
         desc.r * desc.s <= depthwise::DepthwiseConv<float>::kMaxFlipped;
}

std::unique_ptr<ConvImpl> make_depthwise(const ConvDesc& desc, int threads) {
  if (desc.dtype == DType::Float32) return std::make_unique<depthwise::DepthwiseConv<float>>(desc, threads);
  return std::make_unique<depthwise::DepthwiseConv<double>>(desc, threads);
}

}  // namespace fastconv
