// A native application of the C++ API, no Python involved: it draws an image with a bright
// lower half, finds its horizontal edge with the textbook filter, runs a backward pass, and
// checks both against the scalar reference plan.
#include <cmath>
#include <cstdio>
#include <vector>

#include "fastconv/fastconv.hpp"

int main() {
  fastconv::ConvDesc d;
  d.n = 1, d.c = 1, d.h = 8, d.w = 8;  // one grey image
  d.k = 2, d.r = 3, d.s = 3;           // horizontal and vertical edge filters
  d.pad_top = d.pad_bottom = d.pad_left = d.pad_right = 1;

  std::vector<float> image(64, 0.0f);
  for (int i = 32; i < 64; ++i) image[i] = 255.0f;  // dark above, bright below
  const std::vector<float> filters = {-1, -1, -1, 0, 0, 0, 1, 1, 1,   // horizontal edges
                                      -1, 0, 1, -1, 0, 1, -1, 0, 1};  // vertical edges

  fastconv::Plan plan(d);  // Algorithm::Auto
  fastconv::Plan oracle(d, fastconv::Algorithm::Reference);
  std::vector<float> edges(d.output_size()), expect(d.output_size());
  plan.forward(image.data(), filters.data(), nullptr, edges.data());
  oracle.forward(image.data(), filters.data(), nullptr, expect.data());

  std::printf("%s via %s\nhorizontal edge map:\n", d.to_string().c_str(), plan.implementation().c_str());
  for (int y = 0; y < 8; ++y) {
    for (int x = 0; x < 8; ++x) std::printf("%6.0f", edges[y * 8 + x]);
    std::printf("\n");
  }

  // Backward: gradients of sum(edges) with respect to the image and the filters.
  std::vector<float> grad_out(d.output_size(), 1.0f), grad_image(64), grad_filters(18), grad_bias(2);
  std::vector<float> want_image(64), want_filters(18), want_bias(2);
  plan.backward_data(grad_out.data(), filters.data(), grad_image.data());
  plan.backward_weights(image.data(), grad_out.data(), grad_filters.data(), grad_bias.data());
  oracle.backward_data(grad_out.data(), filters.data(), want_image.data());
  oracle.backward_weights(image.data(), grad_out.data(), want_filters.data(), want_bias.data());

  auto same = [](const std::vector<float>& a, const std::vector<float>& b) {
    for (std::size_t i = 0; i < a.size(); ++i)
      if (std::fabs(a[i] - b[i]) > 1e-3f * (1.0f + std::fabs(b[i]))) return false;
    return true;
  };
  const bool ok = edges[3 * 8 + 4] == 765.0f && edges[1 * 8 + 4] == 0.0f && same(edges, expect) &&
                  same(grad_image, want_image) && same(grad_filters, want_filters) &&
                  same(grad_bias, want_bias) && grad_bias[0] == 64.0f;

  try {  // bad descriptors throw an exception that names the argument
    fastconv::ConvDesc bad = d;
    bad.stride_h = 0;
    fastconv::Plan nope(bad);
    std::printf("expected an exception for stride_h=0\n");
    return 1;
  } catch (const std::invalid_argument& e) {
    std::printf("bad descriptor rejected: %s\n", e.what());
  }
  std::printf(ok ? "OK\n" : "MISMATCH\n");
  return ok ? 0 : 1;
}
