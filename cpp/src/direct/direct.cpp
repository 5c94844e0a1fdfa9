// Direct convolution as implicit GEMM: the im2col matrix is never built; its panels are
// packed straight from the tensors inside the blocked GEMM driver.
//   forward           Y[k, pix]      = W[k, (c,r,s)]   * X_col[(c,r,s), pix]   per (image, group)
//   backward data     dX[c, ipix]    = W^T[c, (k,r,s)] * dY_col[(k,r,s), ipix] per (image, group,
//                     stride phase): input pixels of one phase (ih % stride) meet a fixed subset
//                     of kernel taps, so no zero products are computed and nothing is scattered.
//   backward weights  dW[k, (c,r,s)] = dY[k, (n,pix)]  * X_col[(n,pix), (c,r,s)] per group: the
//                     batch is part of the reduction, so it is reduced in a fixed order.
#include <algorithm>
#include <vector>

#include "direct/gemm_driver.hpp"
#include "impl.hpp"

namespace fastconv {
namespace direct {
namespace {

// Geometry shared by the problems, in int64 throughout.
struct Geometry {
  std::int64_t N, C, H, W, K, R, S, P, Q, G, Cg, Kg;
  std::int64_t sh, sw, dh, dw, pt, pl;
  explicit Geometry(const ConvDesc& d)
      : N(d.n), C(d.c), H(d.h), W(d.w), K(d.k), R(d.r), S(d.s), P(d.p()), Q(d.q()), G(d.groups),
        Cg(d.c / d.groups), Kg(d.k / d.groups), sh(d.stride_h), sw(d.stride_w),
        dh(d.dilation_h), dw(d.dilation_w), pt(d.pad_top), pl(d.pad_left) {}
};

template <typename T>
struct ForwardProblem {
  const Geometry& g;
  const T *x, *w, *bias;
  T* y;

  std::int64_t batches() const { return g.N * g.G; }
  std::int64_t m(std::int64_t) const { return g.Kg; }
  std::int64_t n(std::int64_t) const { return g.P * g.Q; }
  std::int64_t k(std::int64_t) const { return g.Cg * g.R * g.S; }

  void pack_a(std::int64_t b, std::int64_t i0, std::int64_t mc, std::int64_t k0, std::int64_t kc,
              T* dst, int mr) const {
    const std::int64_t grp = b % g.G;
    pack_rows(w + grp * g.Kg * k(b), k(b), i0, mc, k0, kc, dst, mr);
  }

  // X_col[(c,r,s), pix] for one image and group; out-of-image taps read as zero.
  void pack_b(std::int64_t b, std::int64_t k0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
              T* dst, int nr) const {
    const std::int64_t img = b / g.G, grp = b % g.G;
    const T* xg = x + (img * g.C + grp * g.Cg) * g.H * g.W;
    const std::int64_t ncp = round_up(nc, nr);
    for (std::int64_t p = 0; p < kc; ++p) {
      const std::int64_t kk = k0 + p;
      const std::int64_t c = kk / (g.R * g.S), r = kk / g.S % g.R, s = kk % g.S;
      const T* xc = xg + c * g.H * g.W;
      std::int64_t oh = j0 / g.Q, ow = j0 % g.Q;
      for (std::int64_t jj = 0; jj < ncp; ++jj) {
        T v = T(0);
        if (jj < nc) {
          const std::int64_t ih = oh * g.sh - g.pt + r * g.dh, iw = ow * g.sw - g.pl + s * g.dw;
          if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) v = xc[ih * g.W + iw];
          if (++ow == g.Q) ow = 0, ++oh;
        }
        dst[(jj / nr) * kc * nr + p * nr + jj % nr] = v;
      }
    }
  }

