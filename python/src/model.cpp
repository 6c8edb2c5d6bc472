// Bindings of the classifier: TrainOptions, fitting with the GIL released, prediction, pickling.
#include "softreg/model.hpp"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "arrays.hpp"
#include "bindings.hpp"
#include "softreg/atomic_file.hpp"
#include "softreg/model_io.hpp"
#include "softreg/names.hpp"
#include "softreg/report.hpp"

namespace softreg::python {

namespace {

/// Feature matrices of either precision, copied from NumPy arrays (the library's matrices own
/// their storage).
using AnyFeatures = std::variant<FeatureMatrix<float>, FeatureMatrix<double>>;

template <class T>
DenseMatrix<T> dense_copy(const py::array_t<T>& x) {
  DenseMatrix<T> m(static_cast<std::size_t>(x.shape(0)), static_cast<std::size_t>(x.shape(1)));
  if (!m.data.empty()) {
    py::gil_scoped_release nogil;
    std::memcpy(m.data.data(), x.data(), m.data.size() * sizeof(T));
  }
  return m;
}

template <class T>
std::vector<T> vector_of(const py::array& a) {
  const auto c = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
  return std::vector<T>(c.data(), c.data() + c.size());
}

/// A CSR matrix from (data, indices, indptr, n_cols), checked: indptr starts at 0, never
/// decreases and ends at nnz; column indices lie in [0, n_cols) and increase strictly within
/// each row (scipy's canonical form, which the library's products rely on).
template <class T>
CsrMatrix<T> csr_copy(const py::array& data, const py::array& indices, const py::array& indptr,
                      std::size_t cols, const char* where) {
  CsrMatrix<T> m;
  m.cols = cols;
  m.values = vector_of<T>(data);
  m.indices = vector_of<std::int32_t>(indices);
  m.indptr = vector_of<std::int64_t>(indptr);
  const std::string who = std::string(where) + ": sparse X ";
  if (m.indptr.empty() || m.indptr.front() != 0 ||
      m.indptr.back() != static_cast<std::int64_t>(m.values.size()) ||
      m.indices.size() != m.values.size()) {
    throw py::value_error(who + "has an inconsistent indptr, indices and data");
  }
  m.rows = m.indptr.size() - 1;
  for (std::size_t r = 0; r < m.rows; ++r) {
    const auto begin = m.indptr[r], end = m.indptr[r + 1];
    if (end < begin)
      throw py::value_error(who + "has a decreasing indptr at row " + std::to_string(r));
    for (auto j = begin; j < end; ++j) {
      const auto c = m.indices[static_cast<std::size_t>(j)];
      if (c < 0 || static_cast<std::size_t>(c) >= cols ||
          (j > begin && c <= m.indices[static_cast<std::size_t>(j - 1)])) {
        throw py::value_error(who + "row " + std::to_string(r) +
                              " has column indices out of range or not strictly increasing");
      }
    }
  }
  return m;
}

/// X as the library's feature matrix: a 2-D C-contiguous float32 / float64 ndarray, or the tuple
/// (data, indices, indptr, n_cols) of a CSR matrix whose data is float32 / float64.
AnyFeatures to_features(py::handle x, const char* where) {
  if (py::isinstance<py::tuple>(x)) {
    const auto t = py::reinterpret_borrow<py::tuple>(x);
    if (t.size() != 4) {
      throw py::type_error(std::string(where) +
                           ": sparse X must be (data, indices, indptr, n_cols)");
    }
    const auto data = py::array::ensure(t[0]);
    const auto indices = py::array::ensure(t[1]);
    const auto indptr = py::array::ensure(t[2]);
    const auto cols = t[3].cast<std::size_t>();
    if (!data || !indices || !indptr) {
      throw py::type_error(std::string(where) + ": sparse X parts must be arrays");
    }
    if (py::isinstance<py::array_t<float>>(data)) {
      return FeatureMatrix<float>(csr_copy<float>(data, indices, indptr, cols, where));
    }
    if (py::isinstance<py::array_t<double>>(data)) {
      return FeatureMatrix<double>(csr_copy<double>(data, indices, indptr, cols, where));
    }
    throw py::type_error(std::string(where) + ": sparse X data must be float32 or float64");
  }
  const auto a = py::array::ensure(x);
  if (!a || a.ndim() != 2 || (a.flags() & py::array::c_style) == 0) {
    throw py::type_error(std::string(where) + ": X must be a 2-D C-contiguous ndarray");
  }
  if (py::isinstance<py::array_t<float>>(a)) {
    return FeatureMatrix<float>(dense_copy(py::reinterpret_borrow<py::array_t<float>>(a)));
  }
  if (py::isinstance<py::array_t<double>>(a)) {
    return FeatureMatrix<double>(dense_copy(py::reinterpret_borrow<py::array_t<double>>(a)));
  }
  throw py::type_error(std::string(where) + ": X must be float32 or float64; got dtype " +
                       dtype_str(a.dtype()));
}

py::array_t<double> to_array(const std::vector<double>& v) {
  return py::array_t<double>(static_cast<py::ssize_t>(v.size()), v.data());
}

py::dict info_dict(const TrainingInfo& info) {
  py::dict d;
  d["solver"] = solver_name(info.solver);
  d["dtype"] = dtype_name(info.dtype);
  d["l2"] = info.l2;
  d["iterations"] = info.iterations;
  d["evaluations"] = info.evaluations;
  d["converged"] = info.converged;
  d["message"] = info.message;
  d["final_loss"] = info.final_loss;
  d["grad_norm"] = info.grad_norm;
  d["valid_loss"] = info.valid_loss;
  d["n_train"] = info.n_train;
  d["n_valid"] = info.n_valid;
  d["seconds"] = info.seconds;
  d["loss_history"] = info.loss_history;
  d["accuracy_history"] = info.accuracy_history;
  d["valid_loss_history"] = info.valid_loss_history;
  d["valid_accuracy_history"] = info.valid_accuracy_history;
  py::dict parameters;
  for (const auto& [name, value] : info.parameters) {
    // A checkpoint's solver state is bytes for the library, not a parameter.
    if (name.rfind("resume.", 0) == 0) continue;
    parameters[py::str(name)] = value;
  }
  d["parameters"] = parameters;
  return d;
}

TrainingInfo info_from(const py::dict& d) {
  TrainingInfo info;
  info.solver = parse_name_or_throw<Solver>(d["solver"].cast<std::string>(), "solver");
  info.dtype = parse_name_or_throw<DType>(d["dtype"].cast<std::string>(), "dtype");
  info.l2 = d["l2"].cast<double>();
  info.iterations = d["iterations"].cast<int>();
  info.evaluations = d["evaluations"].cast<int>();
  info.converged = d["converged"].cast<bool>();
  info.message = d["message"].cast<std::string>();
  info.final_loss = d["final_loss"].cast<double>();
  info.grad_norm = d["grad_norm"].cast<double>();
  info.valid_loss = d["valid_loss"].cast<double>();
  info.n_train = d["n_train"].cast<std::uint64_t>();
  info.n_valid = d["n_valid"].cast<std::uint64_t>();
  info.seconds = d["seconds"].cast<double>();
  info.loss_history = d["loss_history"].cast<std::vector<double>>();
  if (d.contains("parameters")) {
    info.parameters = d["parameters"].cast<std::map<std::string, std::string>>();
  }
  // Absent from the dicts of models pickled before format version 3.
  for (const auto& [key, field] :
       {std::pair{"accuracy_history", &TrainingInfo::accuracy_history},
        std::pair{"valid_loss_history", &TrainingInfo::valid_loss_history},
        std::pair{"valid_accuracy_history", &TrainingInfo::valid_accuracy_history}}) {
    if (d.contains(key)) info.*field = d[key].cast<std::vector<double>>();
  }
  return info;
}

SoftmaxRegression make_model(std::vector<std::string> classes, std::size_t n_features,
                             const py::array& weights, const py::array& bias,
                             const std::string& scale, const py::array& offset,
                             const py::array& scale_factors, const py::dict& info,
                             std::vector<std::string> feature_names, double temperature) {
  Preprocessing pre;
  pre.kind = parse_name_or_throw<Scaling>(scale, "scale");
  if (pre.kind != Scaling::none) {
    pre.offset = vector_of<double>(offset);
    pre.scale = vector_of<double>(scale_factors);
  }
  return SoftmaxRegression(std::move(classes), n_features, vector_of<double>(weights),
                           vector_of<double>(bias), std::move(pre), info_from(info),
                           std::move(feature_names), temperature);
}

py::tuple model_state(const SoftmaxRegression& m) {
  const auto& pre = m.preprocessing();
  return py::make_tuple(m.classes(), m.n_features(), to_array(m.weights()), to_array(m.bias()),
                        scaling_name(pre.kind), to_array(pre.offset), to_array(pre.scale),
                        info_dict(m.info()), m.feature_names(), m.temperature());
}

/// The HTML report of the model on X (dense or CSR) and class indices y, with the GIL
/// released. images: None, or n x height x width float64 values in [0, 1].
std::string report_py(const SoftmaxRegression& m, py::handle x, const py::array& y,
                      const ReportOptions& options, const py::object& images, int threads) {
  const auto labels =
      py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(y);
  if (!labels || labels.ndim() != 1) {
    throw py::value_error("softreg.report: y must be a 1-D array of class indices");
  }
  std::vector<double> pixels;
  if (!images.is_none()) pixels = vector_of<double>(images.cast<py::array>());
  const auto features = to_features(x, "softreg.report");
  const std::span<const std::int64_t> yv(labels.data(), static_cast<std::size_t>(labels.size()));
  return std::visit(
      [&](const auto& f) {
        py::gil_scoped_release nogil;
        return report_html(m, f, yv, options, std::span<const double>(pixels), threads);
      },
      features);
}

/// Fits with the GIL released. The progress callback takes the GIL once per iteration (or
/// epoch) to let Python handle signals (Ctrl-C stops training and raises KeyboardInterrupt
/// once fit returns) and to call the optional Python `callback(progress_dict)`, which stops
/// training by returning False or by raising.
template <class T>
SoftmaxRegression fit_typed(FeatureMatrix<T>&& features, const py::array_t<std::int64_t>& y,
                            TrainOptions options, const SoftmaxRegression* warm,
                            const py::object& callback) {
  Dataset<T> data;
  data.features = std::move(features);
  data.source = "softreg.SoftmaxRegression.fit";
  if (static_cast<std::size_t>(y.size()) != data.rows()) {
    throw py::value_error("softreg.SoftmaxRegression.fit: y has " + std::to_string(y.size()) +
                          " entries for " + std::to_string(data.rows()) + " rows of X");
  }
  data.labels.reserve(data.rows());
  for (py::ssize_t i = 0; i < y.size(); ++i) data.labels.push_back(std::to_string(y.data()[i]));

  std::optional<py::error_already_set> pending;
  options.progress = [&](const Progress& p) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) {
      pending.emplace();
      return false;
    }
    if (callback.is_none()) return true;
    try {
      py::dict d;
      d["iteration"] = p.iteration;
      d["max_iterations"] = p.max_iterations;
      d["loss"] = p.loss;
      d["grad_norm"] = p.grad_norm;
      d["valid_loss"] = p.valid_loss;
      d["accuracy"] = p.accuracy;
      d["valid_accuracy"] = p.valid_accuracy;
      d["warmup"] = p.warmup;
      const py::object r = callback(d);
      return r.is_none() || r.cast<bool>();
    } catch (py::error_already_set& e) {
      pending.emplace(std::move(e));
      return false;
    }
  };
  std::optional<SoftmaxRegression> model;
  {
    py::gil_scoped_release nogil;
    model.emplace(SoftmaxRegression::fit(data, options, warm));
  }
  if (pending) throw std::move(*pending);
  return std::move(*model);
}

