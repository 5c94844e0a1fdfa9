#pragma once
// A zero-padded copy of a source plane whose columns are split into stride phases, so that
// every kernel tap reads consecutive elements: output (oh, ow) of tap (r, s) reads
// buf[(oh*sh + r*dh) * ld + tap[s] + ow]. The depthwise path runs its plane kernels on it; the
// direct path packs its im2col panels from it with plain copies.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "cpu/kernel_table.hpp"

namespace fastconv {

inline std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// A short run (an output row of a small image): eight at a time in fixed-size copies, which
// compile to a few vector moves (std::copy became a call to memmove, costlier than the copy).
// The ragged end is one more fixed-size copy that overlaps the last (a 7-long run took seven
// scalar moves).
template <typename T>
inline void copy_run(const T* src, std::int64_t len, T* dst) noexcept {
  if (len >= 8) {
    std::int64_t t = 0;
    for (; t + 8 <= len; t += 8) std::memcpy(dst + t, src + t, 8 * sizeof(T));
    if (t < len) std::memcpy(dst + len - 8, src + len - 8, 8 * sizeof(T));
  } else if (len >= 4) {
    std::memcpy(dst, src, 4 * sizeof(T));
    std::memcpy(dst + len - 4, src + len - 4, 4 * sizeof(T));
  } else {
    for (std::int64_t t = 0; t < len; ++t) dst[t] = src[t];
  }
}

// len zeros at dst, by fixed-size stores as copy_run's: padding rows and columns, each a call
// to memset otherwise, which cost more than the zeros (ResNeXt-50's 14x14 stage: 7% of its
// weight gradient).
template <typename T>
inline void zero_run(T* dst, std::int64_t len) noexcept {
  if (len >= 128) {
    std::fill(dst, dst + len, T(0));
  } else if (len >= 8) {
    std::int64_t t = 0;
    for (; t + 8 <= len; t += 8) std::memset(dst + t, 0, 8 * sizeof(T));
    if (t < len) std::memset(dst + len - 8, 0, 8 * sizeof(T));
  } else if (len >= 4) {
    std::memset(dst, 0, 4 * sizeof(T));
    std::memset(dst + len - 4, 0, 4 * sizeof(T));
  } else {
    if (len > 0) dst[0] = T(0);
    if (len > 1) dst[1] = T(0);
    if (len > 2) dst[2] = T(0);
  }
}

// Where channel c of image n of an input with C channels of hw pixels starts: its plane (NCHW,
// step 1), or its first value (channels-last, step C, the distance PaddedSource::fill takes
// between a row's values).
template <typename T>  // T may be const
inline T* channel_start(T* x, std::int64_t n, std::int64_t c, std::int64_t C, std::int64_t hw,
                        std::int64_t step) noexcept {
  return x + n * C * hw + c * (step == 1 ? hw : 1);
}

// How a source plane (src_h x src_w, `ins` apart, the first at padded (pad_t, pad_l)) is read
// by an output of P x Q with stride (sh, sw), dilation (dh, dw) and an R x S kernel.
// Either the output stride or the source spacing is 1 along each axis.
class PaddedSource {
 public:
  PaddedSource(std::int64_t src_h, std::int64_t src_w, std::int64_t ins_h, std::int64_t ins_w, std::int64_t pad_t,
         std::int64_t pad_l, std::int64_t P, std::int64_t Q, std::int64_t R, std::int64_t S, std::int64_t sh,
         std::int64_t sw, std::int64_t dh, std::int64_t dw, std::size_t elem, std::size_t strip_bytes)
      : src_h_(src_h), src_w_(src_w), ins_h_(ins_h), ins_w_(ins_w), pad_t_(pad_t), pad_l_(pad_l), sw_(sw),
        phase_w_(Q + (S - 1) * dw / sw), tap_(std::size_t(S)) {
    // Sizes in floating point first: strides and dilations up to 2^62 are valid, and the integer
    // products below would overflow. Such a source is left unbuilt; callers check oversized().
    const double ld = double(sw) * double(phase_w_);
    if (sw > kMaxStride || sh > kMaxStride || double((R - 1) * dh + 1) * ld > kMaxElements) {
      oversized_ = true;
      return;
    }
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
    if (ins_w == 1 && sw == 2) plan_split();
    g_ = {P, Q, R, S, sh, dh, sw * phase_w_, tap_.data()};
    // Strips of output rows whose buffer stays within strip_bytes (at least one row).
    const std::int64_t budget = std::int64_t(std::min<std::size_t>(strip_bytes / elem, std::size_t(1) << 62)) / g_.ld;
    strip_ = std::clamp<std::int64_t>((budget - (R - 1) * dh - 1) / sh + 1, 1, P);
    estimate_ = (double(strip_ - 1) * double(sh) + double((R - 1) * dh + 1)) * ld;
    oversized_ = estimate_ > kMaxElements;
  }
  PaddedSource(const PaddedSource&) = delete;
  PaddedSource& operator=(const PaddedSource&) = delete;