  void store(std::int64_t b, std::int64_t i0, std::int64_t mc, std::int64_t j0, std::int64_t nc,
             const T* c, std::int64_t ldc) const {
    const std::int64_t img = b / g.G, grp = b % g.G, pq = g.P * g.Q;
    for (std::int64_t i = 0; i < mc; ++i) {
      const std::int64_t kout = grp * g.Kg + i0 + i;
      const T add = bias ? bias[kout] : T(0);
      T* yr = y + (img * g.K + kout) * pq + j0;
      for (std::int64_t j = 0; j < nc; ++j) yr[j] = c[i * ldc + j] + add;
    }
  }
};

// Kernel taps that reach input rows of one stride phase, with the output offset of each.
struct Taps {
  std::vector<std::int64_t> index, offset;
};

std::vector<Taps> phase_taps(std::int64_t stride, std::int64_t kernel, std::int64_t dilation,
                             std::int64_t pad) {
  std::vector<Taps> phases(static_cast<std::size_t>(stride));
  for (std::int64_t ph = 0; ph < stride; ++ph)
    for (std::int64_t t = 0; t < kernel; ++t) {
      const std::int64_t num = ph + pad - t * dilation;  // = out * stride - (ih - ph)
      if (((num % stride) + stride) % stride != 0) continue;
      phases[ph].index.push_back(t);
      // input row ph + a*stride meets this tap at output row a + num/stride (exact division)
      phases[ph].offset.push_back(num / stride);
    }
  return phases;
}

template <typename T>
struct BackwardDataProblem {
  const Geometry& g;
  const std::vector<Taps>& rows;  // per phase of the height stride
  const std::vector<Taps>& cols;  // per phase of the width stride
  const T *dy, *w;
  T* dx;

  // b = ((image * G + group) * sh + ph) * sw + pw
  std::int64_t ph(std::int64_t b) const { return b / g.sw % g.sh; }
  std::int64_t pw(std::int64_t b) const { return b % g.sw; }
  std::int64_t phase_h(std::int64_t b) const { return ph(b) < g.H ? ceil_div(g.H - ph(b), g.sh) : 0; }
  std::int64_t phase_w(std::int64_t b) const { return pw(b) < g.W ? ceil_div(g.W - pw(b), g.sw) : 0; }
  std::int64_t taps_r(std::int64_t b) const { return std::int64_t(rows[ph(b)].index.size()); }
  std::int64_t taps_s(std::int64_t b) const { return std::int64_t(cols[pw(b)].index.size()); }

  std::int64_t batches() const { return g.N * g.G * g.sh * g.sw; }
  std::int64_t m(std::int64_t) const { return g.Cg; }
  std::int64_t n(std::int64_t b) const { return phase_h(b) * phase_w(b); }
  std::int64_t k(std::int64_t b) const { return g.Kg * taps_r(b) * taps_s(b); }

  // A[c, (k, tr, ts)] = W[k, c, r(tr), s(ts)]
  void pack_a(std::int64_t b, std::int64_t i0, std::int64_t mc, std::int64_t k0, std::int64_t kc,
              T* dst, int mr) const {
    const std::int64_t grp = b / (g.sh * g.sw) % g.G, ntr = taps_r(b), ns = taps_s(b);
    const Taps &tr = rows[ph(b)], &ts = cols[pw(b)];
    const std::int64_t mcp = round_up(mc, mr);
    for (std::int64_t p = 0; p < kc; ++p) {
      const std::int64_t kk = k0 + p;
      const std::int64_t kout = kk / (ntr * ns), r = tr.index[kk / ns % ntr], s = ts.index[kk % ns];
      const T* wk = w + ((grp * g.Kg + kout) * g.Cg * g.R + r) * g.S + s;
      for (std::int64_t ii = 0; ii < mcp; ++ii)
        dst[(ii / mr) * kc * mr + p * mr + ii % mr] = ii < mc ? wk[(i0 + ii) * g.R * g.S] : T(0);
    }
  }

  // B[(k, tr, ts), (a, e)] = dY[k, a + offset_r, e + offset_s], zero outside the output.
  void pack_b(std::int64_t b, std::int64_t k0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
              T* dst, int nr) const {
    const std::int64_t img = b / (g.G * g.sh * g.sw), grp = b / (g.sh * g.sw) % g.G;
    const std::int64_t ntr = taps_r(b), ns = taps_s(b), wph = phase_w(b);
    const Taps &tr = rows[ph(b)], &ts = cols[pw(b)];
    const std::int64_t ncp = round_up(nc, nr);
    for (std::int64_t p = 0; p < kc; ++p) {
      const std::int64_t kk = k0 + p;
      const std::int64_t kout = kk / (ntr * ns), orr = tr.offset[kk / ns % ntr], os = ts.offset[kk % ns];
      const T* dyk = dy + (img * g.K + grp * g.Kg + kout) * g.P * g.Q;
      std::int64_t a = j0 / wph, e = j0 % wph;
      for (std::int64_t jj = 0; jj < ncp; ++jj) {
        T v = T(0);
        if (jj < nc) {
          const std::int64_t oh = a + orr, ow = e + os;
          if (oh >= 0 && oh < g.P && ow >= 0 && ow < g.Q) v = dyk[oh * g.Q + ow];
          if (++e == wph) e = 0, ++a;
        }
        dst[(jj / nr) * kc * nr + p * nr + jj % nr] = v;
      }
    }
  }