SoftmaxRegression fit_py(py::handle x, const py::array& y, TrainOptions options,
                         const SoftmaxRegression* warm, const py::object& callback) {
  const auto labels =
      py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(y);
  if (!labels || labels.ndim() != 1) {
    throw py::value_error("softreg.SoftmaxRegression.fit: y must be a 1-D array of class indices");
  }
  auto features = to_features(x, "softreg.SoftmaxRegression.fit");
  return std::visit(
      [&](auto&& f) { return fit_typed(std::move(f), labels, std::move(options), warm, callback); },
      std::move(features));
}

enum class Output { logits, proba, log_proba };

template <class T>
py::array_t<T> scores_typed(const SoftmaxRegression& m, const FeatureMatrix<T>& x, Output what,
                            int threads) {
  const auto n = static_cast<py::ssize_t>(rows_of(x));
  const auto k = static_cast<py::ssize_t>(m.n_classes());
  py::array_t<T> out({n, k});
  const auto dst = mspan(out);
  py::gil_scoped_release nogil;
  switch (what) {
    case Output::logits:
      m.decision_function(x, dst, threads);
      break;
    case Output::proba:
      m.predict_proba(x, dst, threads);
      break;
    case Output::log_proba:
      m.predict_log_proba(x, dst, threads);
      break;
  }
  return out;
}

