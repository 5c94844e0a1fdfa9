// Winograd transforms for the baseline target.
#include <algorithm>

#include "kernels/kernels.hpp"

namespace fastconv::kernels::generic {
constexpr int kLanes = 8;
#include "kernels/winograd_tiles.inl"

WinogradFamily<float> swinograd() {
  return {winograd_kernels<F2, float>("f2x2-generic"), winograd_kernels<F4, float>("f4x4-generic"),
          winograd_kernels<F6, float>("f6x6-generic")};
}
WinogradFamily<double> dwinograd() {
  return {winograd_kernels<F2, double>("f2x2-generic"), winograd_kernels<F4, double>("f4x4-generic"),
          winograd_kernels<F6, double>("f6x6-generic")};
}

}  // namespace fastconv::kernels::generic
