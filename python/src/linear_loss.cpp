// softreg.linear_cross_entropy: the NumPy face of softreg::linear_cross_entropy
// (include/softreg/linear_loss.hpp). C-contiguous float32 / float64 arrays are read in place;
// the kernel runs without the GIL.
#include "softreg/linear_loss.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "arrays.hpp"
#include "bindings.hpp"
#include "softreg/names.hpp"

namespace softreg::python {
namespace {

constexpr const char* kWhere = "softreg.linear_cross_entropy";

struct LceArgs {
  py::object bias, class_weights;
  std::int64_t ignore_index = -100;
  double label_smoothing = 0, z_loss = 0;
  std::optional<double> softcap;
  std::string reduction = "mean", layout = "dk";
  bool return_grad = false;
  bool filter_gradient = false;
};

[[noreturn]] void value_error(const std::string& what) {
  throw py::value_error(std::string(kWhere) + ": " + what);
}

template <class T>
py::array_t<T, py::array::c_style> as(const py::object& x, const char* name) {
  auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(x);
  if (!a) value_error(std::string(name) + " must be an array of numbers");
  return a;
}

template <class T>
py::object run(const py::array& hidden_in, const py::object& weight_in, const py::object& target_in,
               const LceArgs& args) {
  const auto hidden = as<T>(hidden_in, "hidden");
  const auto weight = as<T>(weight_in, "weight");
  const auto target = index_array(target_in, "softreg.linear_cross_entropy", "target");
  if (hidden.ndim() != 2)
    value_error("hidden must be 2-d (n, d), got " + std::to_string(hidden.ndim()) + "-d");
  if (weight.ndim() != 2)
    value_error("weight must be 2-d, got " + std::to_string(weight.ndim()) + "-d");
  if (!target || target.ndim() != 1) value_error("target must be a 1-d integer array");
  const std::size_t n = std::size_t(hidden.shape(0)), d = std::size_t(hidden.shape(1));
  LinearCrossEntropyOptions<T> o;
  o.layout =
      parse_name_or_throw<WeightLayout>(args.layout, std::string(kWhere) + ": weight_layout");
  o.reduction = parse_name_or_throw<Reduction>(args.reduction, std::string(kWhere) + ": reduction");
  const bool kd = o.layout == WeightLayout::kd;
  const std::size_t wd = std::size_t(weight.shape(kd ? 1 : 0));
  const std::size_t k = std::size_t(weight.shape(kd ? 0 : 1));
  if (wd != d) {
    value_error(std::string("weight has shape ") + shape_str(dims_of(weight)) + ", expected (" +
                (kd ? "K, " + std::to_string(d) : std::to_string(d) + ", K") +
                ") for hidden of shape " + shape_str(dims_of(hidden)) + " and weight_layout='" +
                args.layout + "'");
  }
  if (std::size_t(target.shape(0)) != n) {
    value_error("target has " + std::to_string(target.shape(0)) +
                " entries, expected n = " + std::to_string(n));
  }
  const bool has_bias = !args.bias.is_none(), has_cw = !args.class_weights.is_none();
  py::array_t<T, py::array::c_style> bias, cw;
  if (has_bias) bias = as<T>(args.bias, "bias");
  if (has_cw) cw = as<T>(args.class_weights, "class_weights");
  o.ignore_index = args.ignore_index;
  o.label_smoothing = args.label_smoothing;
  o.z_loss = args.z_loss;
  o.softcap = args.softcap.value_or(0.0);
  o.filter_gradient = args.filter_gradient;
  if (args.softcap && !(*args.softcap > 0)) value_error("softcap must be > 0 (None: off)");
  if (has_cw) o.class_weights = {cw.data(), std::size_t(cw.size())};
  const std::span<const T> bias_span =
      has_bias ? std::span<const T>(bias.data(), std::size_t(bias.size())) : std::span<const T>{};
  py::array_t<T> rows(o.reduction == Reduction::none ? py::ssize_t(n) : 0);
  const std::span<T> row_span =
      o.reduction == Reduction::none ? std::span<T>(rows.mutable_data(), n) : std::span<T>{};
  const std::span<const T> h(hidden.data(), n * d), w(weight.data(), d * k);
  const std::span<const std::int64_t> t(target.data(), n);
  double loss = 0;
  if (!args.return_grad) {
    {
      py::gil_scoped_release nogil;
      loss = linear_cross_entropy(h, n, d, w, k, bias_span, t, o, row_span);
    }
    if (o.reduction == Reduction::none) return rows;
    return py::float_(loss);
  }
  py::array_t<T> dh({py::ssize_t(n), py::ssize_t(d)});
  py::array_t<T> dw({weight.shape(0), weight.shape(1)});
  py::array_t<T> db(has_bias ? py::ssize_t(k) : 0);
  LinearCrossEntropyGrads<T> g;
  g.d_hidden = {dh.mutable_data(), n * d};
  g.d_weight = {dw.mutable_data(), d * k};
  if (has_bias) g.d_bias = {db.mutable_data(), k};
  {
    py::gil_scoped_release nogil;
    loss = linear_cross_entropy_with_grad(h, n, d, w, k, bias_span, t, g, o, row_span);
  }
  py::object value = o.reduction == Reduction::none ? py::object(rows) : py::float_(loss);
  return py::make_tuple(value, dh, dw, has_bias ? py::object(db) : py::none());
}

}  // namespace

void register_linear_loss(py::module_& m) {
  using py::arg;
  m.def(
      "linear_cross_entropy",
      [](py::object hidden, py::object weight, py::object target, py::object bias,
         std::int64_t ignore_index, double label_smoothing, double z_loss,
         std::optional<double> softcap, std::string reduction, std::string weight_layout,
         py::object class_weights, bool return_grad, bool filter_gradient) {
        const py::array h = float_array(hidden, kWhere, "hidden");
        LceArgs a{bias,    class_weights, ignore_index,  label_smoothing, z_loss,
                  softcap, reduction,     weight_layout, return_grad,     filter_gradient};
        return precision_of(h) == Precision::f32 ? run<float>(h, weight, target, a)
                                                 : run<double>(h, weight, target, a);
      },
      arg("hidden"), arg("weight"), arg("target"), arg("bias") = py::none(),
      arg("ignore_index") = -100, arg("label_smoothing") = 0.0, arg("z_loss") = 0.0,
      arg("softcap") = py::none(), arg("reduction") = "mean", arg("weight_layout") = "dk",
      arg("class_weights") = py::none(), arg("return_grad") = false, arg("filter_gradient") = false,
      R"doc(
Cross-entropy of softmax(hidden @ W + bias) against integer targets, without the (n, K) logits.

hidden (n, d); weight (d, K) with weight_layout="dk" (the seed's W) or (K, d) with "kd"
(PyTorch's nn.Linear weight, tied embeddings), read in place; target n integers in [0, K) or
ignore_index. Options as PyTorch's cross_entropy and Liger Kernel: bias (K), class_weights (K),
label_smoothing, z_loss (coefficient of logsumexp^2 per row), softcap (z <- cap tanh(z / cap),
Gemma 2), reduction "mean" (over the weights of the rows not ignored), "sum" or "none" (the row
losses). float32 when hidden is float32 (weight, bias and class_weights are converted to it),
else float64; losses accumulate in float64.

Returns the loss (a float, or the row losses for "none"); with return_grad=True, (loss,
d_hidden, d_weight, d_bias): d_weight in the weight's layout, d_bias None without a bias; for
"none" the gradients are those of the sum of the row losses. filter_gradient=True skips the
products of 256-class blocks without a target whose probabilities are all below 2^-24 (no
effect with label smoothing; the bound of the change is in the C++ header). The definition and
edge cases are in docs/NUMERICS.md ("Linear + cross-entropy").
)doc");
}

}  // namespace softreg::python
