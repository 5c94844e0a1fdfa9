// Convolution with one input channel per group, in several groups (depthwise), or in one (a
// single input channel, whose 5x5 weight gradient plan.cpp sends here): each output channel
// reads one input plane, so there is no reduction over channels for a GEMM to block. Each source
// plane is first copied, a strip of rows at a time, into a zero-padded buffer
// whose columns are split into stride phases; the per-ISA plane kernels then read every tap
// as consecutive elements, with no edge cases (3x3 kernels read wide rows where they lie
// instead, and mask their ends):
//   forward          y[n,k]  = bias + taps of w[k] over x[n, k's channel]
//   backward data    dx[n,c] = sum over k of c's group: a stride-1 forward pass of the flipped
//                    kernel over dY with stride - 1 zeros inserted between its elements
//   backward weights dw[k]   = sum over images of per-row dot products, in double
// Each output plane (or filter) belongs to one thread and is summed in a fixed order. Where
// output rows are short, or the input is channels-last, channels run in blocks instead, a
// vector's lanes (plan_blocks).
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "bias.hpp"
#include "cpu/kernel_table.hpp"
#include "impl.hpp"
#include "padded.hpp"
#include "threads.hpp"

namespace fastconv {
namespace depthwise {
namespace {

// Runs fn(g, buf, oh0) for every strip of out's rows, buf holding that strip's source rows (a
// source row's values `step` apart); or, with `zeros` (a row of zeros for the rows outside the
// plane), fn(g, src, 0) once, the kernel reading the source where it lies.
template <typename T, typename Fn>
void for_each_strip(const PaddedSource& in, const T* src, T* buf, std::int64_t P, Fn&& fn,
                    const T* zeros = nullptr, std::int64_t step = 1) noexcept {
  if (zeros) {
    const DepthwiseInPlace plane = in.in_place(zeros);
    return fn(in.in_place_plane(&plane), src, 0);
  }
  for (std::int64_t oh0 = 0; oh0 < P; oh0 += in.strip()) {
    const std::int64_t count = std::min(in.strip(), P - oh0);
    in.fill(src, oh0, count, buf, step);
    fn(in.strip_plane(count), buf, oh0);
  }
}

// Strips of output rows whose buffer stays within about L2's share of a core.
constexpr std::size_t kStripBytes = 256 * 1024;
// A strip of one output row may need more (tall kernels, large dilations); past this many
// elements per thread, the implicit GEMM takes the layer instead.
constexpr double kMaxStripElements = double(1 << 26);

// Forward and the weight gradient read x; backward data reads dY with stride - 1 zeros inserted
// between its elements, as a stride-1 correlation with the flipped kernel.
PaddedSource input_source(const ConvDesc& d, std::size_t elem) {
  return PaddedSource(d.h, d.w, 1, 1, d.pad_top, d.pad_left, d.p(), d.q(), d.r, d.s, d.stride_h, d.stride_w,
                      d.dilation_h, d.dilation_w, elem, kStripBytes);
}
PaddedSource gradient_source(const ConvDesc& d, std::size_t elem) {
  return PaddedSource(d.p(), d.q(), d.stride_h, d.stride_w, d.dilation_h * (d.r - 1) - d.pad_top,
                      d.dilation_w * (d.s - 1) - d.pad_left, d.h, d.w, d.r, d.s, 1, 1, d.dilation_h, d.dilation_w,
                      elem, kStripBytes);
}

bool buffers_fit(const ConvDesc& d) {
  const std::size_t elem = d.dtype == DType::Float32 ? sizeof(float) : sizeof(double);
  const auto fits = [](const PaddedSource& s) { return !s.oversized() && s.estimate() <= kMaxStripElements; };
  return fits(input_source(d, elem)) && fits(gradient_source(d, elem));
}

template <typename T>
class DepthwiseConv final : public ConvImpl {
 public:
  DepthwiseConv(const ConvDesc& d, int threads)
      : N_(d.n), C_(d.c), K_(d.k), Kg_(d.k / d.groups), H_(d.h), W_(d.w), P_(d.p()), Q_(d.q()),
        taps_(d.r * d.s), step_(d.input_layout == Layout::NHWC ? d.c : 1), threads_(std::max(threads, 1)),
        x_(input_source(d, sizeof(T))), dy_(gradient_source(d, sizeof(T))) {
    plan_blocks(d);
  }

