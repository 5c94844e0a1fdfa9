// The C API over the C++ plan: every exception is caught here and turned into a status code and
// a per-thread message.
#include "fastconv/fastconv.h"

#include <cstring>
#include <new>
#include <string>

#include "fastconv/fastconv.hpp"

struct fastconv_plan {
  fastconv::Plan plan;
  std::string implementation;
};

namespace {

thread_local std::string last_error;

template <typename Fn>
fastconv_status guarded(Fn&& fn) noexcept {
  try {
    last_error.clear();
    fn();
    return FASTCONV_OK;
  } catch (const std::invalid_argument& e) {
    last_error = e.what();
    return FASTCONV_INVALID_ARGUMENT;
  } catch (const std::bad_alloc&) {
    last_error = "out of memory";
    return FASTCONV_OUT_OF_MEMORY;
  } catch (const std::exception& e) {
    last_error = e.what();
    return FASTCONV_INTERNAL_ERROR;
  } catch (...) {
    last_error = "unknown error";
    return FASTCONV_INTERNAL_ERROR;
  }
}

// A C caller may store any int in an enum; in C++, reading a value outside the enumerators is
// undefined, so enums from the caller are read as the ints they are.
template <typename E>
int raw(const E& value) noexcept {
  static_assert(sizeof(E) == sizeof(int), "C enums are int-sized");
  int v;
  std::memcpy(&v, &value, sizeof v);
  return v;
}

void require(bool ok, const char* what) {
  if (!ok) throw fastconv::InvalidArgument(what);
}

}  // namespace

extern "C" {

void fastconv_desc_init(fastconv_desc* d) {
  if (d == nullptr) return;
  *d = fastconv_desc{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, FASTCONV_FLOAT32};
}

fastconv_status fastconv_plan_create(const fastconv_desc* d, fastconv_algorithm algorithm, fastconv_plan** out) {
  return guarded([&] {
    require(d != nullptr && out != nullptr, "desc and plan must not be NULL");
    *out = nullptr;
    const int dtype = raw(d->dtype);
    require(dtype == FASTCONV_FLOAT32 || dtype == FASTCONV_FLOAT64, "dtype must be FLOAT32 or FLOAT64");
    fastconv::ConvDesc c;
    c.n = d->n, c.c = d->c, c.h = d->h, c.w = d->w, c.k = d->k, c.r = d->r, c.s = d->s;
    c.stride_h = d->stride_h, c.stride_w = d->stride_w, c.dilation_h = d->dilation_h, c.dilation_w = d->dilation_w;
    c.pad_top = d->pad_top, c.pad_bottom = d->pad_bottom, c.pad_left = d->pad_left, c.pad_right = d->pad_right;
    c.groups = d->groups;
    c.dtype = dtype == FASTCONV_FLOAT64 ? fastconv::DType::Float64 : fastconv::DType::Float32;
    fastconv::Algorithm a;
    switch (raw(algorithm)) {
      case FASTCONV_ALGORITHM_AUTO: a = fastconv::Algorithm::Auto; break;
      case FASTCONV_ALGORITHM_DIRECT: a = fastconv::Algorithm::Direct; break;
      case FASTCONV_ALGORITHM_WINOGRAD: a = fastconv::Algorithm::Winograd; break;
      case FASTCONV_ALGORITHM_REFERENCE: a = fastconv::Algorithm::Reference; break;
      case FASTCONV_ALGORITHM_WINOGRAD_F2: a = fastconv::Algorithm::WinogradF2; break;
      case FASTCONV_ALGORITHM_WINOGRAD_F6: a = fastconv::Algorithm::WinogradF6; break;
      case FASTCONV_ALGORITHM_MEASURE: a = fastconv::Algorithm::Measure; break;
      default: throw fastconv::InvalidArgument("algorithm must be one of FASTCONV_ALGORITHM_*");
    }
    fastconv::Plan plan(c, a);
    std::string name = plan.implementation();
    *out = new fastconv_plan{std::move(plan), std::move(name)};
  });
}

void fastconv_plan_destroy(fastconv_plan* plan) { delete plan; }

fastconv_status fastconv_plan_output_size(const fastconv_plan* plan, int64_t* p, int64_t* q) {
  return guarded([&] {
    require(plan != nullptr && p != nullptr && q != nullptr, "plan, p and q must not be NULL");
    *p = plan->plan.desc().p();
    *q = plan->plan.desc().q();
  });
}

const char* fastconv_plan_implementation(const fastconv_plan* plan) {
  return plan ? plan->implementation.c_str() : "";
}

fastconv_status fastconv_forward(fastconv_plan* plan, const void* x, const void* w, const void* bias, void* y) {
  return guarded([&] {
    require(plan != nullptr && x != nullptr && w != nullptr && y != nullptr, "plan, x, w and y must not be NULL");
    if (plan->plan.desc().dtype == fastconv::DType::Float32)
      plan->plan.forward(static_cast<const float*>(x), static_cast<const float*>(w), static_cast<const float*>(bias),
                         static_cast<float*>(y));
    else
      plan->plan.forward(static_cast<const double*>(x), static_cast<const double*>(w),
                         static_cast<const double*>(bias), static_cast<double*>(y));
  });
}

fastconv_status fastconv_backward_data(fastconv_plan* plan, const void* dy, const void* w, void* dx) {
  return guarded([&] {
    require(plan != nullptr && dy != nullptr && w != nullptr && dx != nullptr, "plan, dy, w and dx must not be NULL");
    if (plan->plan.desc().dtype == fastconv::DType::Float32)
      plan->plan.backward_data(static_cast<const float*>(dy), static_cast<const float*>(w), static_cast<float*>(dx));
    else
      plan->plan.backward_data(static_cast<const double*>(dy), static_cast<const double*>(w), static_cast<double*>(dx));
  });
}

fastconv_status fastconv_backward_weights(fastconv_plan* plan, const void* x, const void* dy, void* dw, void* db) {
  return guarded([&] {
    require(plan != nullptr && x != nullptr && dy != nullptr && dw != nullptr, "plan, x, dy and dw must not be NULL");
    if (plan->plan.desc().dtype == fastconv::DType::Float32)
      plan->plan.backward_weights(static_cast<const float*>(x), static_cast<const float*>(dy), static_cast<float*>(dw),
                                  static_cast<float*>(db));
    else
      plan->plan.backward_weights(static_cast<const double*>(x), static_cast<const double*>(dy),
                                  static_cast<double*>(dw), static_cast<double*>(db));
  });
}

const char* fastconv_last_error(void) { return last_error.c_str(); }
const char* fastconv_version(void) { return FASTCONV_VERSION_STRING; }
size_t fastconv_release_workspace(void) { return fastconv::release_workspace(); }

}  // extern "C"
