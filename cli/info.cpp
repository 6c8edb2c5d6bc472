// softreg info: what a model file holds.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.hpp"
#include "common.hpp"
#include "softreg/model_io.hpp"

namespace softreg::cli {

void add_info(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("info", "Describe a model file");
  cmd->add_option("--model", *path, "Model file written by softreg train")->required();
  cmd->callback([path]() {
    const SoftmaxRegression m = load_model(*path);
    const TrainingInfo& t = m.info();
    std::printf("model          %s\n", path->c_str());
    std::printf("features       %zu\n", m.n_features());
    std::printf("classes        %zu:", m.n_classes());
    for (std::size_t c = 0; c < m.n_classes() && c < 20; ++c)
      std::printf(" %s", m.classes()[c].c_str());
    std::printf("%s\n", m.n_classes() > 20 ? " ..." : "");
    std::printf("preprocessing  %s\n", scaling_name(m.preprocessing().kind));
    std::printf("solver         %s (%s), l2 %g\n", solver_name(t.solver), dtype_name(t.dtype),
                t.l2);
    std::printf("training       %llu rows", static_cast<unsigned long long>(t.n_train));
    if (t.n_valid > 0)
      std::printf(" + %llu validation rows", static_cast<unsigned long long>(t.n_valid));
    std::printf(", %s\n", format_seconds(t.seconds).c_str());
    std::printf("iterations     %d (%d evaluations), %s: %s\n", t.iterations, t.evaluations,
                t.converged ? "converged" : "not converged", t.message.c_str());
    std::printf("final loss     %.6f (max |gradient| %.3g)\n", t.final_loss, t.grad_norm);
    if (t.valid_loss >= 0) std::printf("valid loss     %.6f\n", t.valid_loss);
    if (!t.loss_history.empty()) {
      std::printf("loss history   %zu values: first %.6f, last %.6f\n", t.loss_history.size(),
                  t.loss_history.front(), t.loss_history.back());
    }
  });
}

}  // namespace softreg::cli
