// The scalar reference: the definition of convolution written as loops, accumulating in
// double. Slow on purpose; tests use it as the oracle for every other algorithm.
#include "impl.hpp"
#include "threads.hpp"

namespace fastconv {
namespace ref {
namespace {

template <typename T>
class ReferenceConv final : public ConvImpl {
 public:
  ReferenceConv(const ConvDesc& d, int threads) : d_(d), threads_(threads) {}

  // Element offset of x[n, c, h, w] in the descriptor's input layout.
  std::int64_t xi(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) const {
    if (d_.input_layout == Layout::NHWC) return ((n * d_.h + h) * d_.w + w) * d_.c + c;
    return ((n * d_.c + c) * d_.h + h) * d_.w + w;
  }

  std::string name() const override { return "reference/scalar-double-accumulation"; }
  std::size_t workspace_size(Direction) const noexcept override { return 0; }

  // y[n,k,oh,ow] = bias[k] + sum_{c,r,s} x[n, g*Cg+c, oh*sh-pt+r*dh, ow*sw-pl+s*dw] * w[k,c,r,s]
  void forward(const void* xv, const void* wv, const void* bv, void* yv, void*) const noexcept override {
    const T* x = static_cast<const T*>(xv);
    const T* w = static_cast<const T*>(weights(wv));
    const T* bias = static_cast<const T*>(bv);
    T* y = static_cast<T*>(yv);
    const std::int64_t P = d_.p(), Q = d_.q(), Cg = d_.c / d_.groups, Kg = d_.k / d_.groups;
#pragma omp parallel for collapse(2) num_threads(threads_) if (threads_ > 1 && !forked_child())
    for (std::int64_t n = 0; n < d_.n; ++n)
      for (std::int64_t k = 0; k < d_.k; ++k) {
        const std::int64_t g = k / Kg;
        for (std::int64_t oh = 0; oh < P; ++oh)
          for (std::int64_t ow = 0; ow < Q; ++ow) {
            double sum = bias ? double(bias[k]) : 0.0;
            for (std::int64_t c = 0; c < Cg; ++c)
              for (std::int64_t r = 0; r < d_.r; ++r)
                for (std::int64_t s = 0; s < d_.s; ++s) {
                  const std::int64_t ih = oh * d_.stride_h - d_.pad_top + r * d_.dilation_h;
                  const std::int64_t iw = ow * d_.stride_w - d_.pad_left + s * d_.dilation_w;
                  if (ih < 0 || ih >= d_.h || iw < 0 || iw >= d_.w) continue;
                  sum += double(x[xi(n, g * Cg + c, ih, iw)]) * double(w[((k * Cg + c) * d_.r + r) * d_.s + s]);
                }
            y[((n * d_.k + k) * P + oh) * Q + ow] = T(sum);
          }
      }
  }

  // dx[n,c,ih,iw] = sum over (k, r, s) whose output position (oh, ow) lands on (ih, iw)
  void backward_data(const void* dyv, const void* wv, void* dxv, void*) const noexcept override {
    const T* dy = static_cast<const T*>(dyv);
    const T* w = static_cast<const T*>(weights(wv));
    T* dx = static_cast<T*>(dxv);
    const std::int64_t P = d_.p(), Q = d_.q(), Cg = d_.c / d_.groups, Kg = d_.k / d_.groups;
#pragma omp parallel for collapse(2) num_threads(threads_) if (threads_ > 1 && !forked_child())
    for (std::int64_t n = 0; n < d_.n; ++n)
      for (std::int64_t c = 0; c < d_.c; ++c) {
        const std::int64_t g = c / Cg;
        for (std::int64_t ih = 0; ih < d_.h; ++ih)
          for (std::int64_t iw = 0; iw < d_.w; ++iw) {
            double sum = 0.0;
            for (std::int64_t k = g * Kg; k < (g + 1) * Kg; ++k)
              for (std::int64_t r = 0; r < d_.r; ++r)
                for (std::int64_t s = 0; s < d_.s; ++s) {
                  const std::int64_t th = ih + d_.pad_top - r * d_.dilation_h;
                  const std::int64_t tw = iw + d_.pad_left - s * d_.dilation_w;
                  if (th < 0 || tw < 0 || th % d_.stride_h || tw % d_.stride_w) continue;
                  const std::int64_t oh = th / d_.stride_h, ow = tw / d_.stride_w;
                  if (oh >= P || ow >= Q) continue;
                  sum += double(dy[((n * d_.k + k) * P + oh) * Q + ow]) *
                         double(w[((k * Cg + (c - g * Cg)) * d_.r + r) * d_.s + s]);
                }
            dx[((n * d_.c + c) * d_.h + ih) * d_.w + iw] = T(sum);
          }
      }
  }

  // dw[k,c,r,s] = sum_{n,oh,ow} dy[n,k,oh,ow] * x[n, g*Cg+c, ih, iw];  db[k] = sum dy[n,k,:,:]
  void backward_weights(const void* xv, const void* dyv, void* dwv, void* dbv, void*) const noexcept override {
    const T* x = static_cast<const T*>(xv);
    const T* dy = static_cast<const T*>(dyv);
    T* dw = static_cast<T*>(dwv);
    T* db = static_cast<T*>(dbv);
    const std::int64_t P = d_.p(), Q = d_.q(), Cg = d_.c / d_.groups, Kg = d_.k / d_.groups;
#pragma omp parallel for collapse(2) num_threads(threads_) if (threads_ > 1 && !forked_child())
    for (std::int64_t k = 0; k < d_.k; ++k)
      for (std::int64_t c = 0; c < Cg; ++c) {
        const std::int64_t g = k / Kg;
        for (std::int64_t r = 0; r < d_.r; ++r)
          for (std::int64_t s = 0; s < d_.s; ++s) {
            double sum = 0.0;
            for (std::int64_t n = 0; n < d_.n; ++n)
              for (std::int64_t oh = 0; oh < P; ++oh)
                for (std::int64_t ow = 0; ow < Q; ++ow) {
                  const std::int64_t ih = oh * d_.stride_h - d_.pad_top + r * d_.dilation_h;
                  const std::int64_t iw = ow * d_.stride_w - d_.pad_left + s * d_.dilation_w;
                  if (ih < 0 || ih >= d_.h || iw < 0 || iw >= d_.w) continue;
                  sum += double(dy[((n * d_.k + k) * P + oh) * Q + ow]) * double(x[xi(n, g * Cg + c, ih, iw)]);
                }
            dw[((k * Cg + c) * d_.r + r) * d_.s + s] = T(sum);
          }
      }
    if (!db) return;
    for (std::int64_t k = 0; k < d_.k; ++k) {
      double sum = 0.0;
      for (std::int64_t n = 0; n < d_.n; ++n)
        for (std::int64_t i = 0; i < P * Q; ++i) sum += double(dy[(n * d_.k + k) * P * Q + i]);
      db[k] = T(sum);
    }
  }

 private:
  ConvDesc d_;
  int threads_;
};

}  // namespace
}  // namespace ref

std::unique_ptr<ConvImpl> make_reference(const ConvDesc& desc, int threads) {
  if (desc.dtype == DType::Float32) return std::make_unique<ref::ReferenceConv<float>>(desc, threads);
  return std::make_unique<ref::ReferenceConv<double>>(desc, threads);
}

}  // namespace fastconv
