// Winograd transforms for AVX-512 CPUs: the loops of winograd_tiles.inl over blocks of 16 tiles,
// built with the AVX-512 flags and 512-bit vectors preferred, so that a row of lanes is one zmm
// register of floats (two of doubles). Float weights keep AVX2's kernels, which transpose 8
// filters in registers (the driver hands weights over 8 filters at a time, whatever the tile
// lanes), and so do F(4x4)'s float input and output transforms, which load patch rows whole
// where these loops gather element by element. No AVX-512 machine has timed either choice.
#include <algorithm>

#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx512 {
constexpr int kLanes = 16;
#include "kernels/winograd_tiles.inl"

namespace {

template <typename F>
WinogradKernels<float> with_avx2_weights(const char* name, const WinogradKernels<float>& avx2) {
  WinogradKernels<float> k = winograd_kernels<F, float>(name);
  k.weights = avx2.weights;
  k.weights_t = avx2.weights_t;
  return k;
}

}  // namespace

WinogradFamily<float> swinograd() {
  const WinogradFamily<float> avx2 = kernels::avx2::swinograd();
  return {with_avx2_weights<F2>("f2x2-avx512", avx2.f2), avx2.f4, with_avx2_weights<F6>("f6x6-avx512", avx2.f6)};
}
WinogradFamily<double> dwinograd() {
  return {winograd_kernels<F2, double>("f2x2-avx512"), winograd_kernels<F4, double>("f4x4-avx512"),
          winograd_kernels<F6, double>("f6x6-avx512")};
}

}  // namespace fastconv::kernels::avx512
