// The one place that decides: validation, algorithm choice and the workspaces runs are given.
#include "fastconv/plan.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "fastconv/cpu.hpp"
#include "fastconv/errors.hpp"
#include "impl.hpp"

namespace fastconv {

const char* to_string(Algorithm algorithm) noexcept {
  switch (algorithm) {
    case Algorithm::Direct: return "direct";
    case Algorithm::Winograd: return "winograd";
    case Algorithm::WinogradF2: return "winograd_f2";
    case Algorithm::WinogradF6: return "winograd_f6";
    case Algorithm::Reference: return "reference";
    case Algorithm::Measure: return "measure";
    default: return "auto";
  }
}

Algorithm algorithm_from_string(const std::string& name) {
  for (Algorithm a : {Algorithm::Auto, Algorithm::Direct, Algorithm::Winograd, Algorithm::WinogradF2,
                      Algorithm::WinogradF6, Algorithm::Measure, Algorithm::Reference})
    if (name == to_string(a)) return a;
  throw InvalidArgument(
      "algorithm must be one of 'auto', 'direct', 'winograd', 'winograd_f2', 'winograd_f6', 'measure', 'reference', got "
      "algorithm='" + name + "'");
}

namespace {

// Where this machine's benchmark (bench/RESULTS.md) shows Winograd ahead of direct: the Winograd
// tile for the forward pass and input gradient (4 or 2, else 0), and whether the weight gradient
// gains too. float32, with at least 32 channels per group on both sides (3-channel layers have
// nothing to save):
// - F(4x4, 3x3) from 64 output tiles of 4x4 (ResNet-18 at 56x56 batch 1, 64 channels: 1.4x; at
//   14x14 batch 16, 256 channels: 1.2x), from 16 where images are 13x13 or more (14x14 batch 1:
//   1.4-1.8x at 32-512 channels) or there are 128 channels (7x7 batch 4: 1.4-1.6x);
// - F(2x2, 3x3) with fewer tiles, at least 16 of its own (the microkernel's panels) and 128
//   channels (7x7 batch 1 and 2, 128-512 channels: 1.2-1.6x), where F(4x4)'s 4 tiles an image
//   would fill a quarter of the panels.
// Below that, direct (7x7, 32-64 channels: F(2x2) 0.8-1.0x). Few tiles run with the weight
// transforms fused into the GEMM; before that, a per-call transform of all weights made them lose
// (ResNet-18 at 7x7 batch 1: 10x slower). With fewer than 64 tiles the weight gradient, which
// transforms input, gradient and sums on every call, gains only from 256 channels, or 128 on
// images of 13x13 or more (two threads: 7x7 at 128 channels 0.6-0.8x, 14x14 at 32-64 channels
// 0.55-0.76x); elsewhere it runs direct.
// float64: F(2x2, 3x3), whose error is direct's (F(4x4)'s is 10x that), from 64 channels per
// group and 64 tiles (VGG-16 conv3_2: 1.3-1.8x in every direction; 32 channels at 12x12: 0.8x).
// F(6x6, 3x3) never: it was slower than F(4x4) on every layer measured.
// Grouped layers do G times less GEMM work per transformed value than a dense layer of as many
// channels, so the transforms weigh more. Direct on images below 13x13 (ResNeXt-50's 7x7 stage, 32
// groups of 32 channels, batch 16: Winograd 0.53x of direct; 32 groups of 64 at 7x7: 0.8x). Below
// 64 channels per group, direct for the weight gradient (14x14 and 28x28: 0.6-0.7x), and where up
// to 128 tiles hold more than 32768 channel-tiles (1024 channels at 14x14, batch 3 to 8:
// 0.63-0.74x; batch 1 and 2, or 256 channels at batch 4: 1.35-1.5x; 192 tiles and more: 1.2-1.4x).
// The one table of the automatic choice.
struct AutoChoice {
  int tile = 0;         // Winograd's for forward and input gradient; 0: direct
  bool weights = true;  // and for the weight gradient
};
AutoChoice winograd_wins(const ConvDesc& d) {
  // a dilated layer runs as one undilated layer per phase: tiles of P/d x Q/d, d*d times
  const std::int64_t dh = d.dilation_h, dw = d.dilation_w;
  auto tiles_of = [&](std::int64_t m) { return dh * dw * ((d.p() / dh + m - 1) / m) * ((d.q() / dw + m - 1) / m); };
  const std::int64_t per_image = tiles_of(4), tiles = d.n * per_image;
  const std::int64_t channels = std::min(d.c / d.groups, d.k / d.groups);
  if (d.dtype == DType::Float64) return {channels >= 64 && tiles >= 64 ? 2 : 0};
  const bool grouped_ok = d.groups == 1 || channels >= 64;  // see above
  if (channels < 32 || (d.groups > 1 && per_image < 16)) return {};
  if (!grouped_ok && tiles <= 128 && double(d.c) * double(tiles) > 32768.0) return {};
  if (tiles >= 64) return {4, grouped_ok};
  const bool weights = (channels >= 256 || (channels >= 128 && per_image >= 16)) && grouped_ok;
  if (tiles >= 16 && (per_image >= 16 || channels >= 128)) return {4, weights};
  return {channels >= 128 && d.n * tiles_of(2) >= 16 ? 2 : 0, weights};  // F(2x2)'s tiles fill a panel
}

// One algorithm per direction, as auto's rule or measure's timings chose them; an implementation
// may serve several directions.
class PerDirection final : public ConvImpl {
 public:
  PerDirection(std::shared_ptr<ConvImpl> forward, std::shared_ptr<ConvImpl> data, std::shared_ptr<ConvImpl> weights)
      : forward_(std::move(forward)), data_(std::move(data)), weights_(std::move(weights)) {}
  std::string name() const override {
    // the forward's own name, less what it says of an input gradient that another one runs
    std::string name = data_ != forward_ ? forward_->name_of(Direction::Forward) : forward_->name();
    if (data_ != forward_) name += ", input gradient " + data_->name_of(Direction::BackwardData);
    if (weights_ != forward_) name += ", weight gradient " + weights_->name_of(Direction::BackwardWeights);
    return name;
  }
  std::string name_of(Direction d) const override { return of(d).name_of(d); }
  std::size_t workspace_size(Direction d) const noexcept override { return of(d).workspace_size(d); }
  void forward(const void* x, const void* w, const void* bias, void* y, void* ws) const noexcept override {
    forward_->forward(x, w, bias, y, ws);
  }
  void backward_data(const void* dy, const void* w, void* dx, void* ws) const noexcept override {
    data_->backward_data(dy, w, dx, ws);
  }
  void backward_weights(const void* x, const void* dy, void* dw, void* db, void* ws) const noexcept override {
    weights_->backward_weights(x, dy, dw, db, ws);
  }
  void prepare_weights(const void* w, std::size_t bytes) override {
    forward_->prepare_weights(w, bytes);
    if (data_ != forward_) data_->prepare_weights(w, bytes);
  }
  bool prepared() const noexcept override { return forward_->prepared() && data_->prepared(); }

