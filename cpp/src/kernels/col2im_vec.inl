// col2im of the wide T layout (BackwardDataCol2imProblem::wide) over the including ISA's Vec<T>,
// for the x86 GEMM files (AVX2 and AVX-512 include it inside their namespaces).

namespace {

// Col2imWideFn: a block of dX's vectors summed in registers, tap after tap, each tap's run of T
// loaded at the vectors it overlaps (masked at its ends), then stored once. Run by run into dX
// instead, each add waited on the store of the tap before: LeNet conv2's input gradient at batch
// 64 took 0.378 ms on one thread that way and 0.324 so (0.235 and 0.201 on two). The same adds
// in the same order, so the same bits. (A table of every tap's masks, made once per call, ran no
// faster than these tests.)
template <typename T>
void col2im_wide(const T* t, std::int64_t ld, std::int64_t t_plane, const std::int64_t* at, int taps, std::int64_t len,
                 T* dx, std::int64_t size, std::int64_t planes) noexcept {
  using V = Vec<T>;
  constexpr int W = V::width, kBlock = kVectorRegisters / 2;  // the sums; the rest for loads
  for (std::int64_t p = 0; p < planes; ++p, t += t_plane, dx += size)
    for (std::int64_t v0 = 0; v0 < size; v0 += kBlock * W) {
      const int n = int(std::min<std::int64_t>(kBlock, (size - v0 + W - 1) / W));
      typename V::type acc[kBlock];
      for (int j = 0; j < kBlock; ++j) acc[j] = V::zero();
      for (int tap = 0; tap < taps; ++tap) {
        const std::int64_t lo = at[tap] - v0, hi = lo + len;  // the run's place in this block
        const T* src = t + tap * ld - at[tap] + v0;          // src[e] is this tap's for block element e
#pragma GCC unroll 16
        for (int j = 0; j < kBlock; ++j) {
          const std::int64_t e = j * W;
          if (j >= n || e + W <= lo || e >= hi) continue;
          if (e >= lo && e + W <= hi) {
            acc[j] = V::add(acc[j], V::load(src + e));
          } else {
            const auto m = V::between(int(std::max<std::int64_t>(lo - e, 0)), int(std::min<std::int64_t>(hi - e, W)));
            acc[j] = V::add(acc[j], V::load(src + e, m));
          }
        }
      }
#pragma GCC unroll 16
      for (int j = 0; j < kBlock; ++j) {
        const std::int64_t e = v0 + j * W;
        if (j >= n) break;
        if (e + W <= size) {
          V::store(dx + e, acc[j]);
        } else {
          V::store(dx + e, V::first(int(size - e)), acc[j]);
        }
      }
    }
}

}  // namespace
