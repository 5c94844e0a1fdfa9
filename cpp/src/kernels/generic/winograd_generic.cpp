// Winograd transforms for the baseline target.
#include <algorithm>

#include "kernels/kernels.hpp"

namespace fastconv::kernels::generic {
#include "kernels/winograd_f4.inl"

WinogradKernels<float> swinograd() { return winograd_kernels<float>("f4x4-generic"); }
WinogradKernels<double> dwinograd() { return winograd_kernels<double>("f4x4-generic"); }

}  // namespace fastconv::kernels::generic
