#pragma once
// The shared harness of the C++ benchmarks: a layer table, one benchmark per (layer, direction)
// on a plan of the given algorithm, reporting GFLOP/s (direct-convolution FLOPs) and the kernel.
#include <benchmark/benchmark.h>

#include <string>
#include <utility>
#include <vector>

#include "fastconv/fastconv.hpp"

namespace fastconv_bench {

struct Layer {
  const char* name;
  std::int64_t n, c, hw, k, rs, stride, pad, groups;
};

inline fastconv::ConvDesc desc(const Layer& l) {
  fastconv::ConvDesc d;
  d.n = l.n, d.c = l.c, d.h = d.w = l.hw, d.k = l.k, d.r = d.s = l.rs;
  d.stride_h = d.stride_w = l.stride;
  d.pad_top = d.pad_bottom = d.pad_left = d.pad_right = l.pad;
  d.groups = l.groups;
  return d;
}

inline void run(benchmark::State& state, const Layer& layer, fastconv::Algorithm algorithm, fastconv::Direction dir) {
  const fastconv::ConvDesc d = desc(layer);
  fastconv::Plan plan(d, algorithm);
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
  state.SetLabel(plan.implementation(dir));
}

// Registers every layer in every direction; call from a static initialiser.
template <std::size_t N>
int register_layers(const Layer (&layers)[N], fastconv::Algorithm algorithm) {
  const std::pair<const char*, fastconv::Direction> dirs[] = {
      {"forward", fastconv::Direction::Forward},
      {"backward_data", fastconv::Direction::BackwardData},
      {"backward_weights", fastconv::Direction::BackwardWeights}};
  for (const Layer& l : layers)
    for (const auto& [name, dir] : dirs)
      benchmark::RegisterBenchmark((std::string(l.name) + "/" + name + "/" + fastconv::to_string(algorithm)).c_str(),
                                   [&l, algorithm, dir = dir](benchmark::State& s) { run(s, l, algorithm, dir); })
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  return 0;
}

}  // namespace fastconv_bench
