// report_html: the evaluation report as one self-contained HTML page (charts in charts.cpp,
// images in png.cpp). No scripts, fonts or links: the page renders offline and prints.
#include "softreg/report.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "report/charts.hpp"
#include "report/png.hpp"
#include "softreg/atomic_file.hpp"
#include "softreg/error.hpp"
#include "softreg/metrics.hpp"
#include "softreg/softmax.hpp"

namespace softreg {
namespace {

using detail::exact;
using detail::fixed;
using detail::html_escape;

constexpr const char* kStyle = R"css(
:root{color-scheme:light}
*{box-sizing:border-box}
body{margin:0;color:#1a202c;background:#f4f5f7;
  font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1100px;margin:0 auto;padding:24px 20px 40px}
header,section{background:#fff;border-radius:8px;box-shadow:0 1px 3px rgba(0,0,0,.1);
  padding:18px 22px;margin:0 0 18px}
h1{font-size:1.6rem;margin:0 0 4px}
h2{font-size:1.2rem;margin:0 0 10px}
.sources{color:#4a5568;margin:0 0 14px;font-size:.9rem;overflow-wrap:anywhere}
dl.summary{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:10px;margin:0}
dl.summary div{background:#f7fafc;border-radius:6px;padding:8px 10px}
dt{font-size:.75rem;color:#4a5568;text-transform:uppercase;letter-spacing:.03em}
dd{margin:0;font-size:1.25rem;font-weight:600;font-variant-numeric:tabular-nums}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:16px;
  align-items:start}
svg{width:100%;height:auto;display:block;font-family:inherit}
svg text{fill:#1a202c}
svg text.count{fill:inherit}
.confusion-wrap{max-width:680px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:4px 8px;text-align:right;border-bottom:1px solid #edf2f7}
th:first-child,td:first-child{text-align:left}
td.bar{width:28%}
td.bar span{display:block;height:10px;background:#2b6cb0;border-radius:2px}
.note{color:#4a5568;font-size:.85rem;margin:8px 0 0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(112px,1fr));gap:12px}
figure.wrong{margin:0;text-align:center;font-size:.78rem;line-height:1.3}
figure.wrong img{width:84px;height:84px;image-rendering:pixelated;border:1px solid #cbd5e0;
  background:#000}
.pred{color:#c53030}
.true{color:#276749}
@media (max-width:600px){main{padding:10px}header,section{padding:12px}}
@media print{
  body{background:#fff;font-size:10.5pt}
  main{max-width:none;padding:0}
  header,section{box-shadow:none;border:1px solid #ccc;break-inside:avoid;page-break-inside:avoid}
  .charts{grid-template-columns:1fr 1fr}
  figure.wrong img{width:64px;height:64px}
}
)css";

/// SAGA, SGD and Adam count epochs; L-BFGS and Newton-CG iterations.
const char* step_name(Solver s) {
  return s == Solver::saga || s == Solver::sgd || s == Solver::adam ? "epoch" : "iteration";
}

std::string metric(const char* key, const char* label, double value, const std::string& text) {
  return std::string("<div><dt>") + label + "</dt><dd data-metric=\"" + key + "\" data-value=\"" +
         exact(value) + "\">" + text + "</dd></div>";
}

std::string training_section(const SoftmaxRegression& model) {
  const TrainingInfo& t = model.info();
  const std::string unit = step_name(t.solver);
  std::string out = "<section id=\"training\"><h2>Training</h2><p class=\"note\">";
  out += std::string(solver_name(t.solver)) + " (" + dtype_name(t.dtype) + "), " +
         std::to_string(t.iterations) + " " + unit + (t.iterations == 1 ? "" : "s") + ", " +
         (t.converged ? "converged" : "not converged") + ": " + html_escape(t.message) + "; " +
         std::to_string(t.n_train) + " training rows";
  if (t.n_valid > 0) out += ", " + std::to_string(t.n_valid) + " validation rows";
  out += ".</p><div class=\"charts\">";
  const std::vector<detail::Series> loss = {
      {"training", "train", "#2b6cb0", t.loss_history},
      {"validation", "valid", "#dd6b20", t.valid_loss_history}};
  const std::vector<detail::Series> accuracy = {
      {"training", "train", "#2b6cb0", t.accuracy_history},
      {"validation", "valid", "#dd6b20", t.valid_accuracy_history}};
  const double inf = std::numeric_limits<double>::infinity();
  out += detail::line_chart("loss", "Loss per " + unit, unit, "loss", loss, 0.0, inf);
  out +=
      detail::line_chart("accuracy", "Accuracy per " + unit, unit, "accuracy", accuracy, 0.0, 1.0);
  out +=
      "</div><p class=\"note\">Training loss: the solver's objective (the L2-penalized mean "
      "cross-entropy; for SGD and Adam the mean over the epoch's mini-batches). Validation: "
      "the unpenalized mean cross-entropy and the accuracy of the rows held out by "
      "--valid-fraction";
  if (t.valid_loss_history.empty()) out += " (none were held out)";
  if (t.accuracy_history.empty() && !t.loss_history.empty()) {
    out += ". Accuracy per " + unit + " is not recorded in model files before format version 3";
  }
  out += ".</p></section>";
  return out;
}

std::string per_class_table(const Evaluation& e, const std::vector<std::string>& names) {
  std::string out =
      "<section id=\"per-class\"><h2>Per-class scores</h2><table class=\"per-class\"><thead><tr>"
      "<th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th><th></th></tr>"
      "</thead><tbody>";
  for (std::size_t c = 0; c < e.k; ++c) {
    const ClassReport& r = e.per_class[c];
    out += "<tr><td>" + html_escape(names[c]) + "</td><td>" + fixed(r.precision, 4) + "</td><td>" +
           fixed(r.recall, 4) + "</td><td data-f1=\"" + exact(r.f1) + "\">" + fixed(r.f1, 4) +
           "</td><td>" + std::to_string(r.support) +
           "</td><td class=\"bar\"><span style=\"width:" + fixed(100.0 * r.f1, 1) +
           "%\"></span></td></tr>";
  }
  out += "</tbody><tfoot><tr><td>macro F1</td><td></td><td></td><td>" + fixed(e.macro_f1, 4) +
         "</td><td>" + std::to_string(e.n) + "</td><td></td></tr></tfoot></table></section>";
  return out;
}

std::string calibration_section(const SoftmaxRegression& model, const Evaluation& before,
                                const Evaluation& after, std::size_t bins) {
  const bool calibrated = model.temperature() != 1.0;
  std::string out = "<section id=\"calibration\"><h2>Calibration</h2>";
  out += "<table class=\"calibration\"><thead><tr><th></th><th>before (T = 1)</th>";
  char t_text[32];
  std::snprintf(t_text, sizeof t_text, "%.4g", model.temperature());
  if (calibrated) out += std::string("<th>after (T = ") + t_text + ")</th>";
  out += "</tr></thead><tbody>";
  const auto row = [&](const char* name, double b, double a) {
    out += std::string("<tr><td>") + name + "</td><td>" + fixed(b, 4) + "</td>";
    if (calibrated) out += "<td>" + fixed(a, 4) + "</td>";
    out += "</tr>";
  };
  row("log loss", before.log_loss, after.log_loss);
  row("ECE", before.calibration.ece, after.calibration.ece);
  row("MCE", before.calibration.mce, after.calibration.mce);
  row("Brier score", before.calibration.brier, after.calibration.brier);
  out += "</tbody></table><div class=\"charts\">";
  out += detail::reliability_diagram("before", "Before calibration (T = 1)", before.calibration);
  if (calibrated) {
    out += detail::reliability_diagram(
        "after", std::string("After calibration (T = ") + t_text + ")", after.calibration);
  }
  out +=
      "</div><p class=\"note\">Bars: the accuracy of the rows whose top probability "
      "(confidence) falls in each of " +
      std::to_string(bins) +
      " equal-width bins; red: the gap to the bin's mean confidence; dashed: perfect "
      "calibration. ECE = &sum;<sub>b</sub> |B<sub>b</sub>|/n &middot; |acc<sub>b</sub> &minus; "
      "conf<sub>b</sub>|, MCE the largest gap, Brier = mean &sum;<sub>k</sub> (p<sub>k</sub> "
      "&minus; y<sub>k</sub>)<sup>2</sup> over all classes.";
  if (!calibrated) {
    out +=
        " The model is not calibrated (T = 1): <code>softreg calibrate</code> fits T on "
        "held-out data.";
  }
  out += "</p></section>";
  return out;
}

template <class T>
std::string wrong_section(const FeatureMatrix<T>& x, std::span<const double> images,
                          const std::vector<T>& log_proba, const Evaluation& e,
                          std::span<const std::int64_t> y, const std::vector<std::string>& names,
                          const ReportOptions& o) {
  const std::size_t n = y.size(), k = e.k, hw = o.image_height * o.image_width;
  std::vector<std::size_t> wrong;
  std::vector<std::size_t> pred(n);
  std::vector<double> conf(n);
  for (std::size_t i = 0; i < n; ++i) {
    const T* row = log_proba.data() + i * k;
    pred[i] = std::size_t(std::max_element(row, row + k) - row);
    conf[i] = std::exp(double(row[pred[i]]));
    if (pred[i] != std::size_t(y[i])) wrong.push_back(i);
  }
  std::stable_sort(wrong.begin(), wrong.end(),
                   [&](std::size_t a, std::size_t b) { return conf[a] > conf[b]; });
  if (wrong.size() > o.max_images) wrong.resize(o.max_images);
  std::string out =
      "<section id=\"wrong\"><h2>Most confidently wrong</h2><p class=\"note\">The " +
      std::to_string(wrong.size()) +
      " misclassified rows with the highest predicted probability, most confident first.</p>"
      "<div class=\"grid\">";
  const auto* dense = std::get_if<DenseMatrix<T>>(&x);
  std::vector<unsigned char> pixels(hw);
  for (const std::size_t i : wrong) {
    for (std::size_t j = 0; j < hw; ++j) {
      const double v = images.empty() ? double(dense->data[i * hw + j]) : images[i * hw + j];
      pixels[j] = static_cast<unsigned char>(std::lround(255.0 * std::clamp(v, 0.0, 1.0)));
    }
    const std::string png = detail::png_gray(pixels, o.image_height, o.image_width);
    out += "<figure class=\"wrong\" data-row=\"" + std::to_string(i) + "\"><img alt=\"row " +
           std::to_string(i) + "\" src=\"data:image/png;base64," + detail::base64(png) +
           "\" width=\"84\" height=\"84\"><figcaption>row " + std::to_string(i) +
           "<br><span class=\"pred\">" + html_escape(names[pred[i]]) + " " + fixed(conf[i], 3) +
           "</span><br><span class=\"true\">true: " + html_escape(names[std::size_t(y[i])]) +
           "</span></figcaption></figure>";
  }
  out += "</div></section>";
  return out;
}

}  // namespace

template <class T>
std::string report_html(const SoftmaxRegression& model, const FeatureMatrix<T>& x,
                        std::span<const std::int64_t> y, const ReportOptions& o,
                        std::span<const double> images, int threads) {
  const char* who = "softreg::report_html: ";
  const std::size_t n = rows_of(x), k = model.n_classes();
  if (y.size() != n) {
    throw InvalidArgument(std::string(who) + std::to_string(y.size()) + " labels for " +
                          std::to_string(n) + " rows");
  }
  if (n == 0) throw InvalidArgument(std::string(who) + "no rows to report on");
  if (!o.class_names.empty() && o.class_names.size() != k) {
    throw InvalidArgument(std::string(who) + std::to_string(o.class_names.size()) +
                          " class names for " + std::to_string(k) + " classes");
  }
  const std::size_t hw = o.image_height * o.image_width;
  const bool show_images = hw > 0 && o.max_images > 0;
  if (show_images) {
    if (images.empty()) {
      if (!std::holds_alternative<DenseMatrix<T>>(x) || cols_of(x) != hw) {
        throw InvalidArgument(std::string(who) + "images of " + std::to_string(o.image_height) +
                              " x " + std::to_string(o.image_width) +
                              " pixels need dense rows of " + std::to_string(hw) +
                              " features; the data has " + std::to_string(cols_of(x)) +
                              (std::holds_alternative<DenseMatrix<T>>(x) ? "" : " (sparse)"));
      }
    } else if (images.size() != n * hw) {
      throw InvalidArgument(std::string(who) + "images hold " + std::to_string(images.size()) +
                            " pixels; expected n x height x width = " + std::to_string(n) + " x " +
                            std::to_string(hw));
    }
  }
  const std::vector<std::string>& names = o.class_names.empty() ? model.classes() : o.class_names;

  std::vector<T> z(n * k), before(n * k), after(n * k);
  model.decision_function(x, std::span<T>(z), threads);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t c = 0; c < k; ++c) {
      if (std::isnan(double(z[i * k + c]))) {
        throw InvalidArgument(std::string(who) + "the logits of row " + std::to_string(i) +
                              " are NaN; no class can be predicted");
      }
    }
  }
  const Shape shape{n, k};
  log_softmax(std::span<T>(before), std::span<const T>(z), shape);
  log_softmax(std::span<T>(after), std::span<const T>(z), shape, -1, model.temperature());
  const Evaluation e_before = evaluate_predictions(std::span<const T>(before), k, y, o.bins);
  const Evaluation e = evaluate_predictions(std::span<const T>(after), k, y, o.bins);

  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<meta name=\"generator\" content=\"softreg\"><title>" +
      html_escape(o.title) + "</title><style>" + kStyle + "</style></head><body><main>\n";
  html += "<header><h1>" + html_escape(o.title) + "</h1><p class=\"sources\">";
  if (!o.model_name.empty()) html += "model <code>" + html_escape(o.model_name) + "</code>";
  if (!o.model_name.empty() && !o.data_name.empty()) html += " &middot; ";
  if (!o.data_name.empty()) html += "data <code>" + html_escape(o.data_name) + "</code>";
  html += "</p><dl class=\"summary\">";
  html += metric("n", "rows", double(n), std::to_string(n));
  html += metric("classes", "classes", double(k), std::to_string(k));
  html += metric("accuracy", "accuracy", e.accuracy, fixed(e.accuracy, 4));
  html += metric("log_loss", "log loss", e.log_loss, fixed(e.log_loss, 4));
  html += metric("macro_f1", "macro F1", e.macro_f1, fixed(e.macro_f1, 4));
  char t_text[32];
  std::snprintf(t_text, sizeof t_text, "%.4g", model.temperature());
  html += metric("temperature", "temperature", model.temperature(), t_text);
  html += metric("ece_before", "ECE before", e_before.calibration.ece,
                 fixed(e_before.calibration.ece, 4));
  html += metric("ece_after", "ECE after", e.calibration.ece, fixed(e.calibration.ece, 4));
  html += "</dl></header>\n";
  html += training_section(model) + "\n";
  html += "<section id=\"confusion\"><h2>Confusion matrix</h2><div class=\"confusion-wrap\">" +
          detail::confusion_heat_map(e.confusion, names) +
          "</div><p class=\"note\">Rows: true class; columns: predicted class; colour: the "
          "share of the true class's rows.</p></section>\n";
  html += per_class_table(e, names) + "\n";
  html += calibration_section(model, e_before, e, o.bins) + "\n";
  if (show_images) html += wrong_section(x, images, after, e, y, names, o) + "\n";
  html += "<footer class=\"note\">Written by softreg " + std::string("0.1.0") +
          ". Self-contained: no scripts, fonts or network requests.</footer></main></body>"
          "</html>\n";
  return html;
}

template <class T>
void write_report(const std::string& path, const SoftmaxRegression& model,
                  const FeatureMatrix<T>& x, std::span<const std::int64_t> y,
                  const ReportOptions& options, std::span<const double> images, int threads) {
  const std::string html = report_html(model, x, y, options, images, threads);
  AtomicFile file(path);
  file.write(html);
  file.commit();
}

#define SOFTREG_REPORT_INSTANTIATE(T)                                                      \
  template std::string report_html<T>(const SoftmaxRegression&, const FeatureMatrix<T>&,   \
                                      std::span<const std::int64_t>, const ReportOptions&, \
                                      std::span<const double>, int);                       \
  template void write_report<T>(const std::string&, const SoftmaxRegression&,              \
                                const FeatureMatrix<T>&, std::span<const std::int64_t>,    \
                                const ReportOptions&, std::span<const double>, int);
SOFTREG_REPORT_INSTANTIATE(float)
SOFTREG_REPORT_INSTANTIATE(double)
#undef SOFTREG_REPORT_INSTANTIATE

}  // namespace softreg
