#include <atomic>
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif

#include "fastconv/errors.hpp"
#include "fastconv/plan.hpp"
#include "threads.hpp"

namespace fastconv {
namespace {

int default_threads() noexcept {
#ifdef _OPENMP
  return omp_get_max_threads();  // honours OMP_NUM_THREADS
#else
  return 1;
#endif
}

// A library-wide count rather than omp_set_num_threads, whose setting is per calling thread.
std::atomic<int>& thread_count() noexcept {
  static std::atomic<int> count{default_threads()};
  return count;
}

thread_local int local_count = 0;  // 0: none set

std::atomic<bool> forked{false};

#if defined(__unix__) || defined(__APPLE__)
const int fork_handler = pthread_atfork(nullptr, nullptr, [] { forked.store(true); });
#endif

}  // namespace

bool forked_child() noexcept { return forked.load(std::memory_order_relaxed); }

void set_num_threads(int n) {
  if (n < 1) throw InvalidArgument("number of threads must be positive, got n=" + std::to_string(n));
  thread_count().store(n);
}

int get_num_threads() noexcept { return local_count > 0 ? local_count : thread_count().load(); }

void set_local_num_threads(int n) {
  if (n < 0) throw InvalidArgument("number of threads must be non-negative, got n=" + std::to_string(n));
  local_count = n;
}

int get_local_num_threads() noexcept { return local_count; }

}  // namespace fastconv
