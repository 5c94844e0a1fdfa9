// Winograd for dilated 3x3 convolution: with dilation d, output rows a, a + d, a + 2d, ... read
// only input rows of one phase (index mod d), so a dilated convolution is d_h * d_w undilated
// ones, one per phase, which run as one batch through Winograd. The phases are copied out of
// the interleaved planes and back; that needs every phase the same size and padding, so the
// plane sizes and paddings must divide by the dilation (the usual 'same' layers do).
#include <type_traits>

#include "impl.hpp"
#include "padded.hpp"
#include "threads.hpp"

namespace fastconv {
namespace {

// The undilated problem on the phases: images (n, a, b) for phase (a, b).
ConvDesc phase_desc(const ConvDesc& d) {
  ConvDesc p = d;
  p.n = d.n * d.dilation_h * d.dilation_w;
  p.h = d.h / d.dilation_h, p.w = d.w / d.dilation_w;
  p.pad_top /= d.dilation_h, p.pad_bottom /= d.dilation_h;
  p.pad_left /= d.dilation_w, p.pad_right /= d.dilation_w;
  p.dilation_h = p.dilation_w = 1;
  p.input_layout = Layout::NCHW;  // the phases are copied out as NCHW planes
  return p;
}

template <typename T>
class PhaseSplit final : public ConvImpl {
 public:
  PhaseSplit(const ConvDesc& desc, int threads, int tile)
      : d_(desc), threads_(threads), inner_(make_winograd(phase_desc(desc), threads, tile)) {}

  std::string name() const override { return inner_->name() + "+phases"; }

  std::size_t workspace_size(Direction d) const noexcept override {
    return std::size_t(d_.input_size() + d_.output_size()) * sizeof(T) + inner_->workspace_size(d) + kWorkspaceAlign;
  }

  void forward(const void* x, const void* w, const void* bias, void* y, void* ws) const noexcept override {
    T* xp = static_cast<T*>(align_workspace(ws));
    T* yp = xp + d_.input_size();
    copy(static_cast<const T*>(x), d_.c, d_.h, d_.w, xp, true, channels_last());
    inner_->forward(xp, w, bias, yp, yp + d_.output_size());
    copy(static_cast<T*>(y), d_.k, d_.p(), d_.q(), yp, false);
  }

  void backward_data(const void* dy, const void* w, void* dx, void* ws) const noexcept override {
    T* dxp = static_cast<T*>(align_workspace(ws));
    T* dyp = dxp + d_.input_size();
    copy(static_cast<const T*>(dy), d_.k, d_.p(), d_.q(), dyp, true);
    inner_->backward_data(dyp, w, dxp, dyp + d_.output_size());
    copy(static_cast<T*>(dx), d_.c, d_.h, d_.w, dxp, false);
  }

  void backward_weights(const void* x, const void* dy, void* dw, void* db, void* ws) const noexcept override {
    T* xp = static_cast<T*>(align_workspace(ws));
    T* dyp = xp + d_.input_size();
    copy(static_cast<const T*>(x), d_.c, d_.h, d_.w, xp, true, channels_last());
    copy(static_cast<const T*>(dy), d_.k, d_.p(), d_.q(), dyp, true);
    inner_->backward_weights(xp, dyp, dw, db, dyp + d_.output_size());
  }

  void prepare_weights(const void* w, std::size_t bytes) override {
    ConvImpl::prepare_weights(w, bytes);
    inner_->prepare_weights(w, bytes);
  }

 private:
  // Between N x channels planes of rows x cols, interleaved (NCHW, or with nhwc channels-last),
  // and their phases: phase (a, b) of image n is image (n * dh + a) * dw + b of `phased`, element
  // (i, j) at (i * dh + a, j * dw + b).
  template <typename Full>
  void copy(Full* full, std::int64_t channels, std::int64_t rows, std::int64_t cols, T* phased, bool to_phases,
            bool nhwc = false) const noexcept {
    const std::int64_t dh = d_.dilation_h, dw = d_.dilation_w, pr = rows / dh, pc = cols / dw;
    const std::int64_t tasks = d_.n * dh * dw * channels;  // (image, a, b, channel)
#pragma omp parallel for schedule(static) num_threads(threads_) if (threads_ > 1 && !forked_child() && tasks > 1)
    for (std::int64_t t = 0; t < tasks; ++t) {
      const std::int64_t c = t % channels, b = t / channels % dw, a = t / (channels * dw) % dh, n = t / (channels * dw * dh);
      T* ph = phased + t * pr * pc;
      const std::int64_t step = nhwc ? channels : 1;  // between a row's elements
      Full* plane = channel_start(full, n, c, channels, rows * cols, step) + (a * cols + b) * step;
      for (std::int64_t i = 0; i < pr; ++i) {
        Full* row = plane + i * dh * cols * step;
        if (to_phases) {
          for (std::int64_t j = 0; j < pc; ++j) ph[i * pc + j] = row[j * dw * step];
        } else if constexpr (!std::is_const_v<Full>) {
          for (std::int64_t j = 0; j < pc; ++j) row[j * dw] = ph[i * pc + j];
        }
      }
    }
  }

  bool channels_last() const noexcept { return d_.input_layout == Layout::NHWC; }

  ConvDesc d_;
  int threads_;
  std::unique_ptr<ConvImpl> inner_;
};

}  // namespace

bool phases_divide(const ConvDesc& d) {
  return d.h % d.dilation_h == 0 && d.w % d.dilation_w == 0 && d.pad_top % d.dilation_h == 0 &&
         d.pad_bottom % d.dilation_h == 0 && d.pad_left % d.dilation_w == 0 && d.pad_right % d.dilation_w == 0;
}

std::unique_ptr<ConvImpl> make_winograd_phases(const ConvDesc& desc, int threads, int tile) {
  if (desc.dtype == DType::Float32) return std::make_unique<PhaseSplit<float>>(desc, threads, tile);
  return std::make_unique<PhaseSplit<double>>(desc, threads, tile);
}

}  // namespace fastconv