py::array scores(const SoftmaxRegression& m, py::handle x, Output what, int threads) {
  const auto features = to_features(x, "softreg.SoftmaxRegression");
  return std::visit([&](const auto& f) -> py::array { return scores_typed(m, f, what, threads); },
                    features);
}

py::array predict(const SoftmaxRegression& m, py::handle x, int threads) {
  const auto features = to_features(x, "softreg.SoftmaxRegression.predict");
  std::vector<std::int64_t> labels;
  std::visit(
      [&](const auto& f) {
        py::gil_scoped_release nogil;
        labels = m.predict(f, threads);
      },
      features);
  const auto n = static_cast<py::ssize_t>(labels.size());
  return adopt(std::move(labels), {n});
}

/// TrainOptions, the estimator's way to the library's options.
void register_train_options(py::module_& m) {
  using py::arg;
  py::class_<TrainOptions>(m, "TrainOptions", R"doc(
The library's training options (softreg::TrainOptions in include/softreg/model.hpp). The
estimator softreg.SoftmaxRegression fills them from its parameters.
)doc")
      .def(py::init<>())
      .def_property(
          "solver", [](const TrainOptions& o) { return solver_name(o.solver); },
          [](TrainOptions& o, const std::string& s) {
            o.solver = parse_name_or_throw<Solver>(s, "solver");
          })
      .def_property(
          "scale", [](const TrainOptions& o) { return scaling_name(o.scale); },
          [](TrainOptions& o, const std::string& s) {
            o.scale = parse_name_or_throw<Scaling>(s, "scale");
          })
      .def_property(
          "schedule", [](const TrainOptions& o) { return std::string(name_of(o.schedule)); },
          [](TrainOptions& o, const std::string& s) {
            o.schedule = parse_name_or_throw<LrSchedule>(s, "schedule");
          })
      .def_readwrite("l2", &TrainOptions::l2)
      .def_readwrite("fit_intercept", &TrainOptions::fit_intercept)
      .def_readwrite("l1", &TrainOptions::l1)
      .def_readwrite("max_iter", &TrainOptions::max_iter)
      .def_readwrite("tol", &TrainOptions::tol)
      .def_readwrite("lbfgs_memory", &TrainOptions::lbfgs_memory)
      .def_readwrite("lbfgs_warmup", &TrainOptions::lbfgs_warmup)
      .def_readwrite("epochs", &TrainOptions::epochs)
      .def_readwrite("batch_size", &TrainOptions::batch_size)
      .def_readwrite("lr", &TrainOptions::lr)
      .def_readwrite("momentum", &TrainOptions::momentum)
      .def_readwrite("valid_fraction", &TrainOptions::valid_fraction)
      .def_readwrite("patience", &TrainOptions::patience)
      .def_readwrite("seed", &TrainOptions::seed)
      .def_readwrite("threads", &TrainOptions::threads)
      .def_readwrite("balanced", &TrainOptions::balanced)
      .def_readwrite("class_weight", &TrainOptions::class_weight)
      .def_readwrite("target_loss", &TrainOptions::target_loss)
      .def_property(
          "sample_weight", [](const TrainOptions& o) { return to_array(o.sample_weight); },
          [](TrainOptions& o, const py::array& w) { o.sample_weight = vector_of<double>(w); })
      .def(
          "problem",
          [](const TrainOptions& o) -> py::object {
            const auto p = o.problem();
            if (!p) return py::none();
            return py::make_tuple(p->field, p->need, p->got);
          },
          "(field, what it must be, value) of the first option out of range, or None.");
}

