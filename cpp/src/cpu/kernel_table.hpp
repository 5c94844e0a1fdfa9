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

// One plane of a depthwise convolution: input H x W, output P x Q, kernel R x S. Output column
// ow of tap s reads input column ow*sw + off[s], and is inside the input for lo[s] <= ow < hi[s].
struct DepthwisePlane {
  std::int64_t H, W, P, Q, R, S, sh, sw, dh, pt;
  const std::int64_t *lo, *hi, *off;
};

template <typename T>
struct DepthwiseKernels {
  void (*forward)(const DepthwisePlane&, const T* x, const T* w, T bias, bool accumulate, T* y) noexcept = nullptr;
  void (*scatter)(const DepthwisePlane&, const T* dy, const T* w, T* dx) noexcept = nullptr;
  void (*weights)(const DepthwisePlane&, const T* x, const T* dy, double* acc) noexcept = nullptr;
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
  DepthwiseKernels<float> sdepthwise;
  DepthwiseKernels<double> ddepthwise;
  PeakKernel peak;

  const GemmMicrokernel<float>& gemm(float*) const noexcept { return sgemm; }
  const GemmMicrokernel<double>& gemm(double*) const noexcept { return dgemm; }
  const DepthwiseKernels<float>& depthwise(float*) const noexcept { return sdepthwise; }
  const DepthwiseKernels<double>& depthwise(double*) const noexcept { return ddepthwise; }
};

const KernelTable& kernel_table() noexcept;

template <typename T>
const GemmMicrokernel<T>& gemm_microkernel() noexcept {
  return kernel_table().gemm(static_cast<T*>(nullptr));
}

template <typename T>
const DepthwiseKernels<T>& depthwise_kernels() noexcept {
  return kernel_table().depthwise(static_cast<T*>(nullptr));
}

}  // namespace fastconv
