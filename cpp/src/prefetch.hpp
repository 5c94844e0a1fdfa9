#pragma once
// Hints that fetch memory into cache ahead of its use (GCC and Clang; other compilers go without).
#include <cstddef>

namespace fastconv {

// The cache lines of [p, p + bytes), with __builtin_prefetch's locality (1: toward L2, 3: L1).
// Inlined early, as must be any caller whose body only prefetches: GCC judges such a call free
// of effects and drops it (the first build of the Winograd prefetch had no prefetch at all).
template <int Locality>
[[gnu::always_inline]] inline void prefetch_range(const void* p, std::size_t bytes) noexcept {
#if defined(__GNUC__)
  const char* c = static_cast<const char*>(p);
  for (std::size_t b = 0; b < bytes; b += 64) __builtin_prefetch(c + b, 0, Locality);
#else
  (void)p, (void)bytes;
#endif
}

}  // namespace fastconv
