#pragma once
#include <cstdint>
#include <string>

namespace fastconv {

enum class DType { Float32, Float64 };

// Memory order of the input x. NHWC is how images arrive from PIL, OpenCV and friends; it is
// read where it lies, into the same workspace planes as NCHW (every other tensor, and the input
// gradient, stay NCHW).
enum class Layout { NCHW, NHWC };

const char* to_string(DType dtype) noexcept;
std::size_t size_of(DType dtype) noexcept;

// A 2-D convolution: input N x C x H x W (NCHW), weights K x C/groups x R x S (KCRS),
// output N x K x P x Q. Padding is given per side; asymmetric padding is ordinary.
struct ConvDesc {
  std::int64_t n = 1, c = 1, h = 1, w = 1;  // input
  std::int64_t k = 1;                        // output channels
  std::int64_t r = 1, s = 1;                 // kernel height, width
  std::int64_t stride_h = 1, stride_w = 1;
  std::int64_t dilation_h = 1, dilation_w = 1;
  std::int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  std::int64_t groups = 1;
  DType dtype = DType::Float32;
  Layout input_layout = Layout::NCHW;

  // Output height and width: (H + pad_top + pad_bottom - dilation*(R-1) - 1) / stride + 1.
  std::int64_t p() const noexcept;
  std::int64_t q() const noexcept;

  std::int64_t input_size() const noexcept { return n * c * h * w; }
  std::int64_t weight_size() const noexcept { return k * (c / groups) * r * s; }
  std::int64_t output_size() const noexcept { return n * k * p() * q(); }

  // Throws InvalidArgument naming the first bad field; afterwards every size above fits in int64.
  void validate() const;

  std::string to_string() const;
};

}  // namespace fastconv
