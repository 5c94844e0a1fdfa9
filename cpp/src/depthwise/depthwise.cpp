// Convolution with one input channel per group (depthwise, and single-channel images): each
// output channel reads one input plane, so there is no reduction over channels for a GEMM to
// block. Computed plane by plane, one output row at a time, with the per-ISA row kernels:
//   forward          y[n,k,oh,:]   += w[k,r,s] * x[n,g,ih(oh,r), iw(:,s)]     over (r, s)
//   backward data    dx[n,g,ih,:]  += w[k,r,s] * dy[n,k,oh,:] scattered       over (k in g, r, s)
//   backward weights dw[k,r,s]      = sum over (n, oh) of dot(x row, dy row), in double
// Each output plane (or filter) belongs to one thread and is summed in a fixed order.
#include <algorithm>
#include <vector>

#include "bias.hpp"
#include "cpu/kernel_table.hpp"
#include "impl.hpp"

namespace fastconv {
namespace depthwise {
namespace {

struct Geometry {
  std::int64_t N, C, H, W, K, R, S, P, Q, Kg;
  std::int64_t sh, sw, dh, dw, pt, pl;
  explicit Geometry(const ConvDesc& d)
      : N(d.n), C(d.c), H(d.h), W(d.w), K(d.k), R(d.r), S(d.s), P(d.p()), Q(d.q()), Kg(d.k / d.groups),
        sh(d.stride_h), sw(d.stride_w), dh(d.dilation_h), dw(d.dilation_w), pt(d.pad_top), pl(d.pad_left) {}

  // Output columns [lo, hi) whose tap s lands inside the input row; first input column in *iw0.
  void columns(std::int64_t s, std::int64_t* lo, std::int64_t* hi, std::int64_t* iw0) const {
    const std::int64_t off = s * dw - pl;  // iw = ow * sw + off
    std::int64_t a = off >= 0 ? 0 : (-off + sw - 1) / sw;
    std::int64_t b = W - 1 - off < 0 ? 0 : (W - 1 - off) / sw + 1;
    *lo = std::min(a, Q);
    *hi = std::max(*lo, std::min(b, Q));
    *iw0 = *lo * sw + off;
  }
};

template <typename T>
class DepthwiseConv final : public ConvImpl {
 public:
  DepthwiseConv(const ConvDesc& desc, int threads) : g_(desc), threads_(threads) {}

  std::string name() const override { return std::string("direct/depthwise-") + row_kernels<T>().name; }
  std::size_t workspace_size(Direction) const noexcept override { return 0; }

  void forward(const void* xv, const void* wv, const void* bv, void* yv, void*) const noexcept override {
    const T* x = static_cast<const T*>(xv);
    const T* w = static_cast<const T*>(wv);
    const T* bias = static_cast<const T*>(bv);
    T* y = static_cast<T*>(yv);
    const RowKernels<T>& rk = row_kernels<T>();
    const Geometry& g = g_;
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads_) if (threads_ > 1)
    for (std::int64_t n = 0; n < g.N; ++n)
      for (std::int64_t k = 0; k < g.K; ++k) {
        const T* xp = x + (n * g.C + k / g.Kg) * g.H * g.W;
        const T* wk = w + k * g.R * g.S;
        T* yp = y + (n * g.K + k) * g.P * g.Q;
        std::fill(yp, yp + g.P * g.Q, bias ? bias[k] : T(0));
        for (std::int64_t oh = 0; oh < g.P; ++oh)
          for (std::int64_t r = 0; r < g.R; ++r) {
            const std::int64_t ih = oh * g.sh - g.pt + r * g.dh;
            if (ih < 0 || ih >= g.H) continue;
            for (std::int64_t s = 0; s < g.S; ++s) {
              std::int64_t lo, hi, iw0;
              g.columns(s, &lo, &hi, &iw0);
              rk.axpy(hi - lo, wk[r * g.S + s], xp + ih * g.W + iw0, g.sw, yp + oh * g.Q + lo);
            }
          }
      }
  }

