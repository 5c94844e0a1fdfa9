// AVX-512 GEMM microkernels: the shared 6 x 2-vector kernels on zmm registers (6x32 for float,
// 6x16 for double). Built with the AVX-512 flags; called only when the CPU reports F, BW, VL, DQ.
#include <algorithm>
#include <array>
#include <utility>

#include "kernels/avx512/vec_avx512.hpp"
#include "kernels/kernels.hpp"

namespace fastconv::kernels::avx512 {
#include "kernels/gemm_6x2v.inl"
#include "kernels/gemm_8x2v.inl"
#include "kernels/gemm_runs.inl"
#include "kernels/pack_panel.inl"
#include "kernels/pack_panel_avx2.inl"
#include "kernels/col2im_vec.inl"

GemmMicrokernel<float> sgemm() {
  GemmMicrokernel<float> k = {gemm_packed<float>, gemm_packed_tall<float>, gemm_rows_a<float>,
                              gemm_rows_tall<float>, gemm_6x2v_indirect<float>, gemm_6x1v_indirect<float>,
                              gemm_indirect_tall<float>, gemm_rows_b<float>, pack_panel_f32, unpack_panel_f32, kMR,
                              2 * Vec<float>::width, "gemm-avx512-6x32"};
  k.run_indirect_pair = gemm_12x2v_indirect<float>, k.run_indirect_narrow_pair = gemm_12x1v_indirect<float>;
  k.run_kernel = run_kernel<float>, k.col2im_rows = col2im_rows<float>, k.vector_width = Vec<float>::width;
  return k;
}
GemmMicrokernel<double> dgemm() {
  GemmMicrokernel<double> k = {gemm_packed<double>, gemm_packed_tall<double>, gemm_rows_a<double>,
                               gemm_rows_tall<double>, gemm_6x2v_indirect<double>, gemm_6x1v_indirect<double>,
                               gemm_indirect_tall<double>, gemm_rows_b<double>, pack_panel_loops<double>, unpack_panel_loops<double>, kMR,
                               2 * Vec<double>::width, "gemm-avx512-6x16"};
  k.run_indirect_pair = gemm_12x2v_indirect<double>, k.run_indirect_narrow_pair = gemm_12x1v_indirect<double>;
  k.run_kernel = run_kernel<double>, k.col2im_rows = col2im_rows<double>, k.vector_width = Vec<double>::width;
  return k;
}

// The 8-row kernels: packed A, A in place, and B in place; no tall or gathered entries.
GemmMicrokernel<float> sgemm8() {
  GemmMicrokernel<float> k;
  k.run = gemm8_packed<float>, k.run_rows = gemm8_rows_a<float>, k.run_rows_b = gemm8_rows_b<float>;
  k.pack = pack_panel_f32, k.unpack = unpack_panel_f32, k.mr = kMR8, k.nr = 2 * Vec<float>::width, k.name = "gemm-avx512-8x32";
  return k;
}
GemmMicrokernel<double> dgemm8() {
  GemmMicrokernel<double> k;
  k.run = gemm8_packed<double>, k.run_rows = gemm8_rows_a<double>, k.run_rows_b = gemm8_rows_b<double>;
  k.pack = pack_panel_loops<double>, k.unpack = unpack_panel_loops<double>, k.mr = kMR8, k.nr = 2 * Vec<double>::width, k.name = "gemm-avx512-8x16";
  return k;
}

}  // namespace fastconv::kernels::avx512
