#pragma once
// OpenMP glue kept in one place, so the rest of the code builds without OpenMP too.
#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastconv {

// True in a child process made by fork(). OpenMP's thread pool does not survive fork (GNU's
// would wait forever for its parent's threads), so every parallel region there runs on one thread.
bool forked_child() noexcept;

inline int thread_index() noexcept {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Threads in the calling parallel region (1 outside one).
inline int team_size() noexcept {
#ifdef _OPENMP
  return omp_get_num_threads();
#else
  return 1;
#endif
}

}  // namespace fastconv