 private:
  const ConvImpl& of(Direction d) const noexcept {
    return *(d == Direction::Forward ? forward_ : d == Direction::BackwardData ? data_ : weights_);
  }
  std::shared_ptr<ConvImpl> forward_, data_, weights_;
};

// FASTCONV_MAX_WORKSPACE: the most workspace, in bytes (suffix K, M or G for binary multiples),
// that a plan may need in any direction; read when a plan is made. Unset: no bound.
std::size_t max_workspace() {
  const char* text = std::getenv("FASTCONV_MAX_WORKSPACE");
  if (text == nullptr || *text == '\0') return SIZE_MAX;
  char* end = nullptr;
  const unsigned long long value = std::strtoull(text, &end, 10);
  unsigned shift = 0;
  if (*end == 'K' || *end == 'k') shift = 10, ++end;
  else if (*end == 'M' || *end == 'm') shift = 20, ++end;
  else if (*end == 'G' || *end == 'g') shift = 30, ++end;
  if (end == text || *end != '\0' || *text == '-' || value > (SIZE_MAX >> shift))
    throw InvalidArgument(std::string("FASTCONV_MAX_WORKSPACE must be a byte count such as 1048576, 512M or 2G, got '") +
                          text + "'");
  return std::size_t(value) << shift;
}

std::size_t largest_workspace(const ConvImpl& impl) {
  std::size_t most = 0;
  for (Direction d : {Direction::Forward, Direction::BackwardData, Direction::BackwardWeights})
    most = std::max(most, impl.workspace_size(d));
  return most;
}

std::unique_ptr<ConvImpl> make_direct_or_depthwise(const ConvDesc& desc, int threads, std::size_t bound) {
  if (desc.groups > 1 && depthwise_accepts(desc)) return make_depthwise(desc, threads);
  std::unique_ptr<ConvImpl> direct = make_direct(desc, threads, bound);
  // One input channel (LeNet's first layer, a grayscale image) is a depthwise layer of one group:
  // its plane kernels take the 5x5 weight gradient faster than the GEMM's turned-around product
  // (LeNet's conv1, alternating runs: 0.28-0.31 -> 0.26-0.27 ms on one thread, 0.20 -> 0.15-0.16 ms
  // on two), its forward and input gradient slower (1.2-1.8x the GEMM's time). Not where the
  // direct plan takes that gradient as row dot products with SIMD kernels, faster still (LeNet's
  // conv1, one thread: 0.23 -> 0.17 ms with AVX-512's, 0.16 with AVX2's; the baseline build's
  // loops took 2.2 ms, its plane kernels 0.9).
  const bool row_dots = active_isa() != Isa::Generic &&
                        direct->name_of(Direction::BackwardWeights).find("+rowdot") != std::string::npos;
  if (desc.c == 1 && desc.groups == 1 && desc.r == 5 && desc.s == 5 && desc.stride_w == 1 && desc.dilation_w == 1 &&
      !row_dots && depthwise_accepts(desc)) {
    std::shared_ptr<ConvImpl> gemm = std::move(direct);
    return std::make_unique<PerDirection>(gemm, gemm, make_depthwise(desc, threads));
  }
  return direct;
}

// The workspace of runs given none: one per calling thread, shared by all its plans, so that a
// model of many layers holds the largest layer's workspace rather than the sum (a ResNet-50 at
// batch 16: 32 MB instead of 661). A thread runs one plan at a time, so sharing is safe; it is
// kept, grown when a plan needs more, until release_workspace. New bytes are 0xFF (float NaN),
// not zero: a kernel that read workspace it had not written would then fail every test.
struct ThreadWorkspace {
  std::unique_ptr<unsigned char[]> bytes;
  std::size_t size = 0;
};
ThreadWorkspace& own_workspace() {
  thread_local ThreadWorkspace workspace;
  return workspace;
}

void* thread_workspace(std::size_t need) {
  ThreadWorkspace& ws = own_workspace();
  if (need > ws.size) {
    release_workspace();  // the old one goes first, so two never coexist
    ws.bytes.reset(new unsigned char[need]);  // may throw bad_alloc, before any work
    std::memset(ws.bytes.get(), 0xFF, need);
    ws.size = need;
  }
  return ws.size ? ws.bytes.get() : nullptr;
}

// Synthetic operands for measure: small values, so that no run meets denormals.
template <typename T>
std::vector<T> synthetic(std::int64_t count) {
  std::vector<T> v(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = T(int(i * 7 % 13) - 6) / T(8);
  return v;
}

// Each candidate's fastest of two timed runs per direction (after one to warm up workspace, page
// faults and caches), the candidates taking turns so that a slow spell of the machine hits all.
template <typename T>
std::vector<std::array<double, 3>> time_directions(const ConvDesc& d,
                                                   const std::vector<std::unique_ptr<ConvImpl>>& candidates) {
  const std::vector<T> x = synthetic<T>(d.input_size()), w = synthetic<T>(d.weight_size());
  const std::vector<T> dy = synthetic<T>(d.output_size()), bias = synthetic<T>(d.k);
  std::vector<T> y(dy.size()), dx(x.size()), dw(w.size()), db(bias.size());
  std::size_t most = 0;
  for (const auto& impl : candidates) most = std::max(most, largest_workspace(*impl));
  void* ws = thread_workspace(most);
  std::vector<std::array<double, 3>> seconds(candidates.size(), {HUGE_VAL, HUGE_VAL, HUGE_VAL});
  for (int direction = 0; direction < 3; ++direction)
    for (int round = 0; round < 3; ++round)
      for (std::size_t i = 0; i < candidates.size(); ++i) {
        const auto start = std::chrono::steady_clock::now();
        if (direction == 0) candidates[i]->forward(x.data(), w.data(), bias.data(), y.data(), ws);
        if (direction == 1) candidates[i]->backward_data(dy.data(), w.data(), dx.data(), ws);
        if (direction == 2) candidates[i]->backward_weights(x.data(), dy.data(), dw.data(), db.data(), ws);
        const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (round > 0) seconds[i][std::size_t(direction)] = std::min(seconds[i][std::size_t(direction)], elapsed);
      }
  return seconds;
}

// algorithm="measure": the candidates that apply and fit the bound (direct; F(4x4) for float32
// only, as float64's rounds 10x more than direct; F(2x2); F(6x6) by name only) are timed on this
// machine, and each direction keeps its fastest, ties going to the earlier candidate. The choice
// is kept for the process, as FFTW keeps its wisdom: another plan of the same descriptor, thread
// count and bound makes the winners without timing again.
std::unique_ptr<ConvImpl> measure(const ConvDesc& desc, int threads, std::size_t bound) {
  // a candidate as its Winograd tile, 0 for direct
  static std::mutex chosen_mutex;
  static std::map<std::string, std::array<int, 3>> chosen_tiles;
  const std::string key = desc.to_string() + " threads=" + std::to_string(threads) + " bound=" + std::to_string(bound);
  std::vector<int> tiles{0};
  if (winograd_accepts(desc, nullptr)) {
    if (desc.dtype == DType::Float32) tiles.push_back(4);
    tiles.push_back(2);
  }
  std::array<int, 3> fastest{-1, -1, -1};  // per direction, the winner's tile
  {
    std::lock_guard<std::mutex> lock(chosen_mutex);
    const auto known = chosen_tiles.find(key);
    if (known != chosen_tiles.end()) fastest = known->second;
  }
  const bool timed = fastest[0] < 0;
  std::vector<std::unique_ptr<ConvImpl>> candidates;
  std::vector<int> kept;  // candidates[i]'s tile
  for (int tile : tiles) {
    if (!timed && std::find(fastest.begin(), fastest.end(), tile) == fastest.end()) continue;
    std::unique_ptr<ConvImpl> impl = tile ? make_winograd(desc, threads, tile) : make_direct_or_depthwise(desc, threads, bound);
    if (largest_workspace(*impl) <= bound) candidates.push_back(std::move(impl)), kept.push_back(tile);
  }
  if (candidates.empty()) return make_reference(desc, threads);
  if (candidates.size() == 1) return std::move(candidates.front());
  if (timed) {
    const std::vector<std::array<double, 3>> seconds = desc.dtype == DType::Float32
                                                           ? time_directions<float>(desc, candidates)
                                                           : time_directions<double>(desc, candidates);
    for (std::size_t d = 0; d < 3; ++d) {
      std::size_t best = 0;
      for (std::size_t i = 1; i < candidates.size(); ++i)
        if (seconds[i][d] < seconds[best][d]) best = i;
      fastest[d] = kept[best];
    }
    std::lock_guard<std::mutex> lock(chosen_mutex);
    chosen_tiles.emplace(key, fastest);
  }
  std::array<std::size_t, 3> index{};  // a kept choice's candidates are made again, so all are found
  for (std::size_t d = 0; d < 3; ++d)
    index[d] = std::min(std::size_t(std::find(kept.begin(), kept.end(), fastest[d]) - kept.begin()), kept.size() - 1);
  if (index[1] == index[0] && index[2] == index[0]) return std::move(candidates[index[0]]);
  std::vector<std::shared_ptr<ConvImpl>> chosen(candidates.size());
  for (std::size_t i : index)
    if (!chosen[i]) chosen[i] = std::move(candidates[i]);
  return std::make_unique<PerDirection>(chosen[index[0]], chosen[index[1]], chosen[index[2]]);
}

// Candidates in order of preference; the first that accepts the shape and whose workspace fits
// FASTCONV_MAX_WORKSPACE wins ("auto" ends at the reference, which needs none). An algorithm asked
// for by name is never swapped: over the bound it is an error. Direct has two implementations:
// plane kernels when each of several groups has one input channel (depthwise), where a GEMM would
// have nothing to block, and the implicit GEMM for everything else (make_direct_or_depthwise:
// the weight gradient of a 5x5 layer with one input channel goes to the plane kernels too).
std::unique_ptr<ConvImpl> choose(const ConvDesc& desc, Algorithm algorithm, int threads) {
  const std::size_t bound = max_workspace();
  auto fits = [&](const std::unique_ptr<ConvImpl>& impl) { return largest_workspace(*impl) <= bound; };
  std::unique_ptr<ConvImpl> impl;
  std::string why;
  switch (algorithm) {
    case Algorithm::Reference: return make_reference(desc, threads);
    case Algorithm::Winograd:
    case Algorithm::WinogradF2:
    case Algorithm::WinogradF6:
      if (!winograd_accepts(desc, &why))
        throw InvalidArgument(std::string("algorithm='") + to_string(algorithm) + "' does not apply: " + why);
      impl = make_winograd(desc, threads,
                           algorithm == Algorithm::WinogradF2 ? 2 : algorithm == Algorithm::WinogradF6 ? 6 : 4);
      break;
    case Algorithm::Direct: impl = make_direct_or_depthwise(desc, threads, bound); break;
    case Algorithm::Measure: return measure(desc, threads, bound);
    case Algorithm::Auto:
      if (const AutoChoice win = winograd_accepts(desc, nullptr) ? winograd_wins(desc) : AutoChoice{}; win.tile) {
        impl = make_winograd(desc, threads, win.tile);
        if (!win.weights) {
          std::shared_ptr<ConvImpl> main = std::move(impl);
          impl = std::make_unique<PerDirection>(main, main, make_direct_or_depthwise(desc, threads, bound));
        }
        if (fits(impl)) return impl;
      }
      impl = make_direct_or_depthwise(desc, threads, bound);
      return fits(impl) ? std::move(impl) : make_reference(desc, threads);
    default: throw InvalidArgument("unknown algorithm");
  }
  if (!fits(impl))
    throw InvalidArgument(std::string("algorithm='") + to_string(algorithm) + "' needs " +
                          std::to_string(largest_workspace(*impl)) + " bytes of workspace, over FASTCONV_MAX_WORKSPACE=" +
                          std::to_string(bound));
  return impl;
}

}  // namespace

struct Plan::State {
  ConvDesc desc;
  Algorithm algorithm;
  int threads;
  std::unique_ptr<ConvImpl> impl;

