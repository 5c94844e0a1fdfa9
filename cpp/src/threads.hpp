#pragma once
// OpenMP glue kept in one place, so the rest of the code builds without OpenMP too.
#ifdef _OPENMP
#include <omp.h>
#endif

namespace fastconv {

inline int thread_index() noexcept {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

}  // namespace fastconv
