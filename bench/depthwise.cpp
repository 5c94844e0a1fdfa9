// The depthwise kernels (one input channel per group: planes, or channel blocks where rows are
// short or the kernel 5x5) in each direction, in GFLOP/s.
// Build: cmake -B build -DFASTCONV_BUILD_BENCHMARKS=ON && cmake --build build && build/bench/bench_depthwise
#include "harness.hpp"

namespace {

const fastconv_bench::Layer kLayers[] = {
    {"mobilenetv2.dw3x3", 16, 96, 56, 96, 3, 1, 1, 96},
    {"mobilenetv2.dw3x3.s2", 16, 144, 56, 144, 3, 2, 1, 144},
    {"mobilenetv2.dw3x3.b1", 1, 384, 14, 384, 3, 1, 1, 384},
    {"efficientnet_b0.dw5x5.b1", 1, 240, 28, 240, 5, 1, 2, 240},
};
const int kRegistered = fastconv_bench::register_layers(kLayers, fastconv::Algorithm::Direct);

}  // namespace

BENCHMARK_MAIN();
