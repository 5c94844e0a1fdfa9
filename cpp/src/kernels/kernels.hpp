#pragma once
// Every microkernel, one namespace per ISA. Each lives in kernels/<isa>/, the only files built
// with that ISA's flags; the namespaces keep their inline helpers from leaking into baseline code.
#include "cpu/kernel_table.hpp"

namespace fastconv::kernels {

namespace generic {
RowDotKernel<float> srowdot();
RowDotKernel<double> drowdot();
GemmMicrokernel<float> sgemm();
GemmMicrokernel<double> dgemm();
DepthwiseKernels<float> sdepthwise();
DepthwiseKernels<double> ddepthwise();
WinogradFamily<float> swinograd();
WinogradFamily<double> dwinograd();
PeakKernel peak();
}  // namespace generic

namespace avx2 {
RowDotKernel<float> srowdot();
RowDotKernel<double> drowdot();
GemmMicrokernel<float> sgemm();
GemmMicrokernel<double> dgemm();
DepthwiseKernels<float> sdepthwise();
DepthwiseKernels<double> ddepthwise();
WinogradFamily<float> swinograd();
WinogradFamily<double> dwinograd();
PeakKernel peak();
}  // namespace avx2

namespace avx512 {  // depthwise: AVX2's (kernel_table.cpp)
RowDotKernel<float> srowdot();
RowDotKernel<double> drowdot();
GemmMicrokernel<float> sgemm();
GemmMicrokernel<double> dgemm();
GemmMicrokernel<float> sgemm8();
GemmMicrokernel<double> dgemm8();
WinogradFamily<float> swinograd();
WinogradFamily<double> dwinograd();
void add_wide_weights(WinogradFamily<float>& family);  // winograd_weights_avx512.cpp
PeakKernel peak();
}  // namespace avx512

}  // namespace fastconv::kernels
