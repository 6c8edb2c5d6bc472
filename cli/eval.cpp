// softreg eval: accuracy, top-k accuracy (k = min(5, classes)), log loss, confusion matrix and
// per-class scores.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>

#include "commands.hpp"
#include "common.hpp"
#include "softreg/metrics.hpp"
#include "softreg/model_io.hpp"

namespace softreg::cli {
namespace {

struct EvalArgs {
  DataArgs data;
  std::string model;
  bool json = false;
  int threads = 0;
};

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
  std::printf("macro F1        %.4f\n\n", e.macro_f1);
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
  const Dataset<T> data = load_data_for<T>(a.data, model, true, "eval");
  const auto y = label_indices(model, data.labels, data.source);
  std::vector<T> log_proba(data.rows() * model.n_classes());
  model.predict_log_proba(data.features, std::span<T>(log_proba), a.threads);
  check_rows_finite(std::span<const T>(log_proba), model.n_classes(), a.model, data.source);
  const Evaluation e = evaluate_predictions(std::span<const T>(log_proba), model.n_classes(), y);
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
                "K = min(5, classes), log_loss, macro_f1, classes, confusion, per_class)");
  add_threads_option(*cmd, args->threads);
  cmd->callback([args]() {
    const SoftmaxRegression model = load_model(args->model);
    with_dtype(model.info().dtype, [&](auto tag) { run_eval<decltype(tag)>(*args, model); });
  });
}

}  // namespace softreg::cli
