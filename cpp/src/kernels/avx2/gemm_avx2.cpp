// AVX2+FMA GEMM microkernels: 6 rows x 2 vectors of accumulators (12 of the 16 ymm registers).
// Built with -mavx2 -mfma; called only when the CPU reports both.
#include <immintrin.h>

#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx2 {
namespace {

constexpr int kMR = 6;

template <typename T>
struct Vec;

template <>
struct Vec<float> {
  using type = __m256;
  static constexpr int width = 8;
  static type zero() { return _mm256_setzero_ps(); }
  static type load(const float* p) { return _mm256_loadu_ps(p); }
  static type broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static type fma(type a, type b, type c) { return _mm256_fmadd_ps(a, b, c); }
  static type add(type a, type b) { return _mm256_add_ps(a, b); }
  static void store(float* p, type v) { _mm256_storeu_ps(p, v); }
};

template <>
struct Vec<double> {
  using type = __m256d;
  static constexpr int width = 4;
  static type zero() { return _mm256_setzero_pd(); }
  static type load(const double* p) { return _mm256_loadu_pd(p); }
  static type broadcast(const double* p) { return _mm256_broadcast_sd(p); }
  static type fma(type a, type b, type c) { return _mm256_fmadd_pd(a, b, c); }
  static type add(type a, type b) { return _mm256_add_pd(a, b); }
  static void store(double* p, type v) { _mm256_storeu_pd(p, v); }
};

template <typename T>
void gemm_6x2v(std::int64_t kc, const T* a, const T* b, T* c, std::int64_t ldc,
               bool accumulate) noexcept {
  using V = Vec<T>;
  constexpr int W = V::width;
  typename V::type acc[kMR][2];
  for (int i = 0; i < kMR; ++i) acc[i][0] = acc[i][1] = V::zero();
  for (std::int64_t p = 0; p < kc; ++p) {
    const auto b0 = V::load(b + p * 2 * W);
    const auto b1 = V::load(b + p * 2 * W + W);
    const T* ap = a + p * kMR;
    for (int i = 0; i < kMR; ++i) {
      const auto ai = V::broadcast(ap + i);
      acc[i][0] = V::fma(ai, b0, acc[i][0]);
      acc[i][1] = V::fma(ai, b1, acc[i][1]);
    }
  }
  for (int i = 0; i < kMR; ++i) {
    T* ci = c + i * ldc;
    if (accumulate) {
      acc[i][0] = V::add(acc[i][0], V::load(ci));
      acc[i][1] = V::add(acc[i][1], V::load(ci + W));
    }
    V::store(ci, acc[i][0]);
    V::store(ci + W, acc[i][1]);
  }
}

}  // namespace

GemmMicrokernel<float> sgemm() { return {gemm_6x2v<float>, kMR, 16, "gemm-avx2-fma-6x16"}; }
GemmMicrokernel<double> dgemm() { return {gemm_6x2v<double>, kMR, 8, "gemm-avx2-fma-6x8"}; }

}  // namespace fastconv::kernels::avx2