  std::string name() const override { return name_of(Direction::Forward); }
  std::string name_of(Direction d) const override {
    return std::string("direct/") + depthwise_kernels<T>().name + (block_of(d) ? "+blocks" : "");
  }

  std::size_t workspace_size(Direction d) const noexcept override {
    return std::size_t(threads_) * slot(d) + kWorkspaceAlign;
  }

  void forward(const void* xv, const void* wv, const void* bv, void* yv, void* ws) const noexcept override {
    const T* x = static_cast<const T*>(xv);
    const T* w = static_cast<const T*>(weights(wv));
    const T* bias = static_cast<const T*>(bv);
    T* y = static_cast<T*>(yv);
    const DepthwiseKernels<T>& dk = depthwise_kernels<T>();
    if (forward_block_) {
      return for_blocks(ws, Direction::Forward, [&](std::int64_t n, const Band& b, std::int64_t c0, int count, T* work,
                                                    bool clear) {
        dk.block(b.g, band_start(x, n, c0, b), x_plane(), count, w + c0 * taps_, bias ? bias + c0 : nullptr,
                 y + (n * K_ + c0) * P_ * Q_ + b.y_row * Q_, P_ * Q_, work, clear);
      });
    }
#pragma omp parallel num_threads(threads_) if (threads_ > 1 && !forked_child())
    {
      T* buffer = cleared_buffer(ws, Direction::Forward);
      const T* zeros = step_ == 1 && in_place(x_, Q_) ? buffer : nullptr;
#pragma omp for collapse(2) schedule(static)
      for (std::int64_t n = 0; n < N_; ++n)
        for (std::int64_t c = 0; c < C_; ++c)
          for_each_strip(
              x_, channel_start(x, n, c, C_, H_ * W_, step_), buffer, P_,
              [&](const DepthwisePlane& g, const T* buf, std::int64_t oh0) {
                for (std::int64_t k = c * Kg_; k < (c + 1) * Kg_; ++k)
                  dk.forward(g, buf, w + k * taps_, bias ? bias[k] : T(0), false, y + (n * K_ + k) * P_ * Q_ + oh0 * Q_);
              },
              zeros, step_);
    }
  }

  void backward_data(const void* dyv, const void* wv, void* dxv, void* ws) const noexcept override {
    const T* dy = static_cast<const T*>(dyv);
    const T* w = static_cast<const T*>(weights(wv));
    T* dx = static_cast<T*>(dxv);
    const DepthwiseKernels<T>& dk = depthwise_kernels<T>();
    if (data_block_) {
      const Direction d = Direction::BackwardData;
      return for_blocks(ws, d, [&](std::int64_t n, const Band& b, std::int64_t c0, int count, T* work, bool clear) {
        T flipped[kMaxBlockLanes * kMaxBlockTaps];  // the block's filters rotated by 180 degrees
        for (int l = 0; l < count; ++l)
          for (std::int64_t i = 0; i < taps_; ++i) flipped[l * taps_ + i] = w[(c0 + l + 1) * taps_ - 1 - i];
        dk.block(b.g, dy + (n * K_ + c0) * P_ * Q_, P_ * Q_, count, flipped, nullptr, dx + (n * C_ + c0) * H_ * W_,
                 H_ * W_, work, clear);
      });
    }
#pragma omp parallel num_threads(threads_) if (threads_ > 1 && !forked_child())
    {
      T* buffer = cleared_buffer(ws, Direction::BackwardData);
      const T* zeros = in_place(dy_, W_) ? buffer : nullptr;
#pragma omp for collapse(2) schedule(static)
      for (std::int64_t n = 0; n < N_; ++n)
        for (std::int64_t c = 0; c < C_; ++c)
          for (std::int64_t k = c * Kg_; k < (c + 1) * Kg_; ++k) {
            T flipped[kMaxFlipped];  // w[k] rotated by 180 degrees
            for (std::int64_t i = 0; i < taps_; ++i) flipped[i] = w[k * taps_ + taps_ - 1 - i];
            for_each_strip(
                dy_, dy + (n * K_ + k) * P_ * Q_, buffer, H_,
                [&](const DepthwisePlane& g, const T* buf, std::int64_t ih0) {
                  dk.forward(g, buf, flipped, T(0), k > c * Kg_, dx + (n * C_ + c) * H_ * W_ + ih0 * W_);
                },
                zeros);
          }
    }
  }

