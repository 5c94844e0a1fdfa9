// Winograd F(4x4, 3x3), F(2x2, 3x3) and F(6x6, 3x3) in each direction over 3x3 stride-1 layers, in effective
// GFLOP/s (the direct algorithm's FLOPs, so above the machine's peak where Winograd saves
// multiplications).
// Build: cmake -B build -DFASTCONV_BUILD_BENCHMARKS=ON && cmake --build build && build/bench/bench_winograd
#include "harness.hpp"

namespace {

const fastconv_bench::Layer kLayers[] = {
    {"vgg16.conv3_2", 1, 256, 56, 256, 3, 1, 1, 1},
    {"resnet18.layer1", 1, 64, 56, 64, 3, 1, 1, 1},
    {"resnet18.layer1.b16", 16, 64, 56, 64, 3, 1, 1, 1},
    {"resnet18.layer3", 16, 256, 14, 256, 3, 1, 1, 1},
};
const int kRegistered = fastconv_bench::register_layers(kLayers, fastconv::Algorithm::Winograd) +
                        fastconv_bench::register_layers(kLayers, fastconv::Algorithm::WinogradF2) +
                        fastconv_bench::register_layers(kLayers, fastconv::Algorithm::WinogradF6);

}  // namespace

BENCHMARK_MAIN();
