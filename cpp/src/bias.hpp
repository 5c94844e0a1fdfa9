#pragma once
// The bias gradient, shared by every algorithm: db[k] = sum over images and pixels of dY[n, k],
// accumulated in double, one channel per thread, so the result never depends on threads.
#include <cstdint>

#include "threads.hpp"

namespace fastconv {

template <typename T>
void bias_gradient(std::int64_t n, std::int64_t k, std::int64_t pixels, const T* dy, T* db, int threads) noexcept {
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && !forked_child())
  for (std::int64_t c = 0; c < k; ++c) {
    // Eight partial sums in a fixed order: one running sum would wait on each add's latency.
    double part[8] = {};
    for (std::int64_t img = 0; img < n; ++img) {
      const T* p = dy + (img * k + c) * pixels;
      std::int64_t i = 0;
      for (; i + 8 <= pixels; i += 8)
        for (int j = 0; j < 8; ++j) part[j] += static_cast<double>(p[i + j]);
      for (; i < pixels; ++i) part[i % 8] += static_cast<double>(p[i]);
    }
    db[c] = static_cast<T>(((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7])));
  }
}

}  // namespace fastconv
