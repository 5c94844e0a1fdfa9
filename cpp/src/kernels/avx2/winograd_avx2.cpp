// Winograd transforms compiled with -mavx2 -mfma: the same loops, a tile per lane of 8.
#include <algorithm>

#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx2 {
#include "kernels/winograd_f4.inl"

WinogradKernels<float> swinograd() { return winograd_kernels<float>("f4x4-avx2"); }
WinogradKernels<double> dwinograd() { return winograd_kernels<double>("f4x4-avx2"); }

}  // namespace fastconv::kernels::avx2