  // Too large to build (see the constructor), or to be worth building; then nothing else is valid.
  bool oversized() const noexcept { return oversized_; }
  // Whether a buffer of all output rows would be the source plane as it lies (stride 1, neither
  // padding nor spacing), so that readers may take the source in place.
  bool identity() const noexcept {
    return !oversized_ && ins_h_ == 1 && ins_w_ == 1 && pad_t_ == 0 && pad_l_ == 0 && sw_ == 1 && g_.sh == 1 &&
           g_.ld == src_w_ && strip_ == g_.P && rows(strip_) == src_h_;
  }
  // Whether kernels may read the source where it lies, without spacing between its columns:
  // then in_place_plane describes all output rows at once, `in` being in_place(zeros), zeros a
  // source row long (a buffer row is at least that long).
  bool readable_in_place() const noexcept {
    return !oversized_ && ins_h_ == 1 && ins_w_ == 1 && sw_ == 1 && g_.ld >= src_w_;
  }
  DepthwiseInPlace in_place(const void* zeros) const noexcept { return {pad_t_, pad_l_, src_h_, src_w_, zeros}; }
  DepthwisePlane in_place_plane(const DepthwiseInPlace* in) const noexcept {
    DepthwisePlane g = g_;
    g.ld = src_w_;
    g.in_place = in;
    return g;
  }
  // Elements of one strip's buffer, in floating point, for callers that bound it.
  double estimate() const noexcept { return estimate_; }
  std::int64_t strip() const noexcept { return strip_; }
  const DepthwisePlane& geometry() const noexcept { return g_; }
  std::int64_t buffer_elems() const noexcept { return rows(strip_) * g_.ld; }

  // The plane geometry of output rows [oh0, oh0 + count).
  DepthwisePlane strip_plane(std::int64_t count) const noexcept {
    DepthwisePlane g = g_;
    g.P = count;
    return g;
  }

  // Whether fill() writes every element of a buffer's rows (stride 1, no spacing, rows of one
  // channel), which then needs no clear() (ResNeXt-50 layer3's forward spent 3% of its time
  // clearing 8 MB of planes that the fills wrote again).
  bool fills_whole_rows() const noexcept { return ins_h_ == 1 && ins_w_ == 1 && sw_ == 1; }

  // Zeroes a buffer once, before its first fill: the padding columns, and the gaps between
  // spaced source columns, stay zero through every fill.
  template <typename T>
  void clear(T* buf) const noexcept {
    std::fill(buf, buf + buffer_elems(), T(0));
  }

  // The buffer rows that output rows [oh0, oh0 + count) read, into a cleared buffer. A source
  // row's elements lie `step` apart (a channel of a channels-last image: its channel count),
  // its rows src_w * step. With `columns` (where fills_whole_rows), into a buffer not cleared:
  // the rows' padding columns are written too. (A buffer cleared once per call keeps them:
  // writing them row by row again cost Winograd's ResNet-18 layer1 forward 10%.)
  template <typename T>
  void fill(const T* src, std::int64_t oh0, std::int64_t count, T* buf, std::int64_t step = 1,
            bool columns = false) const noexcept {
    // The common cases, their bookkeeping hoisted out of the row loop: it took as long as the
    // copies on MobileNet's 14- to 56-wide rows.
    if (ins_h_ == 1 && ins_w_ == 1 && sw_ <= 2 && step == 1) {
      const SourceRows in = clear_outside(oh0, count, buf);
      if (in.i0 == in.i1) return;  // all padding
      return sw_ == 1 ? fill_rows(src, in, buf, columns) : fill_split(src, in, buf);
    }
    const std::int64_t sw = sw_, ins_w = ins_w_, pad_l = pad_l_, width = phase_w_;
    for (std::int64_t i = 0; i < rows(count); ++i) {
      T* out = buf + i * g_.ld;
      const std::int64_t a = oh0 * g_.sh + i - pad_t_;
      if (a < 0 || (ins_h_ > 1 && a % ins_h_ != 0) || a >= src_h_ * ins_h_) {
        std::fill(out, out + g_.ld, T(0));
        continue;
      }
      const T* in = src + (ins_h_ > 1 ? a / ins_h_ : a) * src_w_ * step;
      if (ins_w > 1) {  // one phase; source column b lands at b*ins + pad_l
        for (std::int64_t b = lo_[0]; b < hi_[0]; ++b) out[b * ins_w + pad_l] = in[b * step];
        continue;
      }
      for (std::int64_t p = 0; p < sw; ++p) {  // phase p, column j holds padded column j*sw + p
        T* o = out + p * width;
        const std::int64_t lo = lo_[std::size_t(p)], hi = hi_[std::size_t(p)];
        if (sw == 1 && step == 1) {
          copy_row(in + lo - pad_l, hi - lo, o + lo);
        } else {
          for (std::int64_t j = lo; j < hi; ++j) o[j] = in[(j * sw + p - pad_l) * step];
        }
      }
    }
  }

