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
    double sum = 0;
    for (std::int64_t img = 0; img < n; ++img) {
      const T* p = dy + (img * k + c) * pixels;
      for (std::int64_t i = 0; i < pixels; ++i) sum += p[i];
    }
    db[c] = static_cast<T>(sum);
  }
}

}  // namespace fastconv
