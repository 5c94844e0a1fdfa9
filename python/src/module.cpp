// The compiled module fastconv._core: a thin binding of the C++ plan. It checks every array
// (dtype, shape, contiguity, writability, overlap) and releases the GIL while computing.
// The Python layer (fastconv/functional.py) turns PyTorch-style arguments into plans.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstdlib>
#include <string>
#include <vector>

#include "fastconv/fastconv.hpp"

namespace py = pybind11;
using fastconv::ConvDesc;
using fastconv::DType;
using fastconv::Plan;

namespace {

using Shape = std::vector<std::int64_t>;

DType dtype_from_string(const std::string& name) {
  if (name == "float32") return DType::Float32;
  if (name == "float64") return DType::Float64;
  throw py::type_error("dtype must be float32 or float64, got dtype='" + name + "'");
}

std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

struct Checked {
  char* begin;
  std::size_t bytes;
};

// One array argument of a plan call, checked for everything the kernels assume.
Checked check(const py::array& a, const char* name, const Shape& shape, DType dtype, bool output) {
  const py::dtype want = dtype == DType::Float32 ? py::dtype::of<float>() : py::dtype::of<double>();
  if (!a.dtype().is(want) && !a.dtype().equal(want))
    throw py::type_error(std::string(name) + " must have dtype " + fastconv::to_string(dtype) + ", got " +
                         std::string(py::str(a.dtype())));
  Shape got(a.shape(), a.shape() + a.ndim());
  if (got != shape)
    throw py::value_error(std::string(name) + " must have shape " + shape_str(shape) + ", got " + shape_str(got));
  if (!(a.flags() & py::array::c_style) || !(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
    throw py::value_error(std::string(name) + " must be C-contiguous and aligned");
  if (output && !a.writeable()) throw py::value_error(std::string(name) + " is read-only");
  return {static_cast<char*>(const_cast<void*>(a.data())), static_cast<std::size_t>(a.nbytes())};
}

// The input of a plan made for NHWC: an (N, C, H, W) view of NHWC memory, as x.transpose(0, 3, 1, 2)
// of a C-contiguous (N, H, W, C) array gives.
Checked check_nhwc(const py::array& a, const char* name, const Shape& shape, DType dtype) {
  const py::dtype want = dtype == DType::Float32 ? py::dtype::of<float>() : py::dtype::of<double>();
  if (!a.dtype().equal(want))
    throw py::type_error(std::string(name) + " must have dtype " + fastconv::to_string(dtype) + ", got " +
                         std::string(py::str(a.dtype())));
  Shape got(a.shape(), a.shape() + a.ndim());
  if (got != shape)
    throw py::value_error(std::string(name) + " must have shape " + shape_str(shape) + ", got " + shape_str(got));
  const std::int64_t e = static_cast<std::int64_t>(a.itemsize());
  const std::int64_t want_strides[4] = {shape[1] * shape[2] * shape[3] * e, e, shape[3] * shape[1] * e, shape[1] * e};
  for (int i = 0; i < 4; ++i)
    if (shape[i] > 1 && a.strides(i) != want_strides[i])
      throw py::value_error(std::string(name) + " must be a channels-last (NHWC) view for this plan");
  if (!(a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_)) throw py::value_error(std::string(name) + " must be aligned");
  return {static_cast<char*>(const_cast<void*>(a.data())), static_cast<std::size_t>(a.nbytes())};
}

void require_disjoint(const Checked& out, const char* out_name, const Checked& in, const char* in_name) {
  if (out.bytes == 0 || in.bytes == 0) return;
  if (out.begin < in.begin + in.bytes && in.begin < out.begin + out.bytes)
    throw py::value_error(std::string(out_name) + " must not share memory with " + in_name);
}

class PyPlan {
 public:
  PyPlan(const ConvDesc& d, const std::string& algorithm) : plan_(make(d, fastconv::algorithm_from_string(algorithm))) {}
  static fastconv::Plan make(const ConvDesc& d, fastconv::Algorithm algorithm) {
    py::gil_scoped_release release;  // "measure" runs the candidates
    return fastconv::Plan(d, algorithm);
  }

  const ConvDesc& d() const { return plan_.desc(); }
  Shape input_shape() const { return {d().n, d().c, d().h, d().w}; }
  Shape weight_shape() const { return {d().k, d().c / d().groups, d().r, d().s}; }
  Shape output_shape() const { return {d().n, d().k, d().p(), d().q()}; }

  Checked check_input(const py::array& x) const {
    if (d().input_layout == fastconv::Layout::NHWC) return check_nhwc(x, "input", input_shape(), d().dtype);
    return check(x, "input", input_shape(), d().dtype, false);
  }

  // The weights of a run: the given array, or the prepared ones when None.
  Checked weights_arg(const py::object& w) const {
    if (!w.is_none()) return check(w.cast<py::array>(), "weight", weight_shape(), d().dtype, false);
    if (!plan_.weights_prepared()) throw py::value_error("weight is None and no weights were prepared");
    return {nullptr, 0};
  }

  void prepare_weights(const py::array& w) {
    const Checked cw = check(w, "weight", weight_shape(), d().dtype, false);
    py::gil_scoped_release release;
    dispatch([&](auto t) {
      using T = decltype(t);
      plan_.prepare_weights(reinterpret_cast<const T*>(cw.begin));
    });
  }

  void forward(const py::array& x, const py::object& w, const py::object& bias, const py::array& y) {
    const Checked cx = check_input(x);
    const Checked cw = weights_arg(w);
    const Checked cy = check(y, "out", output_shape(), d().dtype, true);
    require_disjoint(cy, "out", cx, "input");
    require_disjoint(cy, "out", cw, "weight");
    const char* cb = nullptr;
    if (!bias.is_none()) {
      const py::array b = bias.cast<py::array>();
      const Checked c = check(b, "bias", {d().k}, d().dtype, false);
      require_disjoint(cy, "out", c, "bias");
      cb = c.begin;
    }
    py::gil_scoped_release release;
    dispatch([&](auto t) {
      using T = decltype(t);
      plan_.forward(reinterpret_cast<const T*>(cx.begin), reinterpret_cast<const T*>(cw.begin),
                    reinterpret_cast<const T*>(cb), reinterpret_cast<T*>(cy.begin));
    });
  }

  void backward_data(const py::array& dy, const py::object& w, const py::array& dx) {
    const Checked cdy = check(dy, "grad_output", output_shape(), d().dtype, false);
    const Checked cw = weights_arg(w);
    const Checked cdx = check(dx, "grad_input", input_shape(), d().dtype, true);
    require_disjoint(cdx, "grad_input", cdy, "grad_output");
    require_disjoint(cdx, "grad_input", cw, "weight");
    py::gil_scoped_release release;
    dispatch([&](auto t) {
      using T = decltype(t);
      plan_.backward_data(reinterpret_cast<const T*>(cdy.begin), reinterpret_cast<const T*>(cw.begin),
                          reinterpret_cast<T*>(cdx.begin));
    });
  }

  void backward_weights(const py::array& x, const py::array& dy, const py::array& dw, const py::object& db) {
    const Checked cx = check_input(x);
    const Checked cdy = check(dy, "grad_output", output_shape(), d().dtype, false);
    const Checked cdw = check(dw, "grad_weight", weight_shape(), d().dtype, true);
    require_disjoint(cdw, "grad_weight", cx, "input");
    require_disjoint(cdw, "grad_weight", cdy, "grad_output");
    char* cdb = nullptr;
    if (!db.is_none()) {
      const py::array b = db.cast<py::array>();
      const Checked c = check(b, "grad_bias", {d().k}, d().dtype, true);
      require_disjoint(c, "grad_bias", cx, "input");
      require_disjoint(c, "grad_bias", cdy, "grad_output");
      require_disjoint(c, "grad_bias", cdw, "grad_weight");
      cdb = c.begin;
    }
    py::gil_scoped_release release;
    dispatch([&](auto t) {
      using T = decltype(t);
      plan_.backward_weights(reinterpret_cast<const T*>(cx.begin), reinterpret_cast<const T*>(cdy.begin),
                             reinterpret_cast<T*>(cdw.begin), reinterpret_cast<T*>(cdb));
    });
  }

  std::string implementation() const { return plan_.implementation(); }
  bool prepared() const { return plan_.weights_prepared(); }
  std::string algorithm() const { return fastconv::to_string(plan_.algorithm()); }
  int num_threads() const { return plan_.num_threads(); }
  std::string dtype() const { return fastconv::to_string(d().dtype); }
  std::string input_layout() const { return d().input_layout == fastconv::Layout::NHWC ? "nhwc" : "nchw"; }
  std::string repr() const { return "<fastconv plan " + d().to_string() + " implementation='" + implementation() + "'>"; }

  static fastconv::Direction direction_of(const std::string& direction) {
    if (direction == "forward") return fastconv::Direction::Forward;
    if (direction == "backward_data") return fastconv::Direction::BackwardData;
    if (direction == "backward_weights") return fastconv::Direction::BackwardWeights;
    throw py::value_error("direction must be 'forward', 'backward_data' or 'backward_weights', got '" + direction + "'");
  }
  std::size_t workspace_size(const std::string& direction) const { return plan_.workspace_size(direction_of(direction)); }
  std::string implementation_of(const std::string& direction) const {
    return plan_.implementation(direction_of(direction));
  }

 private:
  template <typename Fn>
  void dispatch(Fn&& fn) {
    if (d().dtype == DType::Float32) fn(float{});
    else fn(double{});
  }

  Plan plan_;
};

ConvDesc make_desc(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t k,
                   std::int64_t r, std::int64_t s, std::array<std::int64_t, 2> stride,
                   std::array<std::int64_t, 4> padding, std::array<std::int64_t, 2> dilation,
                   std::int64_t groups, const std::string& dtype, const std::string& layout) {
  ConvDesc d;
  if (layout == "nhwc") d.input_layout = fastconv::Layout::NHWC;
  else if (layout != "nchw") throw py::value_error("input_layout must be 'nchw' or 'nhwc', got '" + layout + "'");
  d.n = n, d.c = c, d.h = h, d.w = w, d.k = k, d.r = r, d.s = s;
  d.stride_h = stride[0], d.stride_w = stride[1];
  d.pad_top = padding[0], d.pad_bottom = padding[1], d.pad_left = padding[2], d.pad_right = padding[3];
  d.dilation_h = dilation[0], d.dilation_w = dilation[1];
  d.groups = groups;
  d.dtype = dtype_from_string(dtype);
  return d;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastconv compiled core (private: use the fastconv package)";
  m.attr("__version__") = FASTCONV_VERSION_STRING;

  py::class_<PyPlan>(m, "Plan")
      .def(py::init([](std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t k,
                       std::int64_t r, std::int64_t s, std::array<std::int64_t, 2> stride,
                       std::array<std::int64_t, 4> padding, std::array<std::int64_t, 2> dilation,
                       std::int64_t groups, const std::string& dtype, const std::string& algorithm,
                       const std::string& layout) {
             return new PyPlan(make_desc(n, c, h, w, k, r, s, stride, padding, dilation, groups, dtype, layout),
                               algorithm);
           }),
           py::arg("n"), py::arg("c"), py::arg("h"), py::arg("w"), py::arg("k"), py::arg("r"), py::arg("s"),
           py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("dtype"),
           py::arg("algorithm"), py::arg("input_layout") = "nchw")
      .def("prepare_weights", &PyPlan::prepare_weights, py::arg("weight"))
      .def_property_readonly("weights_prepared", [](const PyPlan& p) { return p.prepared(); })
      .def("forward", &PyPlan::forward, py::arg("input"), py::arg("weight").none(true), py::arg("bias").none(true),
           py::arg("out"))
      .def("backward_data", &PyPlan::backward_data, py::arg("grad_output"), py::arg("weight").none(true),
           py::arg("grad_input"))
      .def("backward_weights", &PyPlan::backward_weights, py::arg("input"), py::arg("grad_output"),
           py::arg("grad_weight"), py::arg("grad_bias").none(true))
      .def("workspace_size", &PyPlan::workspace_size, py::arg("direction"))
      .def_property_readonly("implementation", &PyPlan::implementation)
      .def("implementation_of", &PyPlan::implementation_of, py::arg("direction"))
      .def_property_readonly("algorithm", &PyPlan::algorithm)
      .def_property_readonly("num_threads", &PyPlan::num_threads)
      .def_property_readonly("dtype", &PyPlan::dtype)
      .def_property_readonly("input_layout", &PyPlan::input_layout)
      .def_property_readonly("input_shape", &PyPlan::input_shape)
      .def_property_readonly("weight_shape", &PyPlan::weight_shape)
      .def_property_readonly("output_shape", &PyPlan::output_shape)
      .def("__repr__", &PyPlan::repr);

  m.def("set_num_threads", &fastconv::set_num_threads, py::arg("n"));
  m.def("get_num_threads", &fastconv::get_num_threads);
  // What a cached plan depends on beyond its arguments, in one call: the thread count and
  // FASTCONV_MAX_WORKSPACE as getenv sees it (os.environ's lookup cost a tiny layer's call 25%).
  m.def("plan_settings", [] {
    const char* bound = std::getenv("FASTCONV_MAX_WORKSPACE");
    return py::make_tuple(fastconv::get_num_threads(), bound ? py::object(py::str(bound)) : py::object(py::none()));
  });
  m.def("set_local_num_threads", &fastconv::set_local_num_threads, py::arg("n"));
  m.def("get_local_num_threads", &fastconv::get_local_num_threads);
  m.def("release_workspace", &fastconv::release_workspace);
  m.def("active_isa", [] { return std::string(fastconv::to_string(fastconv::active_isa())); });
  m.def("detected_isa", [] { return std::string(fastconv::to_string(fastconv::detected_isa())); });
  m.def("cpu_features", &fastconv::cpu_features);
  m.def("measure_peak_gflops", [](int threads, double seconds) {
    py::gil_scoped_release release;
    return fastconv::measure_peak_gflops(threads, seconds);
  }, py::arg("threads"), py::arg("seconds") = 0.2);
#ifdef _OPENMP
  m.attr("openmp") = true;
#else
  m.attr("openmp") = false;
#endif
}