  void store(std::int64_t b, std::int64_t i0, std::int64_t mc, std::int64_t j0, std::int64_t nc,
             const T* c, std::int64_t ldc) const {
    const std::int64_t img = b / (g.G * g.sh * g.sw), grp = b / (g.sh * g.sw) % g.G;
    const std::int64_t wph = phase_w(b);
    for (std::int64_t i = 0; i < mc; ++i) {
      T* dxc = dx + (img * g.C + grp * g.Cg + i0 + i) * g.H * g.W;
      std::int64_t a = j0 / wph, e = j0 % wph;
      for (std::int64_t j = 0; j < nc; ++j) {
        dxc[(ph(b) + a * g.sh) * g.W + pw(b) + e * g.sw] = c[i * ldc + j];
        if (++e == wph) e = 0, ++a;
      }
    }
  }
};

template <typename T>
struct BackwardWeightsProblem {
  const Geometry& g;
  const T *x, *dy;
  T* dw;

  std::int64_t batches() const { return g.G; }
  std::int64_t m(std::int64_t) const { return g.Kg; }
  std::int64_t n(std::int64_t) const { return g.Cg * g.R * g.S; }
  std::int64_t k(std::int64_t) const { return g.N * g.P * g.Q; }

  // A[k, (img, pix)] = dY[img, k, pix]
  void pack_a(std::int64_t grp, std::int64_t i0, std::int64_t mc, std::int64_t k0, std::int64_t kc,
              T* dst, int mr) const {
    const std::int64_t pq = g.P * g.Q;
    for (std::int64_t ir = 0; ir < mc; ir += mr, dst += kc * mr) {
      const std::int64_t rows = std::min<std::int64_t>(mr, mc - ir);
      for (std::int64_t i = 0; i < mr; ++i) {
        if (i >= rows) {
          for (std::int64_t p = 0; p < kc; ++p) dst[p * mr + i] = T(0);
          continue;
        }
        const std::int64_t kout = grp * g.Kg + i0 + ir + i;
        std::int64_t img = k0 / pq, pix = k0 % pq;
        for (std::int64_t p = 0; p < kc; ++p) {
          dst[p * mr + i] = dy[(img * g.K + kout) * pq + pix];
          if (++pix == pq) pix = 0, ++img;
        }
      }
    }
  }

  // B[(img, oh, ow), (c, r, s)] = X[img, c, oh*sh - pt + r*dh, ow*sw - pl + s*dw]
  void pack_b(std::int64_t grp, std::int64_t k0, std::int64_t kc, std::int64_t j0, std::int64_t nc,
              T* dst, int nr) const {
    const std::int64_t pq = g.P * g.Q, ncp = round_up(nc, nr);
    for (std::int64_t p = 0; p < kc; ++p) {
      const std::int64_t kk = k0 + p, img = kk / pq, oh = kk % pq / g.Q, ow = kk % g.Q;
      const T* xg = x + (img * g.C + grp * g.Cg) * g.H * g.W;
      std::int64_t c = j0 / (g.R * g.S), r = j0 / g.S % g.R, s = j0 % g.S;
      for (std::int64_t jj = 0; jj < ncp; ++jj) {
        T v = T(0);
        if (jj < nc) {
          const std::int64_t ih = oh * g.sh - g.pt + r * g.dh, iw = ow * g.sw - g.pl + s * g.dw;
          if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) v = xg[(c * g.H + ih) * g.W + iw];
          if (++s == g.S) {
            s = 0;
            if (++r == g.R) r = 0, ++c;
          }
        }
        dst[(jj / nr) * kc * nr + p * nr + jj % nr] = v;
      }
    }
  }

