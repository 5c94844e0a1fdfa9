#pragma once
// The internal interface every algorithm implements, and the makers plan.cpp chooses from.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fastconv/descriptor.hpp"
#include "fastconv/plan.hpp"

namespace fastconv {

// One algorithm bound to one validated descriptor. Run methods never throw: the plan has
// checked everything before any parallel region starts.
class ConvImpl {
 public:
  virtual ~ConvImpl() = default;
  virtual std::string name() const = 0;
  virtual std::string name_of(Direction) const { return name(); }  // what runs that direction
  virtual std::size_t workspace_size(Direction direction) const noexcept = 0;
  virtual void forward(const void* x, const void* w, const void* bias, void* y, void* ws) const noexcept = 0;
  virtual void backward_data(const void* dy, const void* w, void* dx, void* ws) const noexcept = 0;
  virtual void backward_weights(const void* x, const void* dy, void* dw, void* db, void* ws) const noexcept = 0;

  // Keeps the weights (and whatever an algorithm derives from them) for runs that pass null
  // weights. The base keeps a copy; algorithms that pack or transform weights also keep that.
  virtual void prepare_weights(const void* w, std::size_t bytes) {
    kept_.assign(static_cast<const unsigned char*>(w), static_cast<const unsigned char*>(w) + bytes);
  }
  virtual bool prepared() const noexcept { return !kept_.empty(); }

 protected:
  const void* weights(const void* w) const noexcept { return w ? w : kept_.data(); }

 private:
  std::vector<unsigned char> kept_;
};

std::unique_ptr<ConvImpl> make_reference(const ConvDesc& desc, int threads);
// implicit GEMM; its optional buffers are left out where they would pass workspace_bound
std::unique_ptr<ConvImpl> make_direct(const ConvDesc& desc, int threads, std::size_t workspace_bound = SIZE_MAX);
bool depthwise_accepts(const ConvDesc& desc);                                  // one channel per group
std::unique_ptr<ConvImpl> make_depthwise(const ConvDesc& desc, int threads);  // plane kernels
bool winograd_accepts(const ConvDesc& desc, std::string* why);                 // 3x3, stride 1, ...
// F(tile x tile, 3x3), tile 2, 4 or 6
std::unique_ptr<ConvImpl> make_winograd(const ConvDesc& desc, int threads, int tile);
// dilated: Winograd on the dilation's phases, where sizes and paddings divide by the dilation
bool phases_divide(const ConvDesc& desc);
std::unique_ptr<ConvImpl> make_winograd_phases(const ConvDesc& desc, int threads, int tile);

// Rounds a workspace pointer up to a cache line; workspace sizes include the slack for it.
constexpr std::size_t kWorkspaceAlign = 64;
inline void* align_workspace(void* p) noexcept {
  auto v = reinterpret_cast<std::uintptr_t>(p);
  return reinterpret_cast<void*>((v + kWorkspaceAlign - 1) & ~std::uintptr_t(kWorkspaceAlign - 1));
}

}  // namespace fastconv
