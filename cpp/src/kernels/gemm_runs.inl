// The gathered GEMM microkernels for rows that come in runs (GemmMicrokernel::run_kernel),
// written once over the including ISA's Vec<T> and its register count (kRunSums).

namespace {

// Accumulators a run kernel may take: all registers but room for B's vectors and a broadcast.
constexpr int kRunSums = kVectorRegisters - 4;
constexpr int kMaxRunBases = 6;  // and the most runs (a base pointer each)
static_assert(kRunSums <= kMaxRunRows, "a run kernel's rows fit the callers' tables");

// Runs of `length` pixels a kernel of `vectors`-wide rows takes at once.
constexpr int runs_of(int length, int vectors) { return std::min(kMaxRunBases, std::max(1, kRunSums / (length * vectors))); }

// C (rows ldc apart) = or += A B over kc steps, with A's H * N rows in H runs of N: element
// (h * N + i, p) at rows[h * N] + i + off[p]. B is a panel NV vectors wide. Each run's base
// plus off[p] is formed once per step, in a register (the empty asm keeps the compiler from
// folding it back into an indexed address), so every multiply-add reads A at a fixed
// displacement. Each element is the same chain of multiply-adds as in the gathered kernels,
// so the bits are theirs.
template <typename T, int N, int H, int NV>
void gemm_runs_indirect(std::int64_t kc, const T* const* rows, const std::int64_t* off, const T* b, T* c,
                        std::int64_t ldc, bool accumulate) noexcept {
  using V = Vec<T>;
  using R = typename V::type;
  constexpr int W = V::width;
  const T* base[H];
#pragma GCC unroll 8
  for (int h = 0; h < H; ++h) base[h] = rows[h * N];
  R acc[N * H * NV];
#pragma GCC unroll 64
  for (int e = 0; e < N * H * NV; ++e) acc[e] = V::zero();
  for (std::int64_t p = 0; p < kc; ++p, b += NV * W) {
    const std::int64_t o = off[p];
    R bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = V::load(b + v * W);
#pragma GCC unroll 8
    for (int h = 0; h < H; ++h) {
      const T* a = base[h] + o;
      asm("" : "+r"(a));
#pragma GCC unroll 32
      for (int i = 0; i < N; ++i) {
        const R x = V::broadcast(a + i);
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[(h * N + i) * NV + v] = V::fma(x, bv[v], acc[(h * N + i) * NV + v]);
      }
    }
  }
#pragma GCC unroll 64
  for (int e = 0; e < N * H; ++e)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) store_1v<T>(c + e * ldc + v * W, accumulate, acc[e * NV + v]);
}

// The kernels for runs of 1 .. L pixels, NV vectors wide.
template <typename T, int NV, int... I>
constexpr std::array<GemmIndirectMicrokernelFn<T>, sizeof...(I)> run_kernels(std::integer_sequence<int, I...>) {
  return {gemm_runs_indirect<T, I + 1, runs_of(I + 1, NV), NV>...};
}

// The run kernel for output rows of `row` pixels and panels `vectors` vectors wide: runs of the
// divisor of `row` that fills the most accumulators (the longer run where two tie), or none
// where the best fills fewer than half (a prime row length past the longest run).
template <typename T>
GemmRunKernel<T> run_kernel(std::int64_t row, int vectors) noexcept {
  constexpr int kOne = kRunSums, kTwo = kRunSums / 2;
  static constexpr auto one = run_kernels<T, 1>(std::make_integer_sequence<int, kOne>());
  static constexpr auto two = run_kernels<T, 2>(std::make_integer_sequence<int, kTwo>());
  if (vectors != 1 && vectors != 2) return {};
  const int longest = vectors == 1 ? kOne : kTwo;
  int best = 0, sums = 0;
  for (int n = 1; n <= longest; ++n) {
    const int s = n * runs_of(n, vectors) * vectors;
    if (row % n == 0 && s >= sums) best = n, sums = s;
  }
  if (2 * sums < kRunSums) return {};
  return {vectors == 1 ? one[std::size_t(best - 1)] : two[std::size_t(best - 1)], best, runs_of(best, vectors)};
}

}  // namespace
