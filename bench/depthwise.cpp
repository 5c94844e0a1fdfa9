// The depthwise plane kernels (one input channel per group) in each direction, in GFLOP/s.
// Build: cmake -B build -DFASTCONV_BUILD_BENCHMARKS=ON && cmake --build build && build/bench/bench_depthwise
#include "harness.hpp"

namespace {

const fastconv_bench::Layer kLayers[] = {
    {"mobilenetv2.dw3x3", 16, 96, 56, 96, 3, 1, 1, 96},
    {"mobilenetv2.dw3x3.s2", 16, 144, 56, 144, 3, 2, 1, 144},
    {"mobilenetv2.dw3x3.b1", 1, 384, 14, 384, 3, 1, 1, 384},
};
const int kRegistered = fastconv_bench::register_layers(kLayers, fastconv::Algorithm::Direct);

}  // namespace

BENCHMARK_MAIN();
