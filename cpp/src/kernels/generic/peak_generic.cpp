// The multiply-add ceiling of the baseline target: independent accumulator chains, so the
// loop is bound by arithmetic throughput rather than latency.
#include "kernels/kernels.hpp"

namespace fastconv::kernels::generic {
namespace {

constexpr int kChains = 8, kWidth = 4;

float fma_loop(std::int64_t iterations, float seed) noexcept {
  float acc[kChains][kWidth];
  for (int i = 0; i < kChains; ++i)
    for (int j = 0; j < kWidth; ++j) acc[i][j] = seed + float(i * kWidth + j);
  const float a = 0.999999f, b = 1e-7f;
  for (std::int64_t it = 0; it < iterations; ++it)
    for (int i = 0; i < kChains; ++i)
      for (int j = 0; j < kWidth; ++j) acc[i][j] = acc[i][j] * a + b;
  float sum = 0;
  for (int i = 0; i < kChains; ++i)
    for (int j = 0; j < kWidth; ++j) sum += acc[i][j];
  return sum;
}

}  // namespace

PeakKernel peak() { return {fma_loop, 2 * kChains * kWidth}; }

}  // namespace fastconv::kernels::generic