  void backward_data(const void* dyv, const void* wv, void* dxv, void*) const noexcept override {
    const T* dy = static_cast<const T*>(dyv);
    const T* w = static_cast<const T*>(wv);
    T* dx = static_cast<T*>(dxv);
    const RowKernels<T>& rk = row_kernels<T>();
    const Geometry& g = g_;
#pragma omp parallel for collapse(2) schedule(static) num_threads(threads_) if (threads_ > 1)
    for (std::int64_t n = 0; n < g.N; ++n)
      for (std::int64_t c = 0; c < g.C; ++c) {
        T* dxp = dx + (n * g.C + c) * g.H * g.W;
        std::fill(dxp, dxp + g.H * g.W, T(0));
        for (std::int64_t k = c * g.Kg; k < (c + 1) * g.Kg; ++k) {
          const T* dyp = dy + (n * g.K + k) * g.P * g.Q;
          const T* wk = w + k * g.R * g.S;
          for (std::int64_t oh = 0; oh < g.P; ++oh)
            for (std::int64_t r = 0; r < g.R; ++r) {
              const std::int64_t ih = oh * g.sh - g.pt + r * g.dh;
              if (ih < 0 || ih >= g.H) continue;
              for (std::int64_t s = 0; s < g.S; ++s) {
                std::int64_t lo, hi, iw0;
                g.columns(s, &lo, &hi, &iw0);
                rk.axpy_scatter(hi - lo, wk[r * g.S + s], dyp + oh * g.Q + lo, dxp + ih * g.W + iw0, g.sw);
              }
            }
        }
      }
  }

  void backward_weights(const void* xv, const void* dyv, void* dwv, void* dbv, void*) const noexcept override {
    const T* x = static_cast<const T*>(xv);
    const T* dy = static_cast<const T*>(dyv);
    T* dw = static_cast<T*>(dwv);
    const RowKernels<T>& rk = row_kernels<T>();
    const Geometry& g = g_;
#pragma omp parallel for schedule(static) num_threads(threads_) if (threads_ > 1)
    for (std::int64_t k = 0; k < g.K; ++k) {
      std::vector<double> acc(static_cast<std::size_t>(g.R * g.S), 0.0);
      for (std::int64_t n = 0; n < g.N; ++n) {
        const T* xp = x + (n * g.C + k / g.Kg) * g.H * g.W;
        const T* dyp = dy + (n * g.K + k) * g.P * g.Q;
        for (std::int64_t oh = 0; oh < g.P; ++oh)
          for (std::int64_t r = 0; r < g.R; ++r) {
            const std::int64_t ih = oh * g.sh - g.pt + r * g.dh;
            if (ih < 0 || ih >= g.H) continue;
            for (std::int64_t s = 0; s < g.S; ++s) {
              std::int64_t lo, hi, iw0;
              g.columns(s, &lo, &hi, &iw0);
              acc[std::size_t(r * g.S + s)] += rk.dot(hi - lo, xp + ih * g.W + iw0, g.sw, dyp + oh * g.Q + lo);
            }
          }
      }
      for (std::int64_t i = 0; i < g.R * g.S; ++i) dw[k * g.R * g.S + i] = T(acc[std::size_t(i)]);
    }
    if (dbv) bias_gradient(g.N, g.K, g.P * g.Q, dy, static_cast<T*>(dbv), threads_);
  }

 private:
  Geometry g_;
  int threads_;
};

}  // namespace
}  // namespace depthwise

bool depthwise_accepts(const ConvDesc& desc) { return desc.c == desc.groups; }

std::unique_ptr<ConvImpl> make_depthwise(const ConvDesc& desc, int threads) {
  if (desc.dtype == DType::Float32) return std::make_unique<depthwise::DepthwiseConv<float>>(desc, threads);
  return std::make_unique<depthwise::DepthwiseConv<double>>(desc, threads);
}

}  // namespace fastconv
