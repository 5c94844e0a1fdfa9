// The portable panel pack, written once and compiled once per ISA (kernels/<isa>/gemm_<isa>.cpp
// include it inside their own namespace): rows of a row-major matrix, transposed into a
// microkernel panel. Reads each row contiguously; the stores stride by the panel width, within L1.

namespace {

// Panel rows first..width-1 of the pack (see PackPanelFn): src rows first..rows-1, then zeros.
template <typename T>
void pack_panel_rows(const T* src, std::int64_t ld, std::int64_t rows, std::int64_t kc, T* dst, std::int64_t width,
                     std::int64_t first) noexcept {
  for (std::int64_t i = first; i < width; ++i) {
    T* to = dst + i;
    if (i >= rows) {
      for (std::int64_t p = 0; p < kc; ++p) to[p * width] = T(0);
      continue;
    }
    const T* from = src + i * ld;
    for (std::int64_t p = 0; p < kc; ++p) to[p * width] = from[p];
  }
}

template <typename T>
void pack_panel_loops(const T* src, std::int64_t ld, std::int64_t rows, std::int64_t kc, T* dst,
                      std::int64_t width) noexcept {
  pack_panel_rows(src, ld, rows, kc, dst, width, 0);
}

// The pack's inverse (see UnpackPanelFn), element by element.
template <typename T>
void unpack_panel_loops(const T* src, std::int64_t src_ld, std::int64_t rows, std::int64_t kc, T* dst,
                        std::int64_t ld, std::int64_t step) noexcept {
  for (std::int64_t p = 0; p < kc; ++p)
    for (std::int64_t i = 0; i < rows; ++i) dst[p * ld + i * step] = src[i * src_ld + p];
}

}  // namespace
