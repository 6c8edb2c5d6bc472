// The subcommands of the softreg command line; each registers its options and its action.
#pragma once

#include <CLI/CLI.hpp>

namespace softreg::cli {

void add_train(CLI::App& app);
void add_predict(CLI::App& app);
void add_eval(CLI::App& app);
void add_info(CLI::App& app);
void add_export(CLI::App& app);
void add_calibrate(CLI::App& app);

}  // namespace softreg::cli
