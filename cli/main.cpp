// softreg: the command line. Parses the subcommand, runs it, and turns errors into one line on
// stderr with a non-zero exit code.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

#include "commands.hpp"
#include "common.hpp"
#include "softreg/error.hpp"

namespace {

/// Flushes standard output; false, with one line on stderr, if that or any earlier write to it
/// failed (a full disk, a closed descriptor), so that no command exits 0 having lost its output.
bool stdout_complete() {
  errno = 0;
  if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return true;
  const int err = errno;
  std::fprintf(stderr, "softreg: error: standard output: write failed%s%s\n", err ? ": " : "",
               err ? std::strerror(err) : "");
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "softreg: softmax regression (multinomial logistic regression) from the shell.\n"
      "  softreg train   --data FILE --model OUT   fit a classifier\n"
      "  softreg predict --model M --data FILE     predict classes as CSV\n"
      "  softreg eval    --model M --data FILE     accuracy, log loss, calibration, confusion\n"
      "                  [--report R.html]         matrix; an HTML report with charts\n"
      "  softreg calibrate --model M --data VALID  fit the probabilities' temperature\n"
      "  softreg info    --model M                 describe a model file\n"
      "  softreg export  --model M --npz OUT       weights for NumPy\n"
      "Run 'softreg COMMAND --help' for a command's options.",
      "softreg"};
  app.require_subcommand(1);
  // Every usage error is one line; subcommands inherit this from the app.
  app.failure_message([](const CLI::App* failed, const CLI::Error& e) {
    const std::string where = failed->get_parent() ? " " + failed->get_name() : "";
    return "softreg" + where + ": error: " + e.what() + " (see --help)\n";
  });
  app.set_version_flag("--version", "softreg 0.1.0");
  softreg::cli::add_train(app);
  softreg::cli::add_predict(app);
  softreg::cli::add_eval(app);
  softreg::cli::add_info(app);
  softreg::cli::add_export(app);
  softreg::cli::add_calibrate(app);
  if (argc < 2) {
    std::fputs(app.help().c_str(), stderr);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e) == 0 ? 0 : 2;  // --help and --version print to stdout
    return stdout_complete() ? code : 1;
  } catch (const softreg::cli::Interrupted& e) {
    return stdout_complete() ? e.code : 1;
  } catch (const softreg::Error& e) {
    std::fprintf(stderr, "softreg: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "softreg: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "softreg: internal error: %s\n", e.what());
    return 3;
  }
  return stdout_complete() ? 0 : 1;
}