  void backward_weights(const void* xv, const void* dyv, void* dwv, void* dbv, void* ws) const noexcept override {
    const T* x = static_cast<const T*>(xv);
    const T* dy = static_cast<const T*>(dyv);
    T* dw = static_cast<T*>(dwv);
    const DepthwiseKernels<T>& dk = depthwise_kernels<T>();
    if (block_weights_) {
      // Each thread sums its own blocks over the images and bands in order, so that the bits are
      // the same for any thread count; the blocks of one band in turn, which share its pixels.
      const std::int64_t L = dk.block_lanes, blocks = (C_ + L - 1) / L;
#pragma omp parallel num_threads(threads_) if (threads_ > 1 && !forked_child() && blocks > 1)
      {
        T* work = thread_slot(ws, Direction::BackwardWeights);
        const std::int64_t t = thread_index(), team = team_size();
        const std::int64_t b0 = blocks * t / team, b1 = blocks * (t + 1) / team;
        std::vector<double> acc(static_cast<std::size_t>((b1 - b0) * L * taps_));
        for (std::int64_t n = 0, last = -1; n < N_ && b0 < b1; ++n)
          for (std::int64_t i = 0; i < bands_; ++i) {
            const Band b = band(*forward_block_, i);
            for (std::int64_t blk = b0; blk < b1; ++blk, last = i) {
              const std::int64_t c0 = blk * L;
              dk.block_weights(b.g, band_start(x, n, c0, b), x_plane(), int(std::min(L, C_ - c0)),
                               dy + (n * K_ + c0) * P_ * Q_ + b.y_row * Q_, P_ * Q_, acc.data() + (blk - b0) * L * taps_,
                               work, last != i);
            }
          }
        for (std::int64_t blk = b0; blk < b1; ++blk)
          for (std::int64_t j = 0; j < std::min(L, C_ - blk * L) * taps_; ++j)
            dw[blk * L * taps_ + j] = T(acc[std::size_t((blk - b0) * L * taps_ + j)]);
      }
      if (dbv) bias_gradient(N_, K_, P_ * Q_, dy, static_cast<T*>(dbv), threads_);
      return;
    }
#pragma omp parallel num_threads(threads_) if (threads_ > 1 && !forked_child())
    {
      T* buffer = cleared_buffer(ws, Direction::BackwardWeights);
      const T* zeros = step_ == 1 && in_place(x_, Q_) ? buffer : nullptr;
      // Each thread sums its own filters over the images in order, image by image: its planes
      // then come in memory order (channel after channel of one image). Filters, not channels:
      // one input channel with several filters (a grayscale first layer) keeps every thread busy.
      const std::int64_t t = thread_index(), count = team_size();
      const std::int64_t k0 = K_ * t / count, k1 = K_ * (t + 1) / count;
      std::vector<double> acc(static_cast<std::size_t>((k1 - k0) * taps_));
      for (std::int64_t n = 0; n < N_ && k0 < k1; ++n)
        for (std::int64_t c = k0 / Kg_; c <= (k1 - 1) / Kg_; ++c)
          for_each_strip(
              x_, channel_start(x, n, c, C_, H_ * W_, step_), buffer, P_,
              [&](const DepthwisePlane& g, const T* buf, std::int64_t oh0) {
                for (std::int64_t k = std::max(k0, c * Kg_); k < std::min(k1, (c + 1) * Kg_); ++k)
                  dk.weights(g, buf, dy + (n * K_ + k) * P_ * Q_ + oh0 * Q_, acc.data() + (k - k0) * taps_);
              },
              zeros, step_);
      for (std::int64_t i = 0; i < (k1 - k0) * taps_; ++i) dw[k0 * taps_ + i] = T(acc[std::size_t(i)]);
    }
    if (dbv) bias_gradient(N_, K_, P_ * Q_, dy, static_cast<T*>(dbv), threads_);
  }

