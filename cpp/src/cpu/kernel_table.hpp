#pragma once
// The run-time kernel table: filled once from the CPU's features, read by every algorithm.
#include <cstdint>

#include "fastconv/cpu.hpp"

namespace fastconv {

// C[MR x NR] (row stride ldc) = or += A_panel * B_panel, where the packed A panel holds kc
// columns of MR values and the packed B panel kc rows of NR values.
template <typename T>
using GemmMicrokernelFn = void (*)(std::int64_t kc, const T* a, const T* b, T* c, std::int64_t ldc,
                                   bool accumulate) noexcept;

template <typename T>
struct GemmMicrokernel {
  GemmMicrokernelFn<T> run = nullptr;
  int mr = 0, nr = 0;
  const char* name = "";
};

// Row operations of the depthwise path: y[i] += a*x[i*incx]; y[i*incy] += a*x[i]; a dot product.
template <typename T>
struct RowKernels {
  void (*axpy)(std::int64_t n, T a, const T* x, std::int64_t incx, T* y) noexcept = nullptr;
  void (*axpy_scatter)(std::int64_t n, T a, const T* x, T* y, std::int64_t incy) noexcept = nullptr;
  T (*dot)(std::int64_t n, const T* x, std::int64_t incx, const T* y) noexcept = nullptr;
  const char* name = "";
};

// A float32 multiply-add loop of independent chains, to measure the machine's ceiling.
struct PeakKernel {
  float (*run)(std::int64_t iterations, float seed) noexcept = nullptr;
  int flops_per_iteration = 0;
};

struct KernelTable {
  Isa isa = Isa::Generic;
  GemmMicrokernel<float> sgemm;
  GemmMicrokernel<double> dgemm;
  RowKernels<float> srows;
  RowKernels<double> drows;
  PeakKernel peak;

  const GemmMicrokernel<float>& gemm(float*) const noexcept { return sgemm; }
  const GemmMicrokernel<double>& gemm(double*) const noexcept { return dgemm; }
  const RowKernels<float>& rows(float*) const noexcept { return srows; }
  const RowKernels<double>& rows(double*) const noexcept { return drows; }
};

const KernelTable& kernel_table() noexcept;

template <typename T>
const GemmMicrokernel<T>& gemm_microkernel() noexcept {
  return kernel_table().gemm(static_cast<T*>(nullptr));
}

template <typename T>
const RowKernels<T>& row_kernels() noexcept {
  return kernel_table().rows(static_cast<T*>(nullptr));
}

}  // namespace fastconv
