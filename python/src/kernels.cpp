// Bindings of the softmax-family kernels: softmax, log_softmax, logsumexp, cross-entropy.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "arrays.hpp"
#include "bindings.hpp"
#include "softreg/loss.hpp"
#include "softreg/names.hpp"
#include "softreg/softmax.hpp"

namespace softreg::python {

namespace {

template <class T>
py::array normalize(const py::array& xa, Axis axis, double temperature, const py::object& out,
                    bool log, const char* where) {
  const auto x = py::reinterpret_borrow<py::array_t<T>>(xa);
  const Shape shape = shape_of(x);
  normalize_axis(axis, shape.ndim(), where);
  auto result = output_array<T>(out, dims_of(x), where);
  const auto in = cspan(x);
  const auto dst = mspan(result);
  {
    py::gil_scoped_release nogil;
    if (log) {
      log_softmax(dst, in, shape, int(axis.value), temperature);
    } else {
      softmax(dst, in, shape, int(axis.value), temperature);
    }
  }
  return result;
}

py::array softmax_py(py::handle x, Axis axis, double temperature, const py::object& out) {
  const char* where = "softreg.softmax";
  const py::array a = float_array(x, where, "x");
  return precision_of(a) == Precision::f32
             ? normalize<float>(a, axis, temperature, out, false, where)
             : normalize<double>(a, axis, temperature, out, false, where);
}

py::array log_softmax_py(py::handle x, Axis axis, double temperature, const py::object& out) {
  const char* where = "softreg.log_softmax";
  const py::array a = float_array(x, where, "x");
  return precision_of(a) == Precision::f32
             ? normalize<float>(a, axis, temperature, out, true, where)
             : normalize<double>(a, axis, temperature, out, true, where);
}

template <class T>
py::array reduce_lse(const py::array& xa, Axis axis, bool keepdims, const py::object& out,
                     const char* where) {
  const auto x = py::reinterpret_borrow<py::array_t<T>>(xa);
  const Shape shape = shape_of(x);
  const std::size_t a = normalize_axis(axis, shape.ndim(), where);
  std::vector<py::ssize_t> dims = dims_of(x);
  if (keepdims) {
    dims[a] = 1;
  } else {
    dims.erase(dims.begin() + static_cast<std::ptrdiff_t>(a));
  }
  auto result = output_array<T>(out, dims, where);
  const auto in = cspan(x);
  const auto dst = mspan(result);
  {
    py::gil_scoped_release nogil;
    logsumexp(dst, in, shape, int(axis.value));
  }
  return result;
}

py::array logsumexp_py(py::handle x, Axis axis, bool keepdims, const py::object& out) {
  const char* where = "softreg.logsumexp";
  const py::array a = float_array(x, where, "x");
  return precision_of(a) == Precision::f32 ? reduce_lse<float>(a, axis, keepdims, out, where)
                                           : reduce_lse<double>(a, axis, keepdims, out, where);
}

Reduction parse_reduction(const std::string& r, const char* where) {
  return parse_name_or_throw<Reduction>(r, std::string(where) + ": reduction");
}

struct CrossEntropyArgs {
  py::handle target;
  py::object weight;
  std::int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  std::string reduction = "mean";
  Axis axis{};  // -1
  py::object out;
};

/// The target: integer class indices (one per row, `row_dims`) or probabilities (the logits'
/// shape, `logit_dims`); sets index_target to say which.
py::array checked_target(py::handle target, const std::vector<py::ssize_t>& row_dims,
                         const std::vector<py::ssize_t>& logit_dims, bool& index_target,
                         const char* where) {
  py::array t = py::array::ensure(target);
  if (!t) {
    throw py::type_error(std::string(where) +
                         ": target must be an array of class indices or "
                         "of probabilities");
  }
  const char kind = t.dtype().kind();
  index_target = kind == 'i' || kind == 'u';
  if (!index_target && kind != 'f') {
    throw py::type_error(std::string(where) +
                         ": target must have an integer dtype (class indices) or a floating-point "
                         "dtype (probabilities); got dtype " +
                         dtype_str(t.dtype()));
  }
  const auto& want = index_target ? row_dims : logit_dims;
  if (dims_of(t) != want) {
    throw py::value_error(std::string(where) + ": target has shape " + shape_str(dims_of(t)) +
                          ", expected " + shape_str(want) +
                          (index_target ? " (class indices: the logits' shape without the class "
                                          "axis)"
                                        : " (probabilities: the logits' shape)"));
  }
  return t;
}

/// The class weights as a C-contiguous (k,) array of T, or an empty array for None.
template <class T>
py::array_t<T> class_weight_array(const py::object& weight_arg, py::ssize_t k, const char* where) {
  if (weight_arg.is_none()) return {};
  auto weight = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(weight_arg);
  if (!weight) throw py::type_error(std::string(where) + ": weight must be a 1-D array of numbers");
  if (weight.ndim() != 1 || weight.shape(0) != k) {
    throw py::value_error(std::string(where) + ": weight has shape " + shape_str(dims_of(weight)) +
                          ", expected (" + std::to_string(k) + ",) (one weight per class)");
  }
  return weight;
}

/// Cross-entropy of float logits of type T, with or without the gradient. Returns the loss (a
/// float, or the row losses for reduction "none"), and the gradient when with_grad.
template <class T>
py::object cross_entropy_typed(const py::array& la, const CrossEntropyArgs& args, bool with_grad,
                               const char* where) {
  const auto logits = py::reinterpret_borrow<py::array_t<T>>(la);
  const Shape shape = shape_of(logits);
  const std::size_t axis = normalize_axis(args.axis, shape.ndim(), where);
  const Reduction reduction = parse_reduction(args.reduction, where);
  const std::vector<py::ssize_t> logit_dims = dims_of(logits);
  std::vector<py::ssize_t> row_dims = logit_dims;
  row_dims.erase(row_dims.begin() + static_cast<std::ptrdiff_t>(axis));
  const auto k = logit_dims[axis];

  bool index_target = false;
  const py::array t = checked_target(args.target, row_dims, logit_dims, index_target, where);
  CrossEntropyOptions<T> options;
  options.reduction = reduction;
  options.label_smoothing = args.label_smoothing;
  options.ignore_index = args.ignore_index;
  options.class_axis = int(args.axis.value);
  const py::array_t<T> weight = class_weight_array<T>(args.weight, k, where);
  if (!args.weight.is_none()) options.class_weights = cspan(weight);
  py::array_t<T> row_losses;
  if (reduction == Reduction::none) {
    row_losses = with_grad ? py::array_t<T>(row_dims) : output_array<T>(args.out, row_dims, where);
  } else if (!with_grad && !args.out.is_none()) {
    throw py::value_error(std::string(where) +
                          ": out holds the row losses and needs reduction='none'");
  }
  py::array_t<T> grad;
  if (with_grad) grad = output_array<T>(args.out, logit_dims, where);
  const std::span<T> losses_span =
      reduction == Reduction::none ? mspan(row_losses) : std::span<T>{};

  double loss = 0.0;
  const auto in = cspan(logits);
  if (index_target) {
    const auto target = index_array(t, where, "target");
    const auto tspan = cspan(target);
    py::gil_scoped_release nogil;
    loss = with_grad ? cross_entropy_with_grad(mspan(grad), in, shape, tspan, options, losses_span)
                     : cross_entropy(in, shape, tspan, options, losses_span);
  } else {
    const auto target = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(t);
    const auto tspan = cspan(target);
    py::gil_scoped_release nogil;
    loss = with_grad ? cross_entropy_with_grad(mspan(grad), in, shape, tspan, options, losses_span)
                     : cross_entropy(in, shape, tspan, options, losses_span);
  }
  py::object value = reduction == Reduction::none ? py::object(row_losses) : py::float_(loss);
  if (with_grad) return py::make_tuple(value, grad);
  return value;
}

py::object cross_entropy_any(py::handle logits, const CrossEntropyArgs& args, bool with_grad) {
  const char* where = with_grad ? "softreg.cross_entropy_with_grad" : "softreg.cross_entropy";
  const py::array a = float_array(logits, where, "logits");
  return precision_of(a) == Precision::f32 ? cross_entropy_typed<float>(a, args, with_grad, where)
                                           : cross_entropy_typed<double>(a, args, with_grad, where);
}

/// softmax, log_softmax, logsumexp.
void register_softmax_family(py::module_& m) {
  using py::arg;
  m.def("softmax", &softmax_py, arg("x"), arg("axis") = -1, arg("temperature") = 1.0, py::kw_only(),
        arg("out") = py::none(), R"doc(
Softmax of ``x / temperature`` along ``axis``: ``exp(d) / sum(exp(d))`` with
``d = (x - max x) / temperature``, so no entry overflows.

Parameters
----------
x : array_like of any shape
    float32 and float64 are computed in their own precision (C-contiguous arrays are read
    without a copy; others are copied C-contiguous first). bool, integer and float16 inputs
    are converted to float64. Other dtypes raise TypeError.
axis : int
    The axis to normalize along; negative counts from the end. Any axis costs the same, no
    transposed copy is made.
temperature : float
    ``T > 0`` divides the logits; ``T == 0`` gives the one-hot argmax (ties to the lowest
    index); ``T < 0``, NaN or inf raise ValueError.
out : ndarray, optional
    Where to write the result: same shape as ``x``, the result's dtype, C-contiguous and
    writeable (else TypeError for the type or dtype, ValueError otherwise). ``out`` may be
    ``x`` itself (in place); a partial overlap raises ValueError.

Returns
-------
ndarray of the shape of ``x`` (``out`` when given).

Edge cases (docs/NUMERICS.md): a row with a NaN is all NaN; ``+inf`` entries share the mass
equally; a row of only ``-inf`` gives zeros; an empty axis writes nothing. Error bound:
``|p - p_exact| <= 8 eps (1 + |d|) p + tiny``.
)doc");
  m.def("log_softmax", &log_softmax_py, arg("x"), arg("axis") = -1, arg("temperature") = 1.0,
        py::kw_only(), arg("out") = py::none(), R"doc(
``d - log(sum(exp(d)))`` with ``d = (x - max x) / temperature``, along ``axis``: the log of
softmax without ever forming a probability, so tiny probabilities keep their full precision.

Same arguments, dtype and copy rules as :func:`softmax`. ``temperature == 0`` gives 0 at the
argmax and ``-inf`` elsewhere. A NaN row is all NaN; ``+inf`` entries give ``-log c`` (c of
them) and ``-inf`` elsewhere; a row of only ``-inf`` stays ``-inf``. Error bound:
``|y - y_exact| <= 8 eps (1 + |y|)``.
)doc");
  m.def("logsumexp", &logsumexp_py, arg("x"), arg("axis") = -1, arg("keepdims") = false,
        py::kw_only(), arg("out") = py::none(), R"doc(
``log(sum(exp(x)))`` along ``axis``, computed as ``max x + log(sum(exp(x - max x)))``.

Returns an array of ``x``'s shape without ``axis`` (with ``axis`` kept as 1 when
``keepdims``), of ``x``'s float dtype (float64 for bool, integer and float16 input). ``out``
must have that shape and dtype and be C-contiguous and writeable. A NaN row gives NaN, a row
with ``+inf`` gives ``+inf``, a row of only ``-inf`` and an empty row give ``-inf``. Error
bound: ``|r - r_exact| <= 8 eps (1 + |r|)``.
)doc");
}

/// cross_entropy and cross_entropy_with_grad.
void register_cross_entropy(py::module_& m) {
  using py::arg;
  const char* ce_doc = R"doc(
Cross-entropy from logits (never ``-log(softmax)``), with PyTorch's semantics
(``torch.nn.functional.cross_entropy``) except where docs/NUMERICS.md says otherwise.

Parameters
----------
logits : array_like, float32 or float64 (others as in :func:`softmax`)
    Classes along ``axis``: the last axis by default, so ``(N, K)`` rows are samples; pass
    ``axis=1`` for PyTorch's ``(N, C, d1, ...)`` layout.
target : array_like
    Integer dtype: class indices, of the logits' shape without ``axis``; each in ``[0, K)`` or
    equal to ``ignore_index`` (else ValueError naming the row). Floating dtype: probabilities
    of the logits' shape (converted to the logits' dtype; not validated, as in PyTorch).
weight : array_like of K floats, optional
    Class weights, finite and >= 0.
ignore_index : int
    Index targets equal to it cost nothing and are not counted by ``"mean"``.
label_smoothing : float in [0, 1]
reduction : "mean", "sum" or "none"
    ``"mean"`` divides by the summed weight of the counted targets (index targets) or by the
    number of rows (probability targets); when that is 0 the loss is 0 (PyTorch gives NaN).
    ``"none"`` returns the row losses as an array of the logits' shape without ``axis``.
out : ndarray, optional
    With ``reduction="none"`` only: where to write the row losses (their shape, the logits'
    dtype, C-contiguous, writeable).

Returns
-------
float, or the array of row losses for ``reduction="none"``. Sums are accumulated in float64.
A row with a NaN logit has a NaN loss.
)doc";
  m.def(
      "cross_entropy",
      [](py::handle logits, py::handle target, py::object weight, std::int64_t ignore_index,
         double label_smoothing, std::string reduction, Axis axis, py::object out) {
        return cross_entropy_any(logits,
                                 {target, std::move(weight), ignore_index, label_smoothing,
                                  std::move(reduction), axis, std::move(out)},
                                 false);
      },
      arg("logits"), arg("target"), arg("weight") = py::none(), arg("ignore_index") = -100,
      arg("label_smoothing") = 0.0, arg("reduction") = "mean", arg("axis") = -1, py::kw_only(),
      arg("out") = py::none(), ce_doc);
  m.def(
      "cross_entropy_with_grad",
      [](py::handle logits, py::handle target, py::object weight, std::int64_t ignore_index,
         double label_smoothing, std::string reduction, Axis axis, py::object out) {
        return cross_entropy_any(logits,
                                 {target, std::move(weight), ignore_index, label_smoothing,
                                  std::move(reduction), axis, std::move(out)},
                                 true);
      },
      arg("logits"), arg("target"), arg("weight") = py::none(), arg("ignore_index") = -100,
      arg("label_smoothing") = 0.0, arg("reduction") = "mean", arg("axis") = -1, py::kw_only(),
      arg("out") = py::none(), R"doc(
The loss of :func:`cross_entropy` and its gradient with respect to the logits, in one fused
pass: ``(S p - q) / denominator`` (``(P - Y) / n`` for a plain mean over index targets).

Same arguments as :func:`cross_entropy`, except that ``out`` receives the gradient: the
logits' shape and dtype, C-contiguous and writeable; it may be the logits array itself.
Returns ``(loss, dlogits)``: ``loss`` is a float, or the row losses for ``reduction="none"``
(then ``dlogits`` is the gradient of their sum). When ``"mean"`` counts nothing the loss and
the gradient are 0.
)doc");
}

}  // namespace

void register_kernels(py::module_& m) {
  register_softmax_family(m);
  register_cross_entropy(m);
}

}  // namespace softreg::python