  void store(std::int64_t grp, std::int64_t i0, std::int64_t mc, std::int64_t j0, std::int64_t nc,
             const T* c, std::int64_t ldc) const {
    const std::int64_t crs = n(grp);
    for (std::int64_t i = 0; i < mc; ++i)
      std::copy(c + i * ldc, c + i * ldc + nc, dw + (grp * g.Kg + i0 + i) * crs + j0);
  }
};

// db[k] = sum over images and pixels of dY[n, k, :], in double, one channel per thread.
template <typename T>
void bias_gradient(const Geometry& g, const T* dy, T* db, int threads) noexcept {
  const std::int64_t pq = g.P * g.Q;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (std::int64_t k = 0; k < g.K; ++k) {
    double sum = 0;
    for (std::int64_t img = 0; img < g.N; ++img) {
      const T* p = dy + (img * g.K + k) * pq;
      for (std::int64_t i = 0; i < pq; ++i) sum += p[i];
    }
    db[k] = static_cast<T>(sum);
  }
}

template <typename T>
class DirectConv final : public ConvImpl {
 public:
  DirectConv(const ConvDesc& desc, int threads)
      : g_(desc), threads_(threads),
        rows_(phase_taps(g_.sh, g_.R, g_.dh, g_.pt)),
        cols_(phase_taps(g_.sw, g_.S, g_.dw, g_.pl)) {
    const GemmMicrokernel<T>& uk = gemm_microkernel<T>();
    mr_ = uk.mr;
    nr_ = uk.nr;
    kernel_name_ = uk.name;
    const std::size_t e = sizeof(T);
    fwd_ = choose_blocking(g_.N * g_.G, g_.Kg, g_.P * g_.Q, g_.Cg * g_.R * g_.S, mr_, nr_, e, threads);
    const std::int64_t max_taps_r = max_taps(rows_), max_taps_s = max_taps(cols_);
    bwd_data_ = choose_blocking(g_.N * g_.G * g_.sh * g_.sw, g_.Cg,
                                ceil_div(g_.H, g_.sh) * ceil_div(g_.W, g_.sw),
                                g_.Kg * max_taps_r * max_taps_s, mr_, nr_, e, threads);
    bwd_weights_ = choose_blocking(g_.G, g_.Kg, g_.Cg * g_.R * g_.S, g_.N * g_.P * g_.Q, mr_, nr_, e,
                                   threads);
  }

  std::string name() const override { return std::string("direct/") + kernel_name_; }

  std::size_t workspace_size(Direction d) const noexcept override {
    const Blocking& b = d == Direction::Forward ? fwd_ : d == Direction::BackwardData ? bwd_data_ : bwd_weights_;
    return std::size_t(thread_scratch(b, mr_, nr_)) * threads_ * sizeof(T) + kWorkspaceAlign;
  }

  void forward(const void* x, const void* w, const void* bias, void* y, void* ws) const noexcept override {
    ForwardProblem<T> prob{g_, static_cast<const T*>(x), static_cast<const T*>(w),
                           static_cast<const T*>(bias), static_cast<T*>(y)};
    run_gemm<T>(prob, fwd_, static_cast<T*>(align_workspace(ws)), threads_);
  }

  void backward_data(const void* dy, const void* w, void* dx, void* ws) const noexcept override {
    BackwardDataProblem<T> prob{g_, rows_, cols_, static_cast<const T*>(dy), static_cast<const T*>(w),
                                static_cast<T*>(dx)};
    run_gemm<T>(prob, bwd_data_, static_cast<T*>(align_workspace(ws)), threads_);
  }

  void backward_weights(const void* x, const void* dy, void* dw, void* db, void* ws) const noexcept override {
    BackwardWeightsProblem<T> prob{g_, static_cast<const T*>(x), static_cast<const T*>(dy),
                                   static_cast<T*>(dw)};
    run_gemm<T>(prob, bwd_weights_, static_cast<T*>(align_workspace(ws)), threads_);
    if (db) bias_gradient(g_, static_cast<const T*>(dy), static_cast<T*>(db), threads_);
  }

 private:
  static std::int64_t max_taps(const std::vector<Taps>& phases) {
    std::size_t most = 0;
    for (const Taps& t : phases) most = std::max(most, t.index.size());
    return std::int64_t(most);
  }

  Geometry g_;
  int threads_;
  std::vector<Taps> rows_, cols_;
  int mr_ = 0, nr_ = 0;
  const char* kernel_name_ = "";
  Blocking fwd_, bwd_data_, bwd_weights_;
};

}  // namespace
}  // namespace direct

std::unique_ptr<ConvImpl> make_direct(const ConvDesc& desc, int threads) {
  if (desc.dtype == DType::Float32) return std::make_unique<direct::DirectConv<float>>(desc, threads);
  return std::make_unique<direct::DirectConv<double>>(desc, threads);
}

}  // namespace fastconv
