// Row kernels of the depthwise path, written once as plain loops and compiled once per ISA
// (kernels/<isa>/rows_<isa>.cpp include this file inside their own namespace).
#include <cstdint>

namespace {

template <typename T>
void axpy(std::int64_t n, T a, const T* x, std::int64_t incx, T* y) noexcept {
  if (incx == 1) {
    for (std::int64_t i = 0; i < n; ++i) y[i] += a * x[i];
  } else {
    for (std::int64_t i = 0; i < n; ++i) y[i] += a * x[i * incx];
  }
}

template <typename T>
void axpy_scatter(std::int64_t n, T a, const T* x, T* y, std::int64_t incy) noexcept {
  if (incy == 1) {
    for (std::int64_t i = 0; i < n; ++i) y[i] += a * x[i];
  } else {
    for (std::int64_t i = 0; i < n; ++i) y[i * incy] += a * x[i];
  }
}

// Eight partial sums in a fixed order: vectorisable, and the same result on every run.
template <typename T>
T dot(std::int64_t n, const T* x, std::int64_t incx, const T* y) noexcept {
  T part[8] = {};
  std::int64_t i = 0;
  if (incx == 1) {
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; ++j) part[j] += x[i + j] * y[i + j];
  } else {
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; ++j) part[j] += x[(i + j) * incx] * y[i + j];
  }
  for (; i < n; ++i) part[0] += x[i * incx] * y[i];
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

template <typename T>
RowKernels<T> row_kernels(const char* name) {
  return {axpy<T>, axpy_scatter<T>, dot<T>, name};
}

}  // namespace
