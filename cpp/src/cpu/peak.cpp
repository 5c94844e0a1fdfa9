// Measures the float32 multiply-add ceiling of this machine with the active kernel set, so the
// benchmark can report each layer as a fraction of it.
#include <algorithm>
#include <chrono>
#include <vector>

#include "cpu/kernel_table.hpp"
#include "fastconv/cpu.hpp"
#include "fastconv/errors.hpp"
#include "threads.hpp"

namespace fastconv {

double measure_peak_gflops(int threads, double seconds) {
  if (threads < 1) throw InvalidArgument("threads must be positive, got threads=" + std::to_string(threads));
  if (!(seconds > 0)) throw InvalidArgument("seconds must be positive, got seconds=" + std::to_string(seconds));
  const PeakKernel& k = kernel_table().peak;
  using clock = std::chrono::steady_clock;
  // Calibrate on one thread, then run every thread for about `seconds`.
  std::int64_t iterations = 1 << 16;
  volatile float sink = 0;
  for (;;) {
    const auto t0 = clock::now();
    sink = sink + k.run(iterations, 1.0f);
    const double dt = std::chrono::duration<double>(clock::now() - t0).count();
    if (dt > seconds / 4 || iterations > (std::int64_t(1) << 40)) {
      iterations = std::int64_t(double(iterations) * seconds / dt) + 1;
      break;
    }
    iterations *= 4;
  }
  double best = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {  // the best of three: a busy neighbour only slows
    std::vector<double> elapsed(static_cast<std::size_t>(threads), 0.0);
#pragma omp parallel num_threads(threads) if (!forked_child())
    {
      const auto t0 = clock::now();
      const float r = k.run(iterations, float(thread_index()));
      elapsed[static_cast<std::size_t>(thread_index())] = std::chrono::duration<double>(clock::now() - t0).count();
      if (r == 12345.0f) sink = sink + r;  // keeps the loop alive
    }
    double total = 0;
    for (double dt : elapsed)
      if (dt > 0) total += double(iterations) * k.flops_per_iteration / dt;
    best = std::max(best, total * 1e-9);
  }
  return best;
}

}  // namespace fastconv
