// Bindings of argmax, the softmax family's backward passes, the softmax Jacobian and the online
// (max, sum) normalizer.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "arrays.hpp"
#include "bindings.hpp"
#include "softreg/online_softmax.hpp"
#include "softreg/softmax.hpp"

namespace softreg::python {

namespace {

/// `a` as a C-contiguous array of T (converted when its dtype differs), of the given shape.
template <class T>
py::array_t<T> same_shape(py::handle a, const std::vector<py::ssize_t>& dims, const char* where,
                          const char* name, const char* like) {
  auto arr = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!arr) throw py::type_error(std::string(where) + ": " + name + " must be an array of numbers");
  if (dims_of(arr) != dims) {
    throw py::value_error(std::string(where) + ": " + name + " has shape " +
                          shape_str(dims_of(arr)) + ", expected " + shape_str(dims) + " (" + like +
                          ")");
  }
  return arr;
}

/// The shape of a reduction over `axis`: dims without it, or with it kept as 1.
std::vector<py::ssize_t> reduced(std::vector<py::ssize_t> dims, std::size_t axis, bool keep) {
  if (keep) {
    dims[axis] = 1;
  } else {
    dims.erase(dims.begin() + static_cast<std::ptrdiff_t>(axis));
  }
  return dims;
}

template <class T>
py::array argmax_typed(const py::array& xa, Axis axis, bool keepdims, const char* where) {
  const auto x = py::reinterpret_borrow<py::array_t<T>>(xa);
  const Shape shape = shape_of(x);
  const std::size_t a = normalize_axis(axis, shape.ndim(), where);
  py::array_t<std::int64_t> result(reduced(dims_of(x), a, keepdims));
  const auto in = cspan(x);
  const auto dst = mspan(result);
  py::gil_scoped_release nogil;
  argmax(dst, in, shape, int(axis.value));
  return result;
}

py::array argmax_py(py::handle x, Axis axis, bool keepdims) {
  const char* where = "softreg.argmax";
  const py::array a = float_array(x, where, "x");
  return precision_of(a) == Precision::f32 ? argmax_typed<float>(a, axis, keepdims, where)
                                           : argmax_typed<double>(a, axis, keepdims, where);
}

/// softmax_backward (log = false) and log_softmax_backward: dx from the forward output and dy.
template <class T>
py::array normalize_backward(const py::array& fa, py::handle dy_arg, Axis axis, double temperature,
                             const py::object& out, bool log, const char* where) {
  const auto forward = py::reinterpret_borrow<py::array_t<T>>(fa);
  const Shape shape = shape_of(forward);
  normalize_axis(axis, shape.ndim(), where);
  const auto dims = dims_of(forward);
  const auto dy =
      same_shape<T>(dy_arg, dims, where, "dy", log ? "the shape of y" : "the shape of p");
  auto result = output_array<T>(out, dims, where);
  const auto f = cspan(forward);
  const auto g = cspan(dy);
  const auto dst = mspan(result);
  {
    py::gil_scoped_release nogil;
    if (log) {
      log_softmax_backward(dst, f, g, shape, int(axis.value), temperature);
    } else {
      softmax_backward(dst, f, g, shape, int(axis.value), temperature);
    }
  }
  return result;
}

py::array softmax_backward_py(py::handle p, py::handle dy, Axis axis, double temperature,
                              const py::object& out) {
  const char* where = "softreg.softmax_backward";
  const py::array a = float_array(p, where, "p");
  return precision_of(a) == Precision::f32
             ? normalize_backward<float>(a, dy, axis, temperature, out, false, where)
             : normalize_backward<double>(a, dy, axis, temperature, out, false, where);
}

py::array log_softmax_backward_py(py::handle y, py::handle dy, Axis axis, double temperature,
                                  const py::object& out) {
  const char* where = "softreg.log_softmax_backward";
  const py::array a = float_array(y, where, "y");
  return precision_of(a) == Precision::f32
             ? normalize_backward<float>(a, dy, axis, temperature, out, true, where)
             : normalize_backward<double>(a, dy, axis, temperature, out, true, where);
}

template <class T>
py::array lse_backward(const py::array& xa, py::handle r_arg, py::handle dr_arg, Axis axis,
                       const py::object& out, const char* where) {
  const auto x = py::reinterpret_borrow<py::array_t<T>>(xa);
  const Shape shape = shape_of(x);
  const std::size_t a = normalize_axis(axis, shape.ndim(), where);
  const auto dims = dims_of(x);
  // r and dr as logsumexp returns them, with or without keepdims.
  const auto with_axis = reduced(dims, a, true);
  const auto without = reduced(dims, a, false);
  const auto reduced_arg = [&](py::handle v, const char* name) {
    auto arr = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(v);
    if (!arr) throw py::type_error(std::string(where) + ": " + name + " must be an array");
    if (dims_of(arr) != without && dims_of(arr) != with_axis) {
      throw py::value_error(std::string(where) + ": " + name + " has shape " +
                            shape_str(dims_of(arr)) + ", expected " + shape_str(without) + " or " +
                            shape_str(with_axis) + " (x's shape reduced over axis " +
                            std::to_string(a) + ")");
    }
    return arr;
  };
  const auto r = reduced_arg(r_arg, "r");
  const auto dr = reduced_arg(dr_arg, "dr");
  auto result = output_array<T>(out, dims, where);
  const auto in = cspan(x);
  const auto rs = cspan(r);
  const auto drs = cspan(dr);
  const auto dst = mspan(result);
  py::gil_scoped_release nogil;
  logsumexp_backward(dst, in, rs, drs, shape, int(axis.value));
  return result;
}

py::array logsumexp_backward_py(py::handle x, py::handle r, py::handle dr, Axis axis,
                                const py::object& out) {
  const char* where = "softreg.logsumexp_backward";
  const py::array a = float_array(x, where, "x");
  return precision_of(a) == Precision::f32 ? lse_backward<float>(a, r, dr, axis, out, where)
                                           : lse_backward<double>(a, r, dr, axis, out, where);
}

template <class T>
py::array jacobian_typed(const py::array& pa, const char* where) {
  const auto p = py::reinterpret_borrow<py::array_t<T>>(pa);
  if (p.ndim() != 1) {
    throw py::value_error(std::string(where) + ": p has shape " + shape_str(dims_of(p)) +
                          ", expected (K,) (one softmax row)");
  }
  const py::ssize_t k = p.shape(0);
  py::array_t<T> result(std::vector<py::ssize_t>{k, k});
  const auto in = cspan(p);
  const auto dst = mspan(result);
  py::gil_scoped_release nogil;
  softmax_jacobian(dst, in);
  return result;
}

py::array softmax_jacobian_py(py::handle p) {
  const char* where = "softreg.softmax_jacobian";
  const py::array a = float_array(p, where, "p");
  return precision_of(a) == Precision::f32 ? jacobian_typed<float>(a, where)
                                           : jacobian_typed<double>(a, where);
}

void online_update(OnlineSoftmax& self, py::handle x) {
  const char* where = "softreg.OnlineSoftmax.update";
  const py::array a = float_array(x, where, "x");
  if (precision_of(a) == Precision::f32) {
    const auto arr = py::reinterpret_borrow<py::array_t<float>>(a);
    const auto in = cspan(arr);
    py::gil_scoped_release nogil;
    self.update(in);
  } else {
    const auto arr = py::reinterpret_borrow<py::array_t<double>>(a);
    const auto in = cspan(arr);
    py::gil_scoped_release nogil;
    self.update(in);
  }
}

template <class T>
py::array online_normalize_typed(const OnlineSoftmax& self, const py::array& xa,
                                 const py::object& out, const char* where) {
  const auto x = py::reinterpret_borrow<py::array_t<T>>(xa);
  auto result = output_array<T>(out, dims_of(x), where);
  const auto in = cspan(x);
  const auto dst = mspan(result);
  py::gil_scoped_release nogil;
  self.normalize(dst, in);
  return result;
}

py::array online_normalize(const OnlineSoftmax& self, py::handle x, const py::object& out) {
  const char* where = "softreg.OnlineSoftmax.normalize";
  const py::array a = float_array(x, where, "x");
  return precision_of(a) == Precision::f32 ? online_normalize_typed<float>(self, a, out, where)
                                           : online_normalize_typed<double>(self, a, out, where);
}

void register_online(py::module_& m) {
  using py::arg;
  py::class_<OnlineSoftmax>(m, "OnlineSoftmax", R"doc(
The online softmax normalizer of one row: the running maximum ``max`` and
``sum = sum(exp((x - max) / T))``, rescaled whenever the maximum grows, in double with a
compensated sum. Pieces of a row can be folded in one after another (:meth:`update`), or by
separate normalizers that are then merged (:meth:`merge`, in any order): a row split across
workers or streamed in chunks. Then :meth:`logsumexp`, :meth:`probability` and
:meth:`normalize` give the whole row's results.

Edge cases: a NaN entry makes :meth:`logsumexp` and :meth:`normalize` NaN; ``+inf`` entries
take all the mass; nothing seen, or only ``-inf``, gives ``max = -inf``, ``sum = 0``,
``logsumexp() = -inf`` and zeros from :meth:`normalize`. Error: ``logsumexp()`` within
``4 eps_f64 (1 + |r|)`` of the exact value for any split.
)doc")
      .def(py::init<double>(), arg("temperature") = 1.0,
           "temperature: finite and > 0 (else ValueError).")
      .def("update", &online_update, arg("x"),
           "Folds every entry of x (an array of any shape, float32 or float64; others become "
           "float64) into the state.")
      .def("merge", &OnlineSoftmax::merge, arg("other"),
           "Folds in another normalizer's state, as if its entries had been seen here "
           "(ValueError if the temperatures differ).")
      .def_property_readonly("max", &OnlineSoftmax::max,
                             "Largest entry seen (before division by T); -inf if none.")
      .def_property_readonly("sum", &OnlineSoftmax::sum,
                             "sum exp((x - max) / T); for max == +inf, the count of +inf.")
      .def_property_readonly("has_nan", &OnlineSoftmax::has_nan, "Whether a NaN was seen.")
      .def_property_readonly("temperature", &OnlineSoftmax::temperature)
      .def("logsumexp", &OnlineSoftmax::logsumexp, "log sum exp(x / T) over everything seen.")
      .def("probability", &OnlineSoftmax::probability, arg("x"),
           "The softmax probability of one entry x of the row, once all of it is folded in.")
      .def("normalize", &online_normalize, arg("x"), py::kw_only(), arg("out") = py::none(),
           "exp((x - max) / T) / sum for a piece x of the row, in x's float dtype and shape; "
           "out (same shape and dtype, C-contiguous) may be x itself.")
      .def("__repr__", [](const OnlineSoftmax& o) {
        return "OnlineSoftmax(temperature=" + std::to_string(o.temperature()) +
               ", max=" + std::to_string(o.max()) + ", sum=" + std::to_string(o.sum()) +
               (o.has_nan() ? ", has_nan=True" : "") + ")";
      });
}

}  // namespace