  // fill() of whole planes (a strip of every output row) for `count` source planes src_plane
  // apart, into buffers buffer_elems() apart, with `columns` where fills_whole_rows. Planes of
  // short rows go to the ISA's pad_rows in one call, top and bottom padding rows included: a
  // call or more per plane cost as much as the copies on 7x7 planes.
  template <typename T>
  void fill_planes(const T* src, std::int64_t src_plane, std::int64_t count, T* buf, bool columns) const noexcept {
    const DepthwiseKernels<T>& k = depthwise_kernels<T>();
    if (columns && fills_whole_rows() && strip_ == g_.P && k.pad_rows && g_.ld <= k.pad_row_columns) {
      const SourceRows in = source_rows(0, g_.P);
      const std::int64_t lo = lo_[0];
      return k.pad_rows(src + in.a * src_w_ + lo - pad_l_, src_w_, src_plane, count, in.i0, in.i1 - in.i0,
                        rows(g_.P) - in.i1, lo, hi_[0] - lo, buf, g_.ld);
    }
    for (std::int64_t i = 0; i < count; ++i) fill(src + i * src_plane, 0, g_.P, buf + i * buffer_elems(), 1, columns);
  }

  // The whole-plane buffers (a strip of every output row, ins 1) of all channels of a
  // channels-last image: src is its first pixel, whose `channels` values lie consecutive; the
  // buffers are cleared and `stride` apart. One pass over the image, pixel by pixel, where a pass
  // per plane (fill's step) would read every pixel once per channel: the direct path's 64-channel
  // 56x56 layers at batch 16 ran 5% slower that way (39.7 against 37.6 ms).
  template <typename T>
  void fill_channels_last(const T* src, std::int64_t channels, T* bufs, std::int64_t stride) const noexcept {
    const std::int64_t n = rows(strip_), row = src_w_ * channels;
    for (std::int64_t a = std::max<std::int64_t>(0, -pad_t_); a < src_h_ && a + pad_t_ < n; ++a) {
      const T* in = src + a * row - pad_l_ * channels;  // padded column u at in + u * channels
      T* out = bufs + (a + pad_t_) * g_.ld;
      for (std::int64_t p = 0; p < sw_; ++p)  // phase p's column j holds padded column j * sw + p
        for (std::int64_t j = lo_[std::size_t(p)]; j < hi_[std::size_t(p)]; ++j) {
          const T* px = in + (j * sw_ + p) * channels;
          T* o = out + p * phase_w_ + j;
          for (std::int64_t c = 0; c < channels; ++c) o[c * stride] = px[c];
        }
    }
  }

 private:
  // Stride 2: phase p's column j holds source column 2j + p - pad_l, so the source's even
  // columns fill one phase and its odd ones the other. The pairs of source columns whose halves
  // both land in the buffer go through the ISA's split, every row of the strip in one call; the
  // few columns at either end of a phase are copied one by one. Worked out once, here: done per
  // row, this bookkeeping took as long as the copy on 56-wide rows.
  void plan_split() {
    std::int64_t k0 = INT64_MIN, k1 = INT64_MAX, c[2];  // phase p's column j takes pair j - c[p]
    for (std::size_t p = 0; p < 2; ++p) {
      const std::int64_t parity = ((std::int64_t(p) - pad_l_) % 2 + 2) % 2;  // of the columns it takes
      c[p] = (pad_l_ - std::int64_t(p) + parity) / 2;
      k0 = std::max(k0, lo_[p] - c[p]);
      k1 = std::min(k1, hi_[p] - c[p]);
    }
    k1 = std::max(k1, k0);
    const std::int64_t even = ((pad_l_ % 2) + 2) % 2;  // the phase of the even columns
    split_ = {k0, k1 - k0, even * phase_w_ + k0 + c[even], (1 - even) * phase_w_ + k0 + c[1 - even], {}, false};
    for (std::size_t p = 0; p < 2; ++p) {
      const std::int64_t lo = lo_[p], hi = hi_[p];
      split_.ends[p][0] = {lo, std::min(hi, k0 + c[p])};
      split_.ends[p][1] = {std::max(lo, k1 + c[p]), hi};
      split_.any_ends = split_.any_ends || split_.ends[p][0].first < split_.ends[p][0].second ||
                        split_.ends[p][1].first < split_.ends[p][1].second;
    }
  }