/// Model: fit, load, save, export and the predictions.
void register_model_class(py::module_& m) {
  using py::arg;
  py::class_<SoftmaxRegression>(m, "Model", R"doc(
A fitted softmax-regression model of the library (softreg::SoftmaxRegression): W (d x K) and b
acting on preprocessed features, string class labels, the preprocessing and the training record.
Immutable. X arguments are a 2-D C-contiguous float32 / float64 ndarray, or a CSR matrix given
as (data, indices, indptr, n_cols) in canonical form; results have X's dtype.
)doc")
      .def(py::init(&make_model), arg("classes"), arg("n_features"), arg("weights"), arg("bias"),
           arg("scale"), arg("offset"), arg("scale_factors"), arg("info"),
           arg("feature_names") = std::vector<std::string>{}, arg("temperature") = 1.0)
      .def_static("fit", &fit_py, arg("X"), arg("y"), arg("options"), arg("warm_start") = nullptr,
                  arg("callback") = py::none(),
                  "Fits on X and class indices y (labels are their decimal strings), GIL released.")
      .def_static("load", &load_model, arg("path"), "Reads a softreg model file.")
      .def("save", &save_model, arg("path"), "Writes a softreg model file (atomically).")
      .def("export_npz", &export_npz, arg("path"), "Writes coef, intercept and classes to .npz.")
      .def_property_readonly("classes", &SoftmaxRegression::classes)
      .def_property_readonly("feature_names", &SoftmaxRegression::feature_names,
                             "The training columns' names ([] when the data named none).")
      .def_property_readonly("n_features", &SoftmaxRegression::n_features)
      .def_property_readonly("n_classes", &SoftmaxRegression::n_classes)
      .def_property_readonly("weights",
                             [](const SoftmaxRegression& s) {
                               auto w = to_array(s.weights());
                               return w.reshape({static_cast<py::ssize_t>(s.n_features()),
                                                 static_cast<py::ssize_t>(s.n_classes())});
                             })
      .def_property_readonly("bias", [](const SoftmaxRegression& s) { return to_array(s.bias()); })
      .def_property_readonly("preprocessing",
                             [](const SoftmaxRegression& s) {
                               const auto& p = s.preprocessing();
                               return py::make_tuple(scaling_name(p.kind), to_array(p.offset),
                                                     to_array(p.scale));
                             })
      .def_property_readonly("info", [](const SoftmaxRegression& s) { return info_dict(s.info()); })
      .def_property_readonly("temperature", &SoftmaxRegression::temperature,
                             "T of the probabilities softmax(z / T); 1 when uncalibrated.")
      .def("with_temperature", &SoftmaxRegression::with_temperature, arg("temperature"),
           "This model with another temperature (finite and > 0, else ValueError).")
      .def("report_html", &report_py, arg("X"), arg("y"), arg("options"),
           arg("images") = py::none(), arg("threads") = 0,
           "The HTML report (softreg::report_html) on X and class indices y.")
      .def_static(
          "write_text_atomic",
          [](const std::string& path, const std::string& text) {
            py::gil_scoped_release nogil;
            AtomicFile file(path);
            file.write(text);
            file.commit();
          },
          arg("path"), arg("text"),
          "Writes text (UTF-8) to path through softreg::AtomicFile (temporary file, rename).")
      .def(
          "folded_weights",
          [](const SoftmaxRegression& s) {
            std::vector<double> w, b;
            s.folded_weights(w, b);
            auto wa = to_array(w).reshape({static_cast<py::ssize_t>(s.n_features()),
                                           static_cast<py::ssize_t>(s.n_classes())});
            return py::make_tuple(wa, to_array(b));
          },
          "(W, b) acting on raw features: W is d x K, b has K entries.")
      .def(
          "decision_function",
          [](const SoftmaxRegression& s, py::handle x, int threads) {
            return scores(s, x, Output::logits, threads);
          },
          arg("X"), arg("threads") = 0, "Logits, n x K.")
      .def(
          "predict_proba",
          [](const SoftmaxRegression& s, py::handle x, int threads) {
            return scores(s, x, Output::proba, threads);
          },
          arg("X"), arg("threads") = 0, "Probabilities, n x K.")
      .def(
          "predict_log_proba",
          [](const SoftmaxRegression& s, py::handle x, int threads) {
            return scores(s, x, Output::log_proba, threads);
          },
          arg("X"), arg("threads") = 0, "Log-probabilities, n x K.")
      .def("predict", &predict, arg("X"), arg("threads") = 0,
           "Class indices (int64) of the largest logit; a NaN row raises RuntimeError.")
      .def(py::pickle(&model_state, [](const py::tuple& t) {
        // 8 fields: pickled before models kept feature names; 9: before the temperature.
        if (t.size() < 8 || t.size() > 10) {
          throw py::value_error("softreg._core.Model: invalid pickled state");
        }
        return make_model(
            t[0].cast<std::vector<std::string>>(), t[1].cast<std::size_t>(), t[2].cast<py::array>(),
            t[3].cast<py::array>(), t[4].cast<std::string>(), t[5].cast<py::array>(),
            t[6].cast<py::array>(), t[7].cast<py::dict>(),
            t.size() >= 9 ? t[8].cast<std::vector<std::string>>() : std::vector<std::string>{},
            t.size() == 10 ? t[9].cast<double>() : 1.0);
      }));
}

}  // namespace

void register_model(py::module_& m) {
  py::class_<ReportOptions>(m, "ReportOptions", R"doc(
Options of the HTML report (softreg::ReportOptions in include/softreg/report.hpp).
)doc")
      .def(py::init<>())
      .def_readwrite("title", &ReportOptions::title)
      .def_readwrite("model_name", &ReportOptions::model_name)
      .def_readwrite("data_name", &ReportOptions::data_name)
      .def_readwrite("class_names", &ReportOptions::class_names)
      .def_readwrite("bins", &ReportOptions::bins)
      .def_readwrite("image_height", &ReportOptions::image_height)
      .def_readwrite("image_width", &ReportOptions::image_width)
      .def_readwrite("max_images", &ReportOptions::max_images);
  register_train_options(m);
  register_model_class(m);
}

}  // namespace softreg::python