  // Whether a 3x3 plane kernel with `columns` output columns reads the source `in` where it
  // lies, the cleared buffer its zero row (at least a source row long). Measured, MobileNet's
  // 56x56 layer at batch 16, medians at 1 and 2 threads: forward 1.17 and 1.40 times as fast,
  // input gradient 1.20 and 1.19, weight gradient 1.36 and 1.27 to 1.53 (two runs).
  bool in_place(const PaddedSource& in, std::int64_t columns) const noexcept {
    const DepthwisePlane& g = in.geometry();
    const std::int64_t least = depthwise_kernels<T>().in_place_columns;
    return g.R == 3 && g.S == 3 && least > 0 && columns >= least && in.readable_in_place();
  }

  // Backward data keeps a rotated copy of one filter on the stack.
  static constexpr std::int64_t kMaxFlipped = 1024;

 private:
  // Channel blocks (DepthwiseKernels::block) where each channel has one filter, the ISA has
  // block kernels (not AVX2 for double), and output rows are at most kBlockColumns wide, or any
  // width for 5x5 kernels at unit column steps; the weight gradient with the forward's blocks;
  // the input gradient at stride 1 only, as a forward pass of the flipped kernel over dY padded
  // by (R - 1) d - pad. Measured on AVX2 against the plane kernels, batch 1,
  // one thread: 3x3 on 384 planes of 14x14 54 -> 34 us, 960 of 7x7 56 -> 26 us; 144 of 28x28 as
  // fast (66-70 us), 96 of 56x56 and strided 28-wide rows slower (137 -> 150 us, 98 -> 117 us);
  // 5x5 on 672 of 14x14 222 -> 129 us, 240 of 28x28 248-338 -> 205-248 us, 96 of 56x56 362-378
  // -> 271-351 us, 144 of 40x40 292-353 -> 153-272 us. The weight gradient where the forward
  // runs in blocks: 384 of 14x14 75 -> 45-69 us, 960 of 7x7 88 -> 44-74 us, 5x5 on 672 of 14x14
  // 234 -> 144-149 us, 96 of 56x56 291 -> 202-204 us. The baseline build's block loops against
  // its plane loops, same shapes: forward 340-400 -> 108 us, 284-336 -> 73 us, 1290-2510 ->
  // 391 us, 1930-3820 -> 636 us; weight gradient 385-458 -> 163 us, 377-436 -> 126-130 us.
  // Channels-last inputs take blocks at any width where a band of them fits: a pixel's channels
  // fill a block's lanes with no transpose, where the planes read one value per cache line.
  // Measured, one thread, against the planes: 384 of 14x14 at batch 1 105 -> 38 us and 106 -> 50
  // us; MobileNet's 56x56 layer at batch 16 forward 7.96 -> 4.48 ms, weight gradient 7.66 ->
  // 5.95 in whole planes, then in bands (band()) 4.42 -> 3.59 and 5.18 -> 3.83; 32 of 112x112 at
  // batch 8, which no whole block fits, 6.43 -> 2.57 and 6.92 -> 2.51.
  static constexpr std::int64_t kBlockColumns = 16, kMaxBlockLanes = 16, kBandBytes = 256 * 1024;
  void plan_blocks(const ConvDesc& d) {
    const DepthwiseKernels<T>& dk = depthwise_kernels<T>();
    if (!dk.block || Kg_ != 1 || taps_ > kMaxBlockTaps || dk.block_lanes > kMaxBlockLanes) return;
    const std::int64_t L = dk.block_lanes;
    // Bands of about kBandBytes of channels-last input rows, where an image passes twice that.
    band_rows_ = P_;
    if (step_ != 1 && double(H_) * double(W_) * double(C_) * double(sizeof(T)) > 2.0 * kBandBytes) {
      const double rows_in = double(kBandBytes) / (double(W_) * double(C_) * double(sizeof(T)));
      const double reach = double(d.r - 1) * double(d.dilation_h) + 1;
      band_rows_ = std::min<std::int64_t>(P_, std::max(1.0, std::floor((rows_in - reach) / double(d.stride_h)) + 1));
    }
    bands_ = (P_ + band_rows_ - 1) / band_rows_;
    // none where the padded block (of one band) would pass kStripBytes (sizes in floating point
    // first: strides and dilations may be huge)
    auto block = [&](std::int64_t H, std::int64_t W, std::int64_t P, std::int64_t Q, std::int64_t sh, std::int64_t sw,
                     std::int64_t pt, std::int64_t pl, std::int64_t step, std::int64_t band) -> std::unique_ptr<DepthwiseBlock> {
      const auto rows_for = [&](std::int64_t out) { return double(out - 1) * double(sh) + double(d.r - 1) * double(d.dilation_h) + 1; };
      const double cols = double((Q + L - 1) / L * L - 1) * double(sw) + double(d.s - 1) * double(d.dilation_w) + 1;
      if ((rows_for(band) * cols + double(L)) * double(L * std::int64_t(sizeof(T))) > double(kStripBytes)) return nullptr;
      return std::make_unique<DepthwiseBlock>(DepthwiseBlock{H, W, P, Q, d.r, d.s, sh, sw, d.dilation_h, d.dilation_w,
                                                             pt, pl, std::int64_t(rows_for(P)), std::int64_t(cols), step});
    };
    const bool wide = d.r == 5 && d.s == 5 && d.dilation_w == 1;  // any width, at unit column steps
    if (Q_ <= kBlockColumns || (wide && d.stride_w == 1) || step_ != 1)  // step_: channels-last
      forward_block_ = block(H_, W_, P_, Q_, d.stride_h, d.stride_w, d.pad_top, d.pad_left, step_, band_rows_);
    block_weights_ = forward_block_ && dk.block_weights;
    const std::int64_t pt = (d.r - 1) * d.dilation_h - d.pad_top, pl = (d.s - 1) * d.dilation_w - d.pad_left;
    if ((W_ <= kBlockColumns || wide) && d.stride_h == 1 && d.stride_w == 1 && pt >= 0 && pl >= 0)
      data_block_ = block(P_, Q_, H_, W_, 1, 1, pt, pl, 1, H_);
  }
  // A band of a block's output rows [y_row, y_row + g.P), as a block of its own reading input
  // rows from x_row: bands of channels-last rows keep the pixels that the blocks of one band
  // share in L2 (a 56x56 image of 96 channels is 1.2 MB; each block of 8 read it all).
  struct Band {
    DepthwiseBlock g;
    std::int64_t x_row, y_row;
  };
  Band band(const DepthwiseBlock& f, std::int64_t i) const noexcept {
    if (&f != forward_block_.get() || bands_ == 1) return {f, 0, 0};
    Band b{f, 0, i * band_rows_};
    b.g.P = std::min(band_rows_, f.P - b.y_row);
    const std::int64_t first = b.y_row * f.sh - f.pt, end = first + (b.g.P - 1) * f.sh + (f.R - 1) * f.dh + 1;
    b.x_row = std::min(std::max<std::int64_t>(first, 0), f.H);  // a band below the input reads none
    b.g.pt = std::max<std::int64_t>(b.x_row - first, 0);
    b.g.H = std::max<std::int64_t>(std::min(end, f.H) - b.x_row, 0);
    b.g.hp = end - first;
    return b;
  }
  // The first input row of band b of channel c of image n, in either layout.
  const T* band_start(const T* x, std::int64_t n, std::int64_t c, const Band& b) const noexcept {
    return channel_start(x, n, c, C_, H_ * W_, step_) + b.x_row * W_ * step_;
  }
  // Calls fn(image, band, first channel, channels, the thread's work, whether its padding must be
  // cleared: the thread's first call or a new band) for every block of channels of every band of
  // every image, blocks innermost.
  template <typename Fn>
  void for_blocks(void* ws, Direction d, Fn&& fn) const noexcept {
    const DepthwiseBlock& g = *block_of(d);
    const std::int64_t L = depthwise_kernels<T>().block_lanes, blocks = (C_ + L - 1) / L;
    const std::int64_t bands = &g == forward_block_.get() ? bands_ : 1, tasks = N_ * bands * blocks;
#pragma omp parallel num_threads(threads_) if (threads_ > 1 && !forked_child() && tasks > 1)
    {
      T* work = thread_slot(ws, d);
      std::int64_t last = -1;
#pragma omp for schedule(static)
      for (std::int64_t t = 0; t < tasks; ++t) {
        const std::int64_t i = t / blocks % bands, c0 = t % blocks * L;
        fn(t / (blocks * bands), band(g, i), c0, int(std::min(L, C_ - c0)), work, last != i);
        last = i;
      }
    }
  }
  // Between x's planes as the blocks read them: a channels-last pixel's channels are adjacent.
  std::int64_t x_plane() const noexcept { return step_ == 1 ? H_ * W_ : 1; }
  const DepthwiseBlock* block_of(Direction d) const noexcept {
    if (d == Direction::BackwardData) return data_block_.get();
    return d == Direction::Forward || block_weights_ ? forward_block_.get() : nullptr;
  }