  // The caller's workspace, else the calling thread's.
  void* workspace(Direction d, void* given) const {
    return given != nullptr ? given : thread_workspace(impl->workspace_size(d));
  }

  void require_weights(const void* w) const {
    if (w == nullptr && !impl->prepared())
      throw InvalidArgument("weights are null and none were prepared: pass them or call prepare_weights");
  }

  void require_dtype(DType called_with) const {
    if (called_with != desc.dtype)
      throw InvalidArgument(std::string("plan was made for dtype=") + to_string(desc.dtype) +
                            " but called with " + to_string(called_with) + " buffers");
  }
};

Plan::Plan(const ConvDesc& desc, Algorithm algorithm) : state_(std::make_unique<State>()) {
  desc.validate();
  state_->desc = desc;
  state_->threads = get_num_threads();
  state_->impl = choose(desc, algorithm, state_->threads);
  const std::string name = state_->impl->name();
  state_->algorithm = name.rfind("reference", 0) == 0  ? Algorithm::Reference
                      : name.rfind("winograd/f2x2", 0) == 0 ? Algorithm::WinogradF2
                      : name.rfind("winograd/f6x6", 0) == 0 ? Algorithm::WinogradF6
                      : name.rfind("winograd", 0) == 0 ? Algorithm::Winograd
                                                       : Algorithm::Direct;
}

Plan::~Plan() = default;
Plan::Plan(Plan&&) noexcept = default;
Plan& Plan::operator=(Plan&&) noexcept = default;

const ConvDesc& Plan::desc() const noexcept { return state_->desc; }
Algorithm Plan::algorithm() const noexcept { return state_->algorithm; }
std::string Plan::implementation() const { return state_->impl->name(); }
std::string Plan::implementation(Direction d) const { return state_->impl->name_of(d); }
int Plan::num_threads() const noexcept { return state_->threads; }
std::size_t Plan::workspace_size(Direction d) const noexcept { return state_->impl->workspace_size(d); }
bool Plan::weights_prepared() const noexcept { return state_->impl->prepared(); }

std::size_t release_workspace() noexcept {
  ThreadWorkspace& ws = own_workspace();
  const std::size_t freed = ws.size;
  ws.bytes.reset();
  ws.size = 0;
  return freed;
}

namespace {
template <typename T>
constexpr DType dtype_of() {
  return sizeof(T) == 4 ? DType::Float32 : DType::Float64;
}
}  // namespace

#define FASTCONV_DEFINE_RUNS(T)                                                                   \
  void Plan::prepare_weights(const T* w) {                                                        \
    state_->require_dtype(dtype_of<T>());                                                         \
    if (w == nullptr) throw InvalidArgument("prepare_weights needs weights, got a null pointer");  \
    state_->impl->prepare_weights(w, std::size_t(state_->desc.weight_size()) * sizeof(T));        \
  }                                                                                               \
  void Plan::forward(const T* x, const T* w, const T* bias, T* y, void* workspace) {              \
    state_->require_dtype(dtype_of<T>());                                                         \
    state_->require_weights(w);                                                                   \
    state_->impl->forward(x, w, bias, y, state_->workspace(Direction::Forward, workspace));       \
  }                                                                                               \
  void Plan::backward_data(const T* dy, const T* w, T* dx, void* workspace) {                     \
    state_->require_dtype(dtype_of<T>());                                                         \
    state_->require_weights(w);                                                                   \
    state_->impl->backward_data(dy, w, dx, state_->workspace(Direction::BackwardData, workspace)); \
  }                                                                                               \
  void Plan::backward_weights(const T* x, const T* dy, T* dw, T* db, void* workspace) {           \
    state_->require_dtype(dtype_of<T>());                                                         \
    state_->impl->backward_weights(x, dy, dw, db,                                                 \
                                   state_->workspace(Direction::BackwardWeights, workspace));     \
  }

FASTCONV_DEFINE_RUNS(float)
FASTCONV_DEFINE_RUNS(double)
#undef FASTCONV_DEFINE_RUNS

}  // namespace fastconv
