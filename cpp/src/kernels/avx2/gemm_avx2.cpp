// AVX2+FMA GEMM microkernels: 6 rows x 2 vectors of accumulators (12 of the 16 ymm registers).
// Built with -mavx2 -mfma; called only when the CPU reports both.
#include <algorithm>
#include <array>
#include <utility>

#include "kernels/avx2/vec_avx2.hpp"
#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx2 {
#include "kernels/gemm_6x2v.inl"
#include "kernels/gemm_runs.inl"
#include "kernels/pack_panel.inl"
#include "kernels/pack_panel_avx2.inl"
#include "kernels/col2im_vec.inl"

GemmMicrokernel<float> sgemm() {
  GemmMicrokernel<float> k = {gemm_packed<float>, gemm_packed_tall<float>, gemm_rows_a<float>, gemm_rows_tall<float>,
          gemm_6x2v_indirect<float>, gemm_6x1v_indirect<float>, gemm_indirect_tall<float>,
          gemm_rows_b<float>, pack_panel_f32, unpack_panel_f32, kMR, 2 * Vec<float>::width,
          "gemm-avx2-fma-6x16"};
  k.run_kernel = run_kernel<float>, k.col2im_rows = col2im_rows<float>, k.vector_width = Vec<float>::width;
  return k;
}
GemmMicrokernel<double> dgemm() {
  GemmMicrokernel<double> k = {gemm_packed<double>, gemm_packed_tall<double>, gemm_rows_a<double>, gemm_rows_tall<double>,
          gemm_6x2v_indirect<double>, gemm_6x1v_indirect<double>, gemm_indirect_tall<double>,
          gemm_rows_b<double>, pack_panel_loops<double>, unpack_panel_loops<double>, kMR, 2 * Vec<double>::width,
          "gemm-avx2-fma-6x8"};
  k.run_kernel = run_kernel<double>, k.col2im_rows = col2im_rows<double>, k.vector_width = Vec<double>::width;
  return k;
}

}  // namespace fastconv::kernels::avx2
