// The direct algorithm in each direction over the standard layers, in GFLOP/s.
// Build: cmake -B build -DFASTCONV_BUILD_BENCHMARKS=ON && cmake --build build && build/bench/bench_direct
#include <benchmark/benchmark.h>

#include <vector>

#include "fastconv/fastconv.hpp"

namespace {

struct Layer {
  const char* name;
  std::int64_t n, c, hw, k, rs, stride, pad, groups;
};

const Layer kLayers[] = {
    {"lenet.conv2", 64, 6, 12, 16, 5, 1, 0, 1},
    {"vgg16.conv1_1", 8, 3, 224, 64, 3, 1, 1, 1},
    {"resnet18.layer1", 1, 64, 56, 64, 3, 1, 1, 1},
    {"resnet18.layer3", 16, 256, 14, 256, 3, 1, 1, 1},
    {"resnet18.layer4.down", 16, 256, 14, 512, 3, 2, 1, 1},
    {"resnet50.1x1.expand", 16, 64, 56, 256, 1, 1, 0, 1},
    {"mobilenet.dw3x3", 16, 32, 112, 32, 3, 1, 1, 32},
};

fastconv::ConvDesc desc(const Layer& l) {
  fastconv::ConvDesc d;
  d.n = l.n, d.c = l.c, d.h = d.w = l.hw, d.k = l.k, d.r = d.s = l.rs;
  d.stride_h = d.stride_w = l.stride;
  d.pad_top = d.pad_bottom = d.pad_left = d.pad_right = l.pad;
  d.groups = l.groups;
  return d;
}

void run(benchmark::State& state, const Layer& layer, fastconv::Direction dir) {
  const fastconv::ConvDesc d = desc(layer);
  fastconv::Plan plan(d, fastconv::Algorithm::Direct);
  std::vector<float> x(d.input_size(), 1.0f), w(d.weight_size(), 0.5f), y(d.output_size(), 0.25f);
  std::vector<float> b(d.k, 0.0f);
  std::vector<unsigned char> ws(plan.workspace_size(dir));
  for (auto _ : state) {
    switch (dir) {
      case fastconv::Direction::Forward: plan.forward(x.data(), w.data(), b.data(), y.data(), ws.data()); break;
      case fastconv::Direction::BackwardData: plan.backward_data(y.data(), w.data(), x.data(), ws.data()); break;
      case fastconv::Direction::BackwardWeights:
        plan.backward_weights(x.data(), y.data(), w.data(), b.data(), ws.data());
        break;
    }
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * d.output_size() * (d.c / d.groups) * d.r * d.s;
  state.counters["GFLOP/s"] = benchmark::Counter(flops * 1e-9 * state.iterations(), benchmark::Counter::kIsRate);
  state.SetLabel(plan.implementation());
}

const int kRegistered = [] {
  const std::pair<const char*, fastconv::Direction> dirs[] = {
      {"forward", fastconv::Direction::Forward},
      {"backward_data", fastconv::Direction::BackwardData},
      {"backward_weights", fastconv::Direction::BackwardWeights}};
  for (const Layer& l : kLayers)
    for (const auto& [name, dir] : dirs)
      benchmark::RegisterBenchmark((std::string(l.name) + "/" + name).c_str(),
                                   [&l, dir = dir](benchmark::State& s) { run(s, l, dir); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  return 0;
}();

}  // namespace

BENCHMARK_MAIN();