  // Each thread's buffer, a cache line apart, with a cache line of slack that a kernel's
  // vector loads may read past the last row; or its block.
  std::size_t slot(Direction d) const noexcept {
    const PaddedSource& in = d == Direction::BackwardData ? dy_ : x_;
    const DepthwiseBlock* b = block_of(d);
    const std::int64_t L = depthwise_kernels<T>().block_lanes;
    const std::int64_t hp = b ? band(*b, 0).g.hp : 0;  // the first band is the tallest
    const std::size_t elements = b ? std::size_t((hp * b->wp + L) * L) : std::size_t(in.buffer_elems());
    const std::size_t bytes = elements * sizeof(T) + kWorkspaceAlign;
    return (bytes + kWorkspaceAlign - 1) / kWorkspaceAlign * kWorkspaceAlign;
  }
  // The calling thread's slot of the workspace.
  T* thread_slot(void* ws, Direction d) const noexcept {
    unsigned char* base = static_cast<unsigned char*>(align_workspace(ws));
    return reinterpret_cast<T*>(base + std::size_t(thread_index()) * slot(d));
  }
  // The calling thread's buffer, zeroed.
  T* cleared_buffer(void* ws, Direction d) const noexcept {
    T* buf = thread_slot(ws, d);
    (d == Direction::BackwardData ? dy_ : x_).clear(buf);
    return buf;
  }

  std::int64_t N_, C_, K_, Kg_, H_, W_, P_, Q_, taps_;
  std::int64_t step_;  // between a row's values of x: C if channels-last, else 1
  int threads_;
  PaddedSource x_, dy_;
  std::unique_ptr<DepthwiseBlock> forward_block_, data_block_;  // where channel blocks run them
  std::int64_t bands_ = 1, band_rows_ = 1;                       // of forward_block_ (band())
  bool block_weights_ = false;                                  // the weight gradient too, in the forward's
};

}  // namespace
}  // namespace depthwise

bool depthwise_accepts(const ConvDesc& desc) {
  return desc.c == desc.groups && desc.r * desc.s <= depthwise::DepthwiseConv<float>::kMaxFlipped &&
         depthwise::buffers_fit(desc);
}

std::unique_ptr<ConvImpl> make_depthwise(const ConvDesc& desc, int threads) {
  if (desc.dtype == DType::Float32) return std::make_unique<depthwise::DepthwiseConv<float>>(desc, threads);
  return std::make_unique<depthwise::DepthwiseConv<double>>(desc, threads);
}

}  // namespace fastconv
