#include "fastconv/descriptor.hpp"

#include <limits>
#include <sstream>

#include "fastconv/errors.hpp"

namespace fastconv {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

[[noreturn]] void fail(const std::string& what) { throw InvalidArgument(what); }

std::string named(const char* name, std::int64_t value) {
  return std::string(name) + "=" + std::to_string(value);
}

void require_positive(const char* name, std::int64_t value) {
  if (value < 1) fail(std::string(name) + " must be positive, got " + named(name, value));
}

void require_nonnegative(const char* name, std::int64_t value) {
  if (value < 0) fail(std::string(name) + " must be non-negative, got " + named(name, value));
}

// Checked arithmetic on non-negative values (validated before use), portable to any compiler.
std::int64_t checked_mul(std::int64_t a, std::int64_t b, const std::string& what) {
  if (a != 0 && b > kMax / a) fail(what + " overflows a 64-bit element count");
  return a * b;
}

std::int64_t checked_add(std::int64_t a, std::int64_t b, const std::string& what) {
  if (b > kMax - a) fail(what + " overflows 64-bit arithmetic");
  return a + b;
}

std::int64_t count(std::initializer_list<std::int64_t> dims, std::size_t elem, const char* what) {
  std::int64_t total = static_cast<std::int64_t>(elem);
  for (std::int64_t d : dims) total = checked_mul(total, d, what);
  return total / static_cast<std::int64_t>(elem);
}

// Output extent along one axis, after checking that the dilated kernel fits the padded input.
std::int64_t out_extent(const char* axis, std::int64_t in, std::int64_t pad_a, std::int64_t pad_b,
                        std::int64_t kernel, std::int64_t dilation, std::int64_t stride) {
  const std::string ax(axis);
  std::int64_t padded = checked_add(checked_add(in, pad_a, ax + " padding"), pad_b, ax + " padding");
  std::int64_t extent = checked_add(checked_mul(dilation, kernel - 1, ax + " dilated kernel"), 1,
                                    ax + " dilated kernel");
  if (extent > padded) {
    std::ostringstream m;
    m << "kernel " << ax << " with dilation (" << extent << ") is larger than the padded input "
      << ax << " (" << padded << ")";
    fail(m.str());
  }
  return (padded - extent) / stride + 1;
}

}  // namespace

const char* to_string(DType dtype) noexcept {
  return dtype == DType::Float32 ? "float32" : "float64";
}

std::size_t size_of(DType dtype) noexcept { return dtype == DType::Float32 ? 4 : 8; }

std::int64_t ConvDesc::p() const noexcept {
  return (h + pad_top + pad_bottom - dilation_h * (r - 1) - 1) / stride_h + 1;
}

std::int64_t ConvDesc::q() const noexcept {
  return (w + pad_left + pad_right - dilation_w * (s - 1) - 1) / stride_w + 1;
}

void ConvDesc::validate() const {
  require_positive("n", n);
  require_positive("c", c);
  require_positive("h", h);
  require_positive("w", w);
  require_positive("k", k);
  require_positive("r", r);
  require_positive("s", s);
  require_positive("stride_h", stride_h);
  require_positive("stride_w", stride_w);
  require_positive("dilation_h", dilation_h);
  require_positive("dilation_w", dilation_w);
  require_nonnegative("pad_top", pad_top);
  require_nonnegative("pad_bottom", pad_bottom);
  require_nonnegative("pad_left", pad_left);
  require_nonnegative("pad_right", pad_right);
  require_positive("groups", groups);
  if (dtype != DType::Float32 && dtype != DType::Float64) fail("dtype must be float32 or float64");
  if (input_layout != Layout::NCHW && input_layout != Layout::NHWC) fail("input_layout must be NCHW or NHWC");
  if (c % groups != 0)
    fail("groups=" + std::to_string(groups) + " does not divide the input channels " + named("c", c));
  if (k % groups != 0)
    fail("groups=" + std::to_string(groups) + " does not divide the output channels " + named("k", k));

  const std::int64_t out_h = out_extent("height", h, pad_top, pad_bottom, r, dilation_h, stride_h);
  const std::int64_t out_w = out_extent("width", w, pad_left, pad_right, s, dilation_w, stride_w);

  // Element counts (and byte counts) of every buffer must fit, so kernels can index in int64.
  const std::size_t e = size_of(dtype);
  count({n, c, h, w}, e, "input size");
  count({n, k, out_h, out_w}, e, "output size");
  count({k, c / groups, r, s}, e, "weight size");
  // Kernels form K x (C/groups * R * S) and (N * P * Q) reduction extents.
  count({c, r, s, k}, e, "weight reduction size");
  count({n, out_h, out_w, k}, e, "output reduction size");
}

std::string ConvDesc::to_string() const {
  std::ostringstream m;
  m << "ConvDesc(n=" << n << ", c=" << c << ", h=" << h << ", w=" << w << ", k=" << k
    << ", r=" << r << ", s=" << s << ", stride=(" << stride_h << ", " << stride_w
    << "), dilation=(" << dilation_h << ", " << dilation_w << "), padding=(" << pad_top << ", "
    << pad_bottom << ", " << pad_left << ", " << pad_right << "), groups=" << groups
    << ", dtype=" << fastconv::to_string(dtype)
    << (input_layout == Layout::NHWC ? ", input_layout=NHWC" : "") << ")";
  return m.str();
}

}  // namespace fastconv
