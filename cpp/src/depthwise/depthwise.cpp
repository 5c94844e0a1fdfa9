// Convolution with one input channel per group, in several groups (depthwise): each
// output channel reads one input plane, so there is no reduction over channels for a GEMM to
// block. Each source plane is first copied, a strip of rows at a time, into a zero-padded buffer
// whose columns are split into stride phases; the per-ISA plane kernels then read every tap
// as consecutive elements, with no edge cases:
//   forward          y[n,k]  = bias + taps of w[k] over x[n, k's channel]
//   backward data    dx[n,c] = sum over k of c's group: a stride-1 forward pass of the flipped
//                    kernel over dY with stride - 1 zeros inserted between its elements
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

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// How a source plane (src_h x src_w, `ins` apart, the first at padded (pad_t, pad_l)) is read
// by an output of P x Q with stride (sh, sw), dilation (dh, dw) and an R x S kernel.
// Either the output stride or the source spacing is 1 along each axis.
class Source {
 public:
  Source(std::int64_t src_h, std::int64_t src_w, std::int64_t ins_h, std::int64_t ins_w, std::int64_t pad_t,
         std::int64_t pad_l, std::int64_t P, std::int64_t Q, std::int64_t R, std::int64_t S, std::int64_t sh,
         std::int64_t sw, std::int64_t dh, std::int64_t dw, std::size_t elem)
      : src_h_(src_h), src_w_(src_w), ins_h_(ins_h), ins_w_(ins_w), pad_t_(pad_t), pad_l_(pad_l), sw_(sw),
        phase_w_(Q + (S - 1) * dw / sw), tap_(std::size_t(S)) {
    for (std::int64_t s = 0; s < S; ++s) tap_[std::size_t(s)] = (s * dw) % sw * phase_w_ + s * dw / sw;
    if (ins_w > 1) {
      lo_.push_back(std::max<std::int64_t>(0, floor_div(ins_w - 1 - pad_l, ins_w)));
      hi_.push_back(std::min(src_w, floor_div(phase_w_ - 1 - pad_l, ins_w) + 1));
    } else {
      for (std::int64_t p = 0; p < sw; ++p) {
        lo_.push_back(std::clamp<std::int64_t>(floor_div(pad_l - p + sw - 1, sw), 0, phase_w_));
        hi_.push_back(std::clamp<std::int64_t>(floor_div(src_w - 1 + pad_l - p, sw) + 1, lo_.back(), phase_w_));
      }
    }
    g_ = {P, Q, R, S, sh, dh, sw * phase_w_, tap_.data()};
    // Strips of output rows whose buffer stays within about L2's share of a core.
    const std::int64_t budget = std::int64_t(256 * 1024 / elem) / g_.ld;
    strip_ = std::clamp<std::int64_t>((budget - (R - 1) * dh - 1) / sh + 1, 1, P);
  }
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;

  std::int64_t strip() const noexcept { return strip_; }
  std::int64_t buffer_elems() const noexcept { return rows(strip_) * g_.ld; }

  // The plane geometry of output rows [oh0, oh0 + count).
  DepthwisePlane strip_plane(std::int64_t count) const noexcept {
    DepthwisePlane g = g_;
    g.P = count;
    return g;
  }

  // Zeroes a buffer once, before its first fill: the padding columns, and the gaps between
  // spaced source columns, stay zero through every fill.
  template <typename T>
  void clear(T* buf) const noexcept {
    std::fill(buf, buf + buffer_elems(), T(0));
  }

