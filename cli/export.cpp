// softreg export: the model's weights as a NumPy .npz for use outside softreg.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.hpp"
#include "softreg/model_io.hpp"

namespace softreg::cli {

namespace {
struct ExportArgs {
  std::string model;
  std::string npz;
};
}  // namespace

void add_export(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "export", "Write coef (K x d), intercept (K) and classes to a .npz, preprocessing folded in");
  cmd->add_option("--model", args->model, "Model file written by softreg train")->required();
  cmd->add_option("--npz", args->npz, "The .npz file to write")->required();
  cmd->callback([args]() {
    export_npz(load_model(args->model), args->npz);
    std::fprintf(stderr, "wrote %s (coef, intercept, classes)\n", args->npz.c_str());
  });
}

}  // namespace softreg::cli
