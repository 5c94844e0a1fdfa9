#pragma once
#include <cstddef>
#include <memory>
#include <string>

#include "fastconv/descriptor.hpp"

namespace fastconv {

enum class Algorithm {
  Auto,       // the planner chooses
  Direct,     // blocked direct convolution (implicit GEMM; plane kernels for depthwise)
  Winograd,    // F(4x4, 3x3) for 3x3, stride-1 convolution (dilated: per phase, where sizes divide)
  Reference,   // scalar loops accumulating in double: slow, the oracle of the tests
  WinogradF2,  // F(2x2, 3x3) where Winograd applies: 2.25x fewer multiplications instead of 4x,
               // with float64-grade rounding
  WinogradF6,  // F(6x6, 3x3) where Winograd applies: 5.06x fewer, rounding more than F(4x4)
  Measure,     // times direct, F(4x4) (float32) and F(2x2) once per direction on synthetic data
               // and keeps the fastest for each direction: planning costs a few runs of each, the
               // first time a shape (and thread count) is planned in the process
};

enum class Direction { Forward, BackwardData, BackwardWeights };

const char* to_string(Algorithm algorithm) noexcept;
Algorithm algorithm_from_string(const std::string& name);  // throws InvalidArgument

class ConvImpl;  // one algorithm bound to one descriptor (internal)

// A validated convolution with its algorithm chosen. Buffers are caller-owned, dense NCHW/KCRS
// and of the descriptor's dtype. Pass a workspace of at least workspace_size(direction) bytes,
// or nullptr to use the calling thread's own, which all plans run by that thread share (kept for
// the thread's life, grown to the largest need). Plans are safe to run from several threads.
class Plan {
 public:
  explicit Plan(const ConvDesc& desc, Algorithm algorithm = Algorithm::Auto);
  ~Plan();
  Plan(Plan&&) noexcept;
  Plan& operator=(Plan&&) noexcept;

  const ConvDesc& desc() const noexcept;
  Algorithm algorithm() const noexcept;     // the forward pass's algorithm (never Auto or Measure)
  std::string implementation() const;       // e.g. "direct/gemm-avx2-fma-6x16"
  std::string implementation(Direction direction) const;  // what runs that direction
  int num_threads() const noexcept;         // threads the plan runs on, fixed when made
  std::size_t workspace_size(Direction direction) const noexcept;

  // Keeps the weights (K x C/groups x R x S), packed or transformed as the algorithm needs them,
  // so that runs given null weights skip that work: a plan run many times with the same weights
  // (a layer) prepares them once. Call again when the weights change; not concurrently with runs.
  void prepare_weights(const float* w);
  void prepare_weights(const double* w);
  bool weights_prepared() const noexcept;

  // y = conv(x, w) + bias; bias (K values) may be null; w null uses the prepared weights.
  void forward(const float* x, const float* w, const float* bias, float* y, void* workspace = nullptr);
  void forward(const double* x, const double* w, const double* bias, double* y, void* workspace = nullptr);

  // dx = gradient of the input, given dy (N x K x P x Q); w null uses the prepared weights.
  void backward_data(const float* dy, const float* w, float* dx, void* workspace = nullptr);
  void backward_data(const double* dy, const double* w, double* dx, void* workspace = nullptr);

  // dw = gradient of the weights; db (K values) = gradient of the bias, skipped when null.
  void backward_weights(const float* x, const float* dy, float* dw, float* db, void* workspace = nullptr);
  void backward_weights(const double* x, const double* dy, double* dw, double* db, void* workspace = nullptr);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Frees the calling thread's workspace (the one runs given none share), returning its bytes; a
// later run allocates it again. For a thread that ran a large layer and goes on with small ones.
std::size_t release_workspace() noexcept;

// Threads used by plans made from now on; defaults to OpenMP's maximum (OMP_NUM_THREADS).
void set_num_threads(int n);  // throws InvalidArgument for n < 1
int get_num_threads() noexcept;  // the calling thread's own count if set, else the library-wide one

// Threads for plans made by the calling thread only; 0 clears it. A task scheduler that already
// runs one task per core (Dask, a thread pool) gives each task one thread this way.
void set_local_num_threads(int n);  // throws InvalidArgument for n < 0
int get_local_num_threads() noexcept;

}  // namespace fastconv
