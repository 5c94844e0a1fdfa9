// Portable GEMM microkernels: plain loops the compiler vectorises for the baseline target.
#include "kernels/kernels.hpp"

namespace fastconv::kernels::generic {
namespace {

template <typename T, int MR, int NR>
void gemm_ukernel(std::int64_t kc, const T* a, const T* b, T* c, std::int64_t ldc,
                  bool accumulate) noexcept {
  T acc[MR][NR] = {};
  for (std::int64_t p = 0; p < kc; ++p) {
    const T* ap = a + p * MR;
    const T* bp = b + p * NR;
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i][j] += ap[i] * bp[j];
  }
  for (int i = 0; i < MR; ++i)
    for (int j = 0; j < NR; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : T(0)) + acc[i][j];
}

}  // namespace

GemmMicrokernel<float> sgemm() { return {gemm_ukernel<float, 4, 8>, 4, 8, "gemm-generic-4x8"}; }
GemmMicrokernel<double> dgemm() { return {gemm_ukernel<double, 4, 4>, 4, 4, "gemm-generic-4x4"}; }

}  // namespace fastconv::kernels::generic