  // The buffer rows that output rows [oh0, oh0 + count) read, into a cleared buffer.
  template <typename T>
  void fill(const T* src, std::int64_t oh0, std::int64_t count, T* buf) const noexcept {
    const std::int64_t sw = sw_, ins_w = ins_w_, pad_l = pad_l_, width = phase_w_;
    for (std::int64_t i = 0; i < rows(count); ++i) {
      T* out = buf + i * g_.ld;
      const std::int64_t a = oh0 * g_.sh + i - pad_t_;
      if (a < 0 || (ins_h_ > 1 && a % ins_h_ != 0) || a >= src_h_ * ins_h_) {
        std::fill(out, out + g_.ld, T(0));
        continue;
      }
      const T* in = src + (ins_h_ > 1 ? a / ins_h_ : a) * src_w_;
      if (ins_w > 1) {  // one phase; source column b lands at b*ins + pad_l
        for (std::int64_t b = lo_[0]; b < hi_[0]; ++b) out[b * ins_w + pad_l] = in[b];
        continue;
      }
      for (std::int64_t p = 0; p < sw; ++p) {  // phase p, column j holds padded column j*sw + p
        T* o = out + p * width;
        const std::int64_t lo = lo_[std::size_t(p)], hi = hi_[std::size_t(p)];
        if (sw == 1) {
          std::copy(in + lo - pad_l, in + hi - pad_l, o + lo);
        } else if (sw == 2) {  // a constant stride, which the compiler vectorises
          for (std::int64_t j = lo; j < hi; ++j) o[j] = in[2 * j + p - pad_l];
        } else {
          for (std::int64_t j = lo; j < hi; ++j) o[j] = in[j * sw + p - pad_l];
        }
      }
    }
  }

 private:
  std::int64_t rows(std::int64_t count) const noexcept { return (count - 1) * g_.sh + (g_.R - 1) * g_.dh + 1; }

  std::int64_t src_h_, src_w_, ins_h_, ins_w_, pad_t_, pad_l_, sw_, phase_w_, strip_ = 1;
  std::vector<std::int64_t> tap_;
  // Per phase, the buffer columns [lo, hi) that hold source columns; with ins_w > 1, the source
  // columns [lo, hi) that land in the buffer.
  std::vector<std::int64_t> lo_, hi_;
  DepthwisePlane g_{};
};

// Runs fn(g, buf, oh0) for every strip of out's rows, buf holding that strip's source rows.
template <typename T, typename Fn>
void for_each_strip(const Source& in, const T* src, T* buf, std::int64_t P, Fn&& fn) noexcept {
  for (std::int64_t oh0 = 0; oh0 < P; oh0 += in.strip()) {
    const std::int64_t count = std::min(in.strip(), P - oh0);
    in.fill(src, oh0, count, buf);
    fn(in.strip_plane(count), buf, oh0);
  }
}

template <typename T>
class DepthwiseConv final : public ConvImpl {
 public:
  DepthwiseConv(const ConvDesc& d, int threads)
      : N_(d.n), C_(d.c), K_(d.k), Kg_(d.k / d.groups), H_(d.h), W_(d.w), P_(d.p()), Q_(d.q()),
        taps_(d.r * d.s), threads_(std::max(threads, 1)),
        x_(d.h, d.w, 1, 1, d.pad_top, d.pad_left, d.p(), d.q(), d.r, d.s, d.stride_h, d.stride_w, d.dilation_h,
           d.dilation_w, sizeof(T)),
        dy_(d.p(), d.q(), d.stride_h, d.stride_w, d.dilation_h * (d.r - 1) - d.pad_top,
            d.dilation_w * (d.s - 1) - d.pad_left, d.h, d.w, d.r, d.s, 1, 1, d.dilation_h, d.dilation_w,
            sizeof(T)) {}

  std::string name() const override { return std::string("direct/") + depthwise_kernels<T>().name; }

  std::size_t workspace_size(Direction d) const noexcept override {
    return std::size_t(threads_) * slot(d) + kWorkspaceAlign;
  }

  void forward(const void* xv, const void* wv, const void* bv, void* yv, void* ws) const noexcept override {
    const T* x = static_cast<const T*>(xv);
    const T* w = static_cast<const T*>(weights(wv));
    const T* bias = static_cast<const T*>(bv);
    T* y = static_cast<T*>(yv);
    const DepthwiseKernels<T>& dk = depthwise_kernels<T>();
#pragma omp parallel num_threads(threads_) if (threads_ > 1 && !forked_child())
    {
      T* buffer = cleared_buffer(ws, Direction::Forward);
#pragma omp for collapse(2) schedule(static)
      for (std::int64_t n = 0; n < N_; ++n)
        for (std::int64_t c = 0; c < C_; ++c)
          for_each_strip(x_, x + (n * C_ + c) * H_ * W_, buffer, P_,
                         [&](const DepthwisePlane& g, const T* buf, std::int64_t oh0) {
                           for (std::int64_t k = c * Kg_; k < (c + 1) * Kg_; ++k)
                             dk.forward(g, buf, w + k * taps_, bias ? bias[k] : T(0), false,
                                        y + (n * K_ + k) * P_ * Q_ + oh0 * Q_);
                         });
    }
  }