void register_backward(py::module_& m) {
  register_online(m);
  using py::arg;
  m.def("argmax", &argmax_py, arg("x"), arg("axis") = -1, arg("keepdims") = false, R"doc(
Index of the largest entry along ``axis`` (int64), ties to the lowest index, as
``numpy.argmax`` but never silent about NaN: a row holding a NaN gives -1, and so does an
empty axis. A row of only ``-inf`` gives 0. Same dtype and copy rules as :func:`softmax`.
)doc");
  m.def("softmax_backward", &softmax_backward_py, arg("p"), arg("dy"), arg("axis") = -1,
        arg("temperature") = 1.0, py::kw_only(), arg("out") = py::none(), R"doc(
The vector-Jacobian product of :func:`softmax`: ``dx = p * (dy - sum(dy * p)) / T`` along
``axis``, from the forward OUTPUT ``p`` (not the logits) and the upstream gradient ``dy`` (the
same shape; converted to ``p``'s dtype). ``temperature == 0`` gives zeros (argmax has zero
derivative almost everywhere). A NaN in a row of ``p`` or ``dy`` makes that row of ``dx``
NaN. ``out`` (same shape and dtype as ``p``) may be ``dy`` itself.
)doc");
  m.def("log_softmax_backward", &log_softmax_backward_py, arg("y"), arg("dy"), arg("axis") = -1,
        arg("temperature") = 1.0, py::kw_only(), arg("out") = py::none(), R"doc(
The vector-Jacobian product of :func:`log_softmax`: ``dx = (dy - exp(y) * sum(dy)) / T``
along ``axis``, from the forward OUTPUT ``y`` and the upstream gradient ``dy`` (same shape).
Same rules as :func:`softmax_backward`.
)doc");
  m.def("logsumexp_backward", &logsumexp_backward_py, arg("x"), arg("r"), arg("dr"),
        arg("axis") = -1, py::kw_only(), arg("out") = py::none(), R"doc(
The vector-Jacobian product of :func:`logsumexp`: ``dx = dr * exp(x - r)``, from the input
``x``, the forward output ``r`` and its upstream gradient ``dr`` (both of ``x``'s shape
reduced over ``axis``, with or without ``keepdims``). A fully masked row (``r == -inf``) gets
zeros.
)doc");
  m.def("softmax_jacobian", &softmax_jacobian_py, arg("p"), R"doc(
The K x K Jacobian of one softmax row, ``J[i, j] = p[i] * (delta_ij - p[j])``, from the
forward output ``p`` of shape (K,). O(K^2) memory: for checks and small K; training uses
:func:`softmax_backward`.
)doc");
}

}  // namespace softreg::python