  // Buffer rows [i0, i1) of a strip hold source rows [a, a + i1 - i0), without spacing.
  struct SourceRows {
    std::int64_t i0, i1, a;
  };
  // Where the source rows of output rows [oh0, oh0 + count)'s strip go in its buffer.
  SourceRows source_rows(std::int64_t oh0, std::int64_t count) const noexcept {
    const std::int64_t n = rows(count), a0 = oh0 * g_.sh - pad_t_;  // buffer row i holds source row a0 + i
    const std::int64_t i0 = std::clamp<std::int64_t>(-a0, 0, n), i1 = std::clamp<std::int64_t>(src_h_ - a0, i0, n);
    return {i0, i1, a0 + i0};
  }
  // Zeroes the strip's buffer rows outside the source (padding rows), and says where the rest go.
  template <typename T>
  SourceRows clear_outside(std::int64_t oh0, std::int64_t count, T* buf) const noexcept {
    const SourceRows in = source_rows(oh0, count);
    zero_run(buf, in.i0 * g_.ld);
    zero_run(buf + in.i1 * g_.ld, (rows(count) - in.i1) * g_.ld);
    return in;
  }

  // Stride 1: each row's columns [lo, hi) in one copy, with `columns` its padding columns too;
  // short rows whole by the ISA's pad_rows.
  template <typename T>
  void fill_rows(const T* src, const SourceRows& rows, T* buf, bool columns) const noexcept {
    const std::int64_t lo = lo_[0], len = hi_[0] - lo, right = g_.ld - lo - len;
    const T* in = src + rows.a * src_w_ + lo - pad_l_;
    T* out = buf + rows.i0 * g_.ld + lo;
    const DepthwiseKernels<T>& k = depthwise_kernels<T>();
    if (k.pad_rows && g_.ld <= k.pad_row_columns)
      return k.pad_rows(in, src_w_, 0, 1, 0, rows.i1 - rows.i0, 0, lo, len, out - lo, g_.ld);
    for (std::int64_t i = rows.i0; i < rows.i1; ++i, in += src_w_, out += g_.ld) {
      if (columns) zero_run(out - lo, lo), zero_run(out + len, right);
      copy_row(in, len, out);
    }
  }

  // Fixed-size moves for short rows (MobileNet's 56-wide layers ran 4% faster); VGG-16
  // conv1_1's 224-wide rows ran 10% slower with them than with the library's copy.
  template <typename T>
  static void copy_row(const T* in, std::int64_t len, T* out) noexcept {
    if (len < 128) {
      copy_run(in, len, out);
    } else {
      std::copy(in, in + len, out);
    }
  }

  template <typename T>
  void fill_split(const T* src, const SourceRows& rows, T* buf) const noexcept {
    const T* in = src + rows.a * src_w_;
    T* out = buf + rows.i0 * g_.ld;
    if (split_.pairs > 0)
      depthwise_kernels<T>().split(in + 2 * split_.first, src_w_, rows.i1 - rows.i0, split_.pairs,
                                   out + split_.even, out + split_.odd, g_.ld);
    if (!split_.any_ends) return;
    for (std::int64_t i = 0; i < rows.i1 - rows.i0; ++i)
      for (std::int64_t p = 0; p < 2; ++p) {
        T* o = out + i * g_.ld + p * phase_w_;
        const T* r = in + i * src_w_;
        for (const auto& [lo, hi] : split_.ends[p])
          for (std::int64_t j = lo; j < hi; ++j) o[j] = r[2 * j + p - pad_l_];
      }
  }

  std::int64_t rows(std::int64_t count) const noexcept { return (count - 1) * g_.sh + (g_.R - 1) * g_.dh + 1; }

  static constexpr std::int64_t kMaxStride = 1024;    // stride phases a buffer row may hold
  static constexpr double kMaxElements = 1ull << 40;  // far beyond any workspace, short of overflow

  std::int64_t src_h_, src_w_, ins_h_, ins_w_, pad_t_, pad_l_, sw_, phase_w_, strip_ = 1;
  bool oversized_ = false;
  double estimate_ = 0;
  std::vector<std::int64_t> tap_;
  // Per phase, the buffer columns [lo, hi) that hold source columns; with ins_w > 1, the source
  // columns [lo, hi) that land in the buffer.
  std::vector<std::int64_t> lo_, hi_;
  // Stride 2 (see plan_split): the pairs [first, first + pairs) of source columns, split to
  // buffer offsets even and odd; per phase, the column ranges before and after them.
  struct Split {
    std::int64_t first, pairs, even, odd;
    std::pair<std::int64_t, std::int64_t> ends[2][2];
    bool any_ends;
  } split_{};
  DepthwisePlane g_{};
};

}  // namespace fastconv
