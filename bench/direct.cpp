// The direct algorithm's implicit GEMM in each direction over dense layers, in GFLOP/s.
// Build: cmake -B build -DFASTCONV_BUILD_BENCHMARKS=ON && cmake --build build && build/bench/bench_direct
#include "harness.hpp"

namespace {

const fastconv_bench::Layer kLayers[] = {
    {"lenet.conv2", 64, 6, 12, 16, 5, 1, 0, 1},
    {"vgg16.conv1_1", 8, 3, 224, 64, 3, 1, 1, 1},
    {"resnet18.layer1", 1, 64, 56, 64, 3, 1, 1, 1},
    {"resnet18.layer3", 16, 256, 14, 256, 3, 1, 1, 1},
    {"resnet18.layer4.down", 16, 256, 14, 512, 3, 2, 1, 1},
    {"resnet50.1x1.expand", 16, 64, 56, 256, 1, 1, 0, 1},
    {"resnext50.layer2", 16, 256, 28, 256, 3, 1, 1, 32},
};
const int kRegistered = fastconv_bench::register_layers(kLayers, fastconv::Algorithm::Direct);

}  // namespace

BENCHMARK_MAIN();
