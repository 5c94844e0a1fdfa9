// The FMA ceiling with AVX-512: 10 independent chains of register-wide FMAs, enough to cover
// the FMA latency on two pipes. Built with the AVX-512 flags.
#include "kernels/avx512/vec_avx512.hpp"
#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx512 {
namespace {

constexpr int kChains = 10;

// Named variables, not an array: GCC keeps them in registers.
float fma_loop(std::int64_t iterations, float seed) noexcept {
  using V = Vec<float>;
  const auto a = V::set1(0.999999f), b = V::set1(1e-7f);
  auto c0 = V::set1(seed), c1 = V::add(c0, b), c2 = V::add(c1, b), c3 = V::add(c2, b), c4 = V::add(c3, b);
  auto c5 = V::add(c4, b), c6 = V::add(c5, b), c7 = V::add(c6, b), c8 = V::add(c7, b), c9 = V::add(c8, b);
  for (std::int64_t it = 0; it < iterations; ++it) {
    c0 = V::fma(c0, a, b), c1 = V::fma(c1, a, b), c2 = V::fma(c2, a, b), c3 = V::fma(c3, a, b), c4 = V::fma(c4, a, b);
    c5 = V::fma(c5, a, b), c6 = V::fma(c6, a, b), c7 = V::fma(c7, a, b), c8 = V::fma(c8, a, b), c9 = V::fma(c9, a, b);
  }
  const auto s = V::add(V::add(V::add(V::add(c0, c1), V::add(c2, c3)), V::add(V::add(c4, c5), V::add(c6, c7))),
                        V::add(c8, c9));
  return V::sum(s);
}

}  // namespace

PeakKernel peak() { return {fma_loop, 2 * kChains * Vec<float>::width}; }

}  // namespace fastconv::kernels::avx512