  void backward_data(const void* dyv, const void* wv, void* dxv, void* ws) const noexcept override {
    const T* dy = static_cast<const T*>(dyv);
    const T* w = static_cast<const T*>(weights(wv));
    T* dx = static_cast<T*>(dxv);
    const DepthwiseKernels<T>& dk = depthwise_kernels<T>();
#pragma omp parallel num_threads(threads_) if (threads_ > 1 && !forked_child())
    {
      T* buffer = cleared_buffer(ws, Direction::BackwardData);
#pragma omp for collapse(2) schedule(static)
      for (std::int64_t n = 0; n < N_; ++n)
        for (std::int64_t c = 0; c < C_; ++c)
          for (std::int64_t k = c * Kg_; k < (c + 1) * Kg_; ++k) {
            T flipped[kMaxFlipped];  // w[k] rotated by 180 degrees
            for (std::int64_t i = 0; i < taps_; ++i) flipped[i] = w[k * taps_ + taps_ - 1 - i];
            for_each_strip(dy_, dy + (n * K_ + k) * P_ * Q_, buffer, H_,
                           [&](const DepthwisePlane& g, const T* buf, std::int64_t ih0) {
                             dk.forward(g, buf, flipped, T(0), k > c * Kg_, dx + (n * C_ + c) * H_ * W_ + ih0 * W_);
                           });
          }
    }
  }

  void backward_weights(const void* xv, const void* dyv, void* dwv, void* dbv, void* ws) const noexcept override {
    const T* x = static_cast<const T*>(xv);
    const T* dy = static_cast<const T*>(dyv);
    T* dw = static_cast<T*>(dwv);
    const DepthwiseKernels<T>& dk = depthwise_kernels<T>();
#pragma omp parallel num_threads(threads_) if (threads_ > 1 && !forked_child())
    {
      T* buffer = cleared_buffer(ws, Direction::BackwardWeights);
      std::vector<double> acc(static_cast<std::size_t>(Kg_ * taps_));
#pragma omp for schedule(static)
      for (std::int64_t c = 0; c < C_; ++c) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (std::int64_t n = 0; n < N_; ++n)
          for_each_strip(x_, x + (n * C_ + c) * H_ * W_, buffer, P_,
                         [&](const DepthwisePlane& g, const T* buf, std::int64_t oh0) {
                           for (std::int64_t j = 0; j < Kg_; ++j)
                             dk.weights(g, buf, dy + (n * K_ + c * Kg_ + j) * P_ * Q_ + oh0 * Q_,
                                        acc.data() + j * taps_);
                         });
        for (std::int64_t i = 0; i < Kg_ * taps_; ++i) dw[c * Kg_ * taps_ + i] = T(acc[std::size_t(i)]);
      }
    }
    if (dbv) bias_gradient(N_, K_, P_ * Q_, dy, static_cast<T*>(dbv), threads_);
  }

  // Backward data keeps a rotated copy of one filter on the stack.
  static constexpr std::int64_t kMaxFlipped = 1024;

 private:
  // Each thread's buffer, a cache line apart, with a cache line of slack that a kernel's
  // vector loads may read past the last row.
  std::size_t slot(Direction d) const noexcept {
    const Source& in = d == Direction::BackwardData ? dy_ : x_;
    const std::size_t bytes = std::size_t(in.buffer_elems()) * sizeof(T) + kWorkspaceAlign;
    return (bytes + kWorkspaceAlign - 1) / kWorkspaceAlign * kWorkspaceAlign;
  }
  // The calling thread's buffer, zeroed.
  T* cleared_buffer(void* ws, Direction d) const noexcept {
    T* buf = reinterpret_cast<T*>(static_cast<unsigned char*>(align_workspace(ws)) + std::size_t(thread_index()) * slot(d));
    (d == Direction::BackwardData ? dy_ : x_).clear(buf);
    return buf;
  }

  std::int64_t N_, C_, K_, Kg_, H_, W_, P_, Q_, taps_;
  int threads_;
  Source x_, dy_;
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
