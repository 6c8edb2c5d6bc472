// Bindings of temperature scaling and the calibration metrics (include/softreg/calibration.hpp,
// include/softreg/metrics.hpp).
#include "softreg/calibration.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

#include "arrays.hpp"
#include "bindings.hpp"
#include "softreg/metrics.hpp"

namespace softreg::python {
namespace {

/// y as int64 class indices, 1-D with n entries.
py::array_t<std::int64_t, py::array::c_style> labels_of(const py::array& y, py::ssize_t n,
                                                        const char* where) {
  const auto a = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(y);
  if (!a || a.ndim() != 1 || a.shape(0) != n) {
    throw py::value_error(std::string(where) + ": y must be a 1-D array of " + std::to_string(n) +
                          " class indices");
  }
  return a;
}

/// Calls f(span of values, k, y) for a 2-D float32 / float64 array (others converted to
/// float64), n x K.
template <class F>
auto with_matrix(const py::array& x, const py::array& y, const char* where, F&& f) {
  if (x.ndim() != 2) {
    throw py::value_error(std::string(where) + ": expected a 2-D array (n, K); got " +
                          std::to_string(x.ndim()) + " dimensions");
  }
  const auto labels = labels_of(y, x.shape(0), where);
  const std::span<const std::int64_t> yv(labels.data(), static_cast<std::size_t>(labels.size()));
  const auto k = static_cast<std::size_t>(x.shape(1));
  if (py::isinstance<py::array_t<float>>(x)) {
    const auto a = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(x);
    return f(cspan(a), k, yv);
  }
  const auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(x);
  if (!a) throw py::type_error(std::string(where) + ": expected a numeric array");
  return f(cspan(a), k, yv);
}

py::dict calibration_dict(const Calibration& c) {
  std::vector<double> lower, upper, confidence, accuracy;
  std::vector<std::int64_t> count;
  for (const ReliabilityBin& b : c.bins) {
    lower.push_back(b.lower);
    upper.push_back(b.upper);
    count.push_back(static_cast<std::int64_t>(b.count));
    confidence.push_back(b.confidence);
    accuracy.push_back(b.accuracy);
  }
  const auto nb = static_cast<py::ssize_t>(c.bins.size());
  py::dict d;
  d["n"] = c.n;
  d["ece"] = c.ece;
  d["mce"] = c.mce;
  d["brier"] = c.brier;
  d["bin_lower"] = adopt(std::move(lower), {nb});
  d["bin_upper"] = adopt(std::move(upper), {nb});
  d["bin_count"] = adopt(std::move(count), {nb});
  d["bin_confidence"] = adopt(std::move(confidence), {nb});
  d["bin_accuracy"] = adopt(std::move(accuracy), {nb});
  return d;
}

}  // namespace

void register_calibration(py::module_& m) {
  using py::arg;
  m.def(
      "fit_temperature",
      [](const py::array& logits, const py::array& y, double min_temperature,
         double max_temperature) {
        TemperatureOptions o;
        o.min_temperature = min_temperature;
        o.max_temperature = max_temperature;
        const TemperatureFit fit =
            with_matrix(logits, y, "softreg.fit_temperature", [&](auto z, std::size_t k, auto yv) {
              py::gil_scoped_release nogil;
              return fit_temperature(z, k, yv, o);
            });
        py::dict d;
        d["temperature"] = fit.temperature;
        d["loss_before"] = fit.loss_before;
        d["loss_after"] = fit.loss_after;
        d["iterations"] = fit.iterations;
        d["at_bound"] = fit.at_bound;
        return d;
      },
      arg("logits"), arg("y"), arg("min_temperature") = 1e-2, arg("max_temperature") = 1e2,
      "softreg::fit_temperature on logits (n, K) and class indices y (n,): a dict of "
      "temperature, loss_before, loss_after, iterations, at_bound.");
  m.def(
      "temperature_log_loss",
      [](const py::array& logits, const py::array& y, double temperature) {
        return with_matrix(logits, y, "softreg.temperature_log_loss",
                           [&](auto z, std::size_t k, auto yv) {
                             return temperature_log_loss(z, k, yv, temperature);
                           });
      },
      arg("logits"), arg("y"), arg("temperature"),
      "Mean log loss of softmax(logits / T) against class indices y.");
  m.def(
      "calibration_metrics",
      [](const py::array& proba, const py::array& y, std::size_t bins) {
        return calibration_dict(with_matrix(
            proba, y, "softreg.calibration_metrics",
            [&](auto p, std::size_t k, auto yv) { return calibration_metrics(p, k, yv, bins); }));
      },
      arg("proba"), arg("y"), arg("bins") = 15,
      "softreg::calibration_metrics: a dict of n, ece, mce, brier and the reliability bins "
      "(bin_lower, bin_upper, bin_count, bin_confidence, bin_accuracy; NaN for empty bins).");
  m.def(
      "reliability_bins",
      [](const py::array& scores, const py::array& outcomes, std::size_t bins) {
        const auto s =
            py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(scores);
        const auto o =
            py::array_t<std::uint8_t, py::array::c_style | py::array::forcecast>::ensure(outcomes);
        if (!s || !o || s.ndim() != 1 || o.ndim() != 1) {
          throw py::value_error("softreg.reliability_bins: scores and outcomes must be 1-D");
        }
        Calibration c;
        c.n = static_cast<std::size_t>(s.size());
        c.bins = reliability_bins(cspan(s), cspan(o), bins);
        return calibration_dict(c);
      },
      arg("scores"), arg("outcomes"), arg("bins") = 15,
      "softreg::reliability_bins of scores in [0, 1] and 0/1 outcomes: the bin_* arrays of "
      "calibration_metrics.");
}

}  // namespace softreg::python
