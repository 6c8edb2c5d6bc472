// softreg eval: accuracy, top-k accuracy (k = min(5, classes)), log loss, calibration (ECE, MCE,
// Brier score), confusion matrix and per-class scores; optionally the HTML report.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "commands.hpp"
#include "common.hpp"
#include "softreg/atomic_file.hpp"
#include "softreg/error.hpp"
#include "softreg/metrics.hpp"
#include "softreg/model_io.hpp"
#include "softreg/report.hpp"

namespace softreg::cli {
namespace {

struct EvalArgs {
  DataArgs data;
  std::string model;
  bool json = false;
  std::size_t bins = 15;
  std::string report;
  std::string class_names;
  int threads = 0;
};

/// --class-names: K comma-separated names.
std::vector<std::string> split_names(const std::string& text, std::size_t k) {
  if (text.empty()) return {};
  std::vector<std::string> names;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = text.find(',', start);
    names.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (names.size() != k) {
    throw InvalidArgument("--class-names: " + std::to_string(names.size()) +
                          " names for the model's " + std::to_string(k) + " classes");
  }
  return names;
}

void print_json(const Evaluation& e, const SoftmaxRegression& m) {
  std::printf("{\"n\": %zu, \"accuracy\": ", e.n);
  json_number(e.accuracy);
  // Keyed by its k = min(5, K): "top3_accuracy" on three classes.
  std::printf(", \"top_k\": %zu, \"top%zu_accuracy\": ", e.top_k, e.top_k);
  json_number(e.top_k_accuracy);
  std::fputs(", \"log_loss\": ", stdout);
  json_number(e.log_loss);
  std::fputs(", \"macro_f1\": ", stdout);
  json_number(e.macro_f1);
  std::fputs(", \"temperature\": ", stdout);
  json_number(m.temperature());
  std::fputs(", \"ece\": ", stdout);
  json_number(e.calibration.ece);
  std::fputs(", \"mce\": ", stdout);
  json_number(e.calibration.mce);
  std::fputs(", \"brier\": ", stdout);
  json_number(e.calibration.brier);
  std::printf(", \"bins\": %zu, \"reliability\": [", e.calibration.bins.size());
  for (std::size_t b = 0; b < e.calibration.bins.size(); ++b) {
    const ReliabilityBin& r = e.calibration.bins[b];
    std::fputs(b ? ", {\"lower\": " : "{\"lower\": ", stdout);
    json_number(r.lower);
    std::fputs(", \"upper\": ", stdout);
    json_number(r.upper);
    std::printf(", \"count\": %zu, \"confidence\": ", r.count);
    json_number(r.confidence);
    std::fputs(", \"accuracy\": ", stdout);
    json_number(r.accuracy);
    std::putchar('}');
  }
  std::putchar(']');
  std::fputs(", \"classes\": [", stdout);
  for (std::size_t c = 0; c < e.k; ++c) {
    if (c) std::fputs(", ", stdout);
    json_string(m.classes()[c]);
  }
  std::fputs("], \"confusion\": [", stdout);
  for (std::size_t r = 0; r < e.k; ++r) {
    std::fputs(r ? ", [" : "[", stdout);
    for (std::size_t c = 0; c < e.k; ++c)
      std::printf(c ? ", %zu" : "%zu", e.confusion[r * e.k + c]);
    std::putchar(']');
  }
  std::fputs("], \"per_class\": [", stdout);
  for (std::size_t c = 0; c < e.k; ++c) {
    const ClassReport& r = e.per_class[c];
    std::fputs(c ? ", {\"class\": " : "{\"class\": ", stdout);
    json_string(m.classes()[c]);
    std::printf(", \"precision\": %.17g, \"recall\": %.17g, \"f1\": %.17g, \"support\": %zu}",
                r.precision, r.recall, r.f1, r.support);
  }
  std::puts("]}");
}

void print_text(const Evaluation& e, const SoftmaxRegression& m, const std::string& source) {
  std::printf("%s: %zu rows, %zu classes\n", source.c_str(), e.n, e.k);
  std::printf("accuracy        %.4f\n", e.accuracy);
  std::printf("top-%zu accuracy  %.4f\n", e.top_k, e.top_k_accuracy);
  std::printf("log loss        %.4f\n", e.log_loss);
  std::printf("macro F1        %.4f\n", e.macro_f1);
  std::printf("ECE             %.4f  (%zu equal-width bins of the top probability)\n",
              e.calibration.ece, e.calibration.bins.size());
  std::printf("MCE             %.4f\n", e.calibration.mce);
  std::printf("Brier score     %.4f  (summed over the classes)\n", e.calibration.brier);
  std::printf("temperature     %.6g%s\n\n", m.temperature(),
              m.temperature() == 1.0 ? "  (not calibrated)" : "");
  std::printf("%-12s %9s %9s %9s %9s\n", "class", "precision", "recall", "f1", "support");
  for (std::size_t c = 0; c < e.k; ++c) {
    const ClassReport& r = e.per_class[c];
    std::printf("%-12s %9.4f %9.4f %9.4f %9zu\n", m.classes()[c].substr(0, 12).c_str(), r.precision,
                r.recall, r.f1, r.support);
  }
  std::printf("\nconfusion matrix (rows: true class, columns: predicted)\n%-12s", "");
  for (std::size_t c = 0; c < e.k; ++c) std::printf(" %7.7s", m.classes()[c].c_str());
  std::putchar('\n');
  for (std::size_t r = 0; r < e.k; ++r) {
    std::printf("%-12s", m.classes()[r].substr(0, 12).c_str());
    for (std::size_t c = 0; c < e.k; ++c) std::printf(" %7zu", e.confusion[r * e.k + c]);
    std::putchar('\n');
  }
}

template <class T>
void run_eval(const EvalArgs& a, const SoftmaxRegression& model) {
  const std::vector<std::string> names = split_names(a.class_names, model.n_classes());
  if (!a.report.empty()) check_writable(a.report);  // before the data is read
  const Dataset<T> data = load_data_for<T>(a.data, model, true, "eval");
  const auto y = label_indices(model, data.labels, data.source);
  std::vector<T> log_proba(data.rows() * model.n_classes());
  model.predict_log_proba(data.features, std::span<T>(log_proba), a.threads);
  check_rows_finite(std::span<const T>(log_proba), model.n_classes(), a.model, data.source);
  const Evaluation e =
      evaluate_predictions(std::span<const T>(log_proba), model.n_classes(), y, a.bins);
  if (!a.report.empty()) {
    ReportOptions o;
    o.model_name = a.model;
    o.data_name = source_name(data.source);
    o.bins = a.bins;
    o.class_names = names;
    // IDX images of two dimensions (height x width) get the grid of confidently wrong ones.
    if (data.item_shape.size() == 2 && data.rows() > 0) {
      o.image_height = data.item_shape[0];
      o.image_width = data.item_shape[1];
    }
    write_report(a.report, model, data.features, y, o, {}, a.threads);
  }
  if (a.json) {
    print_json(e, model);
  } else {
    print_text(e, model, source_name(data.source));
  }
}

}  // namespace

void add_eval(CLI::App& app) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "Score a model on labelled data");
  cmd->add_option("--model", args->model, "Model file written by softreg train")->required();
  add_data_options(*cmd, args->data);
  cmd->add_flag("--json", args->json,
                "One JSON object on stdout (keys n, accuracy, top_k and topK_accuracy with "
                "K = min(5, classes), log_loss, macro_f1, temperature, ece, mce, brier, bins, "
                "reliability (per bin: lower, upper, count, confidence, accuracy; null for an "
                "empty bin), classes, confusion, per_class)");
  cmd->add_option("--bins", args->bins,
                  "Equal-width bins of the top probability for ECE, MCE and the reliability "
                  "diagram (default 15)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000}));
  cmd->add_option("--report", args->report,
                  "Also write an HTML report (training curves, confusion matrix, per-class "
                  "scores, reliability diagrams, for IDX images the most confidently wrong "
                  "ones) to this file: self-contained, written atomically");
  cmd->add_option("--class-names", args->class_names,
                  "Display names of the classes in the report, comma-separated, in the model's "
                  "class order");
  add_threads_option(*cmd, args->threads);
  cmd->callback([args]() {
    const SoftmaxRegression model = load_model(args->model);
    with_dtype(model.info().dtype, [&](auto tag) { run_eval<decltype(tag)>(*args, model); });
  });
}

}  // namespace softreg::cli
