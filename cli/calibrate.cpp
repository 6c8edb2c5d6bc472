// softreg calibrate: fit the model's temperature on labelled validation data and rewrite the model.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "softreg/atomic_file.hpp"
#include "softreg/calibration.hpp"
#include "softreg/metrics.hpp"
#include "softreg/model_io.hpp"

namespace softreg::cli {
namespace {

struct CalibrateArgs {
  DataArgs data;
  std::string model;
  std::string output;
  std::size_t bins = 15;
  bool json = false;
  int threads = 0;
};

template <class T>
void run_calibrate(const CalibrateArgs& a, const SoftmaxRegression& model) {
  const std::string& out = a.output.empty() ? a.model : a.output;
  check_writable(out);  // before the data is read: a path that cannot be written fails at once
  const Dataset<T> data = load_data_for<T>(a.data, model, true, "calibrate");
  const auto y = label_indices(model, data.labels, data.source);
  const std::size_t n = data.rows(), k = model.n_classes();
  std::vector<T> logits(n * k);
  model.decision_function(data.features, std::span<T>(logits), a.threads);
  check_rows_finite(std::span<const T>(logits), k, a.model, data.source);
  const TemperatureFit fit = fit_temperature(std::span<const T>(logits), k, y);
  const SoftmaxRegression calibrated = model.with_temperature(fit.temperature);

  // ECE before (the model's own temperature, usually 1) and after.
  const auto ece_at = [&](const SoftmaxRegression& m) {
    std::vector<T> p(n * k);
    m.predict_proba(data.features, std::span<T>(p), a.threads);
    return calibration_metrics(std::span<const T>(p), k, y, a.bins);
  };
  const Calibration before = ece_at(model);
  const Calibration after = ece_at(calibrated);
  const double loss_was =
      temperature_log_loss(std::span<const T>(logits), k, y, model.temperature());
  save_model(calibrated, out);

  if (a.json) {
    std::fputs("{\"temperature\": ", stdout);
    json_number(fit.temperature);
    std::printf(", \"previous_temperature\": ");
    json_number(model.temperature());
    std::printf(", \"at_bound\": %s, \"n\": %zu, \"bins\": %zu, \"log_loss_before\": ",
                fit.at_bound ? "true" : "false", n, a.bins);
    json_number(loss_was);
    std::fputs(", \"log_loss_after\": ", stdout);
    json_number(fit.loss_after);
    std::fputs(", \"ece_before\": ", stdout);
    json_number(before.ece);
    std::fputs(", \"ece_after\": ", stdout);
    json_number(after.ece);
    std::fputs(", \"model\": ", stdout);
    json_string(out);
    std::puts("}");
    return;
  }
  std::printf("%s: %zu rows, %zu classes\n", source_name(data.source).c_str(), n, k);
  std::printf("temperature     %.6g", fit.temperature);
  if (fit.at_bound) {
    std::printf(" (the end of the search range [%g, %g]: the log loss has no minimum inside it)",
                TemperatureOptions{}.min_temperature, TemperatureOptions{}.max_temperature);
  }
  std::printf("\n%-15s %10s %10s\n", "", "before", "after");
  std::printf("%-15s %10.4f %10.4f\n", "log loss", loss_was, fit.loss_after);
  std::printf("%-15s %10.4f %10.4f   (%zu bins)\n", "ECE", before.ece, after.ece, a.bins);
  std::printf("model written to %s\n", out.c_str());
}

}  // namespace

void add_calibrate(CLI::App& app) {
  auto args = std::make_shared<CalibrateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "calibrate",
      "Fit the temperature T of the probabilities softmax(z / T) on labelled validation data "
      "(minimising its log loss) and store it in the model");
  cmd->add_option("--model", args->model, "Model file written by softreg train")->required();
  add_data_options(*cmd, args->data);
  cmd->add_option("--output", args->output,
                  "Where to write the calibrated model (default: rewrite --model, atomically)");
  cmd->add_option("--bins", args->bins, "Equal-width bins of the ECE shown (default 15)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000}));
  cmd->add_flag("--json", args->json,
                "One JSON object on stdout (temperature, previous_temperature, at_bound, n, bins, "
                "log_loss_before, log_loss_after, ece_before, ece_after, model)");
  add_threads_option(*cmd, args->threads);
  cmd->callback([args]() {
    const SoftmaxRegression model = load_model(args->model);
    with_dtype(model.info().dtype, [&](auto tag) { run_calibrate<decltype(tag)>(*args, model); });
  });
}

}  // namespace softreg::cli
