// softreg info: what a model file holds, as text or one JSON object.
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "softreg/model_io.hpp"

namespace softreg::cli {
namespace {

struct InfoArgs {
  std::string path;
  bool json = false;
};

/// SAGA, SGD and Adam count epochs; L-BFGS and Newton-CG iterations.
bool counts_epochs(Solver s) {
  return s == Solver::saga || s == Solver::sgd || s == Solver::adam;
}

void print_text(const std::string& path, const SoftmaxRegression& m) {
  const TrainingInfo& t = m.info();
  std::printf("model          %s\n", path.c_str());
  std::printf("features       %zu\n", m.n_features());
  std::printf("classes        %zu:", m.n_classes());
  for (std::size_t c = 0; c < m.n_classes() && c < 20; ++c)
    std::printf(" %s", m.classes()[c].c_str());
  std::printf("%s\n", m.n_classes() > 20 ? " ..." : "");
  std::printf("preprocessing  %s\n", scaling_name(m.preprocessing().kind));
  std::printf("solver         %s (%s), l2 %g\n", solver_name(t.solver), dtype_name(t.dtype), t.l2);
  std::printf("training       %llu rows", static_cast<unsigned long long>(t.n_train));
  if (t.n_valid > 0)
    std::printf(" + %llu validation rows", static_cast<unsigned long long>(t.n_valid));
  std::printf(", %s\n", format_seconds(t.seconds).c_str());
  const bool epochs = counts_epochs(t.solver);
  std::printf("%s %d (%d evaluations), %s: %s\n", epochs ? "epochs        " : "iterations    ",
              t.iterations, t.evaluations, t.converged ? "converged" : "not converged",
              t.message.c_str());
  // SGD and Adam never form the full gradient: no gradient figure for them.
  if (std::isnan(t.grad_norm)) {
    std::printf("final loss     %.6f\n", t.final_loss);
  } else {
    std::printf("final loss     %.6f (max |gradient| %.3g)\n", t.final_loss, t.grad_norm);
  }
  if (t.valid_loss >= 0) std::printf("valid loss     %.6f\n", t.valid_loss);
  std::printf("temperature    %.6g%s\n", m.temperature(),
              m.temperature() == 1.0 ? " (not calibrated)" : " (softreg calibrate)");
  if (!t.loss_history.empty()) {
    std::printf("loss history   %zu values: first %.6f, last %.6f\n", t.loss_history.size(),
                t.loss_history.front(), t.loss_history.back());
  }
  if (!t.accuracy_history.empty()) {
    std::printf("accuracy       first %.4f, last %.4f\n", t.accuracy_history.front(),
                t.accuracy_history.back());
  }
  if (!t.valid_accuracy_history.empty()) {
    std::printf("valid accuracy first %.4f, last %.4f\n", t.valid_accuracy_history.front(),
                t.valid_accuracy_history.back());
  }
}

void json_array(const char* key, const std::vector<double>& v) {
  std::printf(", \"%s\": [", key);
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) std::fputs(", ", stdout);
    json_number(v[i]);
  }
  std::putchar(']');
}

void print_json(const std::string& path, const SoftmaxRegression& m) {
  const TrainingInfo& t = m.info();
  std::fputs("{\"model\": ", stdout);
  json_string(path);
  std::printf(", \"features\": %zu, \"classes\": [", m.n_features());
  for (std::size_t c = 0; c < m.n_classes(); ++c) {
    if (c) std::fputs(", ", stdout);
    json_string(m.classes()[c]);
  }
  std::fputs("], \"preprocessing\": ", stdout);
  json_string(scaling_name(m.preprocessing().kind));
  std::fputs(", \"solver\": ", stdout);
  json_string(solver_name(t.solver));
  std::fputs(", \"dtype\": ", stdout);
  json_string(dtype_name(t.dtype));
  std::fputs(", \"l2\": ", stdout);
  json_number(t.l2);
  std::printf(", \"n_train\": %llu, \"n_valid\": %llu, \"seconds\": ",
              static_cast<unsigned long long>(t.n_train),
              static_cast<unsigned long long>(t.n_valid));
  json_number(t.seconds);
  std::printf(", \"%s\": %d, \"evaluations\": %d, \"converged\": %s, \"message\": ",
              counts_epochs(t.solver) ? "epochs" : "iterations", t.iterations, t.evaluations,
              t.converged ? "true" : "false");
  json_string(t.message);
  std::fputs(", \"final_loss\": ", stdout);
  json_number(t.final_loss);
  std::fputs(", \"grad_norm\": ", stdout);
  json_number(t.grad_norm);  // null for SGD and Adam
  std::fputs(", \"valid_loss\": ", stdout);
  json_number(t.valid_loss >= 0 ? t.valid_loss : std::nan(""));
  std::fputs(", \"temperature\": ", stdout);
  json_number(m.temperature());
  json_array("loss_history", t.loss_history);
  json_array("accuracy_history", t.accuracy_history);
  json_array("valid_loss_history", t.valid_loss_history);
  json_array("valid_accuracy_history", t.valid_accuracy_history);
  std::fputs("}\n", stdout);
}

}  // namespace

void add_info(CLI::App& app) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand("info", "Describe a model file");
  cmd->add_option("--model", args->path, "Model file written by softreg train")->required();
  cmd->add_flag("--json", args->json,
                "One JSON object on stdout (model, features, classes, preprocessing, solver, "
                "dtype, l2, n_train, n_valid, seconds, iterations or epochs, evaluations, "
                "converged, message, final_loss, grad_norm, valid_loss, temperature, loss_history, "
                "accuracy_history, valid_loss_history, valid_accuracy_history (empty when not "
                "recorded); null for what the solver does not compute)");
  cmd->callback([args]() {
    const SoftmaxRegression m = load_model(args->path);
    if (args->json) {
      print_json(args->path, m);
    } else {
      print_text(args->path, m);
    }
  });
}

}  // namespace softreg::cli
