// softreg train: fit a SoftmaxRegression on a data file and write the model file.
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common.hpp"
#include "progress.hpp"
#include "softreg/atomic_file.hpp"
#include "softreg/distributed.hpp"
#include "softreg/error.hpp"
#include "softreg/model_io.hpp"
#ifdef SOFTREG_WITH_MPI
#include "softreg/mpi.hpp"
#endif

namespace softreg::cli {
namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void note_signal(int sig) {
  g_signal = sig;
}

/// Catches SIGINT and SIGTERM while it lives (a second one of either ends the process at
/// once, as usual), then restores what was there.
class InterruptGuard {
 public:
  InterruptGuard() {
    g_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = note_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~InterruptGuard() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  /// The signal received (SIGINT or SIGTERM), or 0.
  int requested() const { return g_signal; }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

struct TrainArgs {
  DataArgs data;
  std::string model;
  std::string warm_start;
  std::string resume;
  std::string class_weight;
  std::string sample_weight;  // --sample-weight: a CSV column or a file (see weights_from_file)
  bool quiet = false;
  bool distributed = false;  // --distributed: one rank of an MPI job
  bool stream = false;       // --stream: the file read in blocks (fit_streamed)
  double block_mb = 8.0;     // --block-mb (kStreamBlockBytes)
  TrainOptions options;
  std::vector<std::string> given;  // the solver-specific flags given (kSolverFlags)
};

constexpr const char* kSolverFlags[] = {
    "--epochs", "--batch-size",     "--lr",           "--schedule",    "--momentum", "--max-iter",
    "--tol",    "--preconditioner", "--lbfgs-memory", "--lbfgs-warmup"};

/// "balanced" or "label:weight,label:weight".
void parse_class_weight(const std::string& text, TrainOptions& options) {
  if (text.empty()) return;
  if (text == "balanced") {
    options.balanced = true;
    return;
  }
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    const std::size_t colon = item.rfind(':');
    double w = 0.0;
    bool ok = colon != std::string::npos && colon > 0;
    if (ok) {
      try {
        std::size_t used = 0;
        w = std::stod(item.substr(colon + 1), &used);
        ok = used == item.size() - colon - 1;
      } catch (const std::exception&) {
        ok = false;
      }
    }
    if (!ok) {
      throw InvalidArgument("--class-weight: \"" + item +
                            "\" is not LABEL:WEIGHT (or use \"balanced\")");
    }
    options.class_weight[item.substr(0, colon)] = w;
    pos = comma + 1;
  }
}

/// The options' range rules (TrainOptions::problem, their only home) worded with this
/// command's flags: "--valid-fraction: must be in [0, 1); got 1.5".
void check_options(const TrainOptions& options) {
  const auto problem = options.problem();
  if (!problem) return;
  const std::size_t bracket = problem->field.find('[');
  std::string flag = problem->field.substr(0, bracket);
  std::replace(flag.begin(), flag.end(), '_', '-');
  const std::string subject = bracket == std::string::npos ? "" : problem->field + " ";
  throw CLI::ValidationError("--" + flag,
                             subject + "must be " + problem->need + "; got " + problem->got);
}

/// --scale with --warm-start is an error (the model's own preprocessing is kept, so the flag
/// would be silently wrong). Also records which solver-specific flags were given, for
/// warn_unused once the solver is known.
void check_applicable(const CLI::App& cmd, TrainArgs& args) {
  const auto given = [&](const char* flag) { return cmd.get_option(flag)->count() > 0; };
  if (!args.resume.empty() && !args.warm_start.empty()) {
    throw CLI::ValidationError("--resume",
                               "continues a stopped fit from its checkpoint; --warm-start starts "
                               "a new one from a model: give one of them");
  }
  if (!args.warm_start.empty() && given("--scale")) {
    throw CLI::ValidationError("--scale",
                               "does not apply with --warm-start (the warm-start model's "
                               "preprocessing is kept); leave one of them out");
  }
  for (const char* flag : kSolverFlags) {
    if (given(flag)) args.given.emplace_back(flag);
  }
}

/// Warns about the flags given that the solver which runs does not use (they are ignored).
void warn_unused(const TrainArgs& args, Solver solver) {
  if (args.quiet) return;
  const bool full_batch =
      solver == Solver::lbfgs || solver == Solver::newton_cg || solver == Solver::saga;
  const auto applies = [&](const std::string& flag) {
    if (flag == "--momentum") return solver == Solver::sgd;
    if (flag == "--lbfgs-memory" || flag == "--lbfgs-warmup") return solver == Solver::lbfgs;
    if (flag == "--preconditioner") return solver == Solver::lbfgs || solver == Solver::newton_cg;
    const bool stochastic_flag =
        flag == "--epochs" || flag == "--batch-size" || flag == "--lr" || flag == "--schedule";
    return stochastic_flag != full_batch;  // --max-iter and --tol are the full-batch ones
  };
  const bool chosen = args.options.solver == Solver::automatic;
  for (const std::string& flag : args.given) {
    if (applies(flag)) continue;
    std::fprintf(stderr, "softreg train: warning: %s does not apply to --solver %s%s; ignored\n",
                 flag.c_str(), solver_name(solver), chosen ? " (chosen by --solver auto)" : "");
  }
}

/// The rule of --sample-weight W: a file of weights when W is "-" (standard input), when the
/// data is not CSV, or when a file named W exists; otherwise a column of the CSV data, by header
/// name or 0-based index. (A name that is also a feature column is refused after reading, in
/// check_not_a_column.)
bool weights_from_file(const TrainArgs& a) {
  const std::string& w = a.sample_weight;
  if (w == "-" || data_format(a.data) != DataFormat::csv) return true;
  std::error_code ec;
  return std::filesystem::exists(w, ec) && !std::filesystem::is_directory(w, ec);
}

/// A weights file whose name is also a feature column of the data is ambiguous.
template <class T>
void check_not_a_column(const std::string& w, const Dataset<T>& data) {
  for (const std::string& name : data.feature_names) {
    if (name != w) continue;
    throw InvalidArgument("--sample-weight " + w + ": is both a file and a column of " +
                          source_name(data.source) + "; write ./" + w +
                          " for the file, or give the column by its 0-based "
                          "index");
  }
}

void wait_for_lead(Communicator& comm);

/// The fit; one that diverges leaves its last finite model in MODEL.checkpoint and becomes an
/// error that says where both are.
template <class T>
SoftmaxRegression fit_or_keep_last_good(const Dataset<T>& data, const TrainOptions& options,
                                        const SoftmaxRegression* warm, const TrainArgs& a,
                                        ProgressReporter& reporter) {
  try {
    return SoftmaxRegression::fit(data, options, warm);
  } catch (const FitDiverged& e) {
    reporter.finish();
    const std::string checkpoint = a.model + ".checkpoint";
    // Every rank of a distributed fit diverges alike: rank 0 keeps the state for all.
    Communicator* comm = options.communicator;
    if (comm == nullptr || comm->rank() == 0) save_model(e.last_good(), checkpoint);
    const auto number = [](double v) {
      char text[32];
      std::snprintf(text, sizeof text, "%g", std::fabs(v));  // "nan", not "-nan"
      return std::string(v < 0.0 ? "-" : "") + text;
    };
    std::string what = source_name(data.source) + ": training diverged at epoch " +
                       std::to_string(e.epoch()) + " (loss " + number(e.loss()) +
                       "); the last good state is in " + checkpoint + " (epoch " +
                       std::to_string(e.epoch() - 1) + ")";
    const Solver solver = e.last_good().info().solver;
    if (solver == Solver::sgd || solver == Solver::adam) {
      const double lr = options.lr > 0.0 ? options.lr : solver == Solver::sgd ? 0.1 : 1e-3;
      what += "; lower --lr (it was " + number(lr) + ")";
    }
    if (comm != nullptr && comm->size() > 1) {  // an error every rank shares (all_succeed's form)
      wait_for_lead(*comm);
      throw Error("rank 0 to " + std::to_string(comm->size() - 1) + " of " +
                  std::to_string(comm->size()) + ": " + what);
    }
    throw Error(what);
  }
}

/// Reads the training data: the whole file, or this rank's shard of it (read_shard).
template <class T>
Dataset<T> read_training_data(const DataArgs& args, const SoftmaxRegression* warm,
                              Communicator* comm, bool quiet) {
  if (comm == nullptr) {
    return warm ? load_data_for<T>(args, *warm, true, "train", quiet) : load_data<T>(args, 0, true);
  }
  // With a warm start the columns are taken in the model's order (fit checks their names).
  ReadOptions read = read_options(args, warm ? warm->n_features() : 0, true,
                                  warm ? model_index_base(*warm) : IndexBase::automatic);
  return read_shard<T>(args.data, read, *comm);
}

void print_summary(const TrainArgs& a, const SoftmaxRegression& model, bool by_iteration);
template <class T>
void run_streamed(const TrainArgs& a, Communicator* comm);

/// Every rank waits here until rank 0 has come (mpirun ends the whole job as soon as one rank
/// exits non-zero: the others must not leave before rank 0 has had its say).
void wait_for_lead(Communicator& comm) {
  double nothing[1] = {0.0};
  comm.max(nothing);
}

template <class T>
void run_train(const TrainArgs& given, Communicator* comm) {
  const bool lead = comm == nullptr || comm->rank() == 0;
  TrainArgs a = given;
  a.quiet = a.quiet || !lead;  // one rank speaks for a distributed fit
  const auto everywhere = [&](const std::function<void()>& step) {
    comm != nullptr ? all_succeed(*comm, step) : step();
  };
  // Before the data is read and the model fitted: a model path that cannot be written fails at
  // once, not after the training.
  everywhere([&] {
    if (lead) check_writable(a.model);
  });
  std::unique_ptr<SoftmaxRegression> warm;
  everywhere([&] {
    if (!a.warm_start.empty() || !a.resume.empty()) {
      warm = std::make_unique<SoftmaxRegression>(
          load_model(a.resume.empty() ? a.warm_start : a.resume));
    }
  });
  if (a.stream) {
    run_streamed<T>(a, comm);
    return;
  }
  const bool weights_file = !a.sample_weight.empty() && weights_from_file(a);
  everywhere([&] {
    if (comm != nullptr && weights_file) {
      throw InvalidArgument("--sample-weight " + a.sample_weight +
                            ": a weights file cannot be split into the ranks' shards; expected "
                            "a column of the CSV data");
    }
  });
  if (weights_file && a.sample_weight == "-" && a.data.data == "-") {
    throw InvalidArgument(
        "--sample-weight -: the data already comes from standard input; expected a file");
  }
  DataArgs data_args = a.data;
  if (!a.sample_weight.empty() && !weights_file) data_args.weight_column = a.sample_weight;
  const Dataset<T> data = read_training_data<T>(data_args, warm.get(), comm, a.quiet);
  if (!a.quiet && !warm) print_notices("train", data);
  // A LibSVM file whose lines hold labels only reads as rows of no features (as scikit-learn's
  // load_svmlight_file reads it); there is nothing to train on, and such a file is most likely
  // not LibSVM at all.
  if (data.cols() == 0) {
    throw InvalidArgument(source_name(data.source) +
                          ": no line has an index:value pair, so the data has no features; "
                          "expected LibSVM lines \"label index:value ...\"");
  }
  TrainOptions options = a.options;
  options.resume = !a.resume.empty();
  options.communicator = comm;
  // A distributed fit runs L-BFGS for auto (fit refuses saga there).
  if (comm != nullptr && options.solver == Solver::automatic) options.solver = Solver::lbfgs;
  double rows[1] = {double(data.rows())};
  if (comm != nullptr) comm->sum(rows);
  const auto total_rows = static_cast<std::size_t>(rows[0]);
  if (weights_file) {
    check_not_a_column(a.sample_weight, data);
    options.sample_weight = read_sample_weights(a.sample_weight, data.rows(), data.source);
  } else if (!a.sample_weight.empty()) {
    options.sample_weight = data.sample_weight;
  }
  // The solver stays as given (the model records "auto" when it was), resolved here only to
  // word the warnings and the progress; fit resolves it the same way.
  const Solver solver = choose_solver(data, options, warm.get());
  warn_unused(a, solver);
  const bool minibatch = solver == Solver::sgd || solver == Solver::adam;
  const auto train_rows =
      static_cast<std::int64_t>(double(total_rows) * (1.0 - options.valid_fraction) + 0.5);
  if (minibatch && !a.quiet && options.batch_size > train_rows) {
    std::fprintf(stderr,
                 "softreg train: notice: --batch-size %lld exceeds the %lld training rows; each "
                 "epoch is one full batch\n",
                 static_cast<long long>(options.batch_size), static_cast<long long>(train_rows));
  }
  if (options.l1 > 0.0 && solver != Solver::lbfgs) {
    throw InvalidArgument(std::string("--l1 needs --solver lbfgs or auto (L-BFGS runs as OWL-QN); "
                                      "got --solver ") +
                          solver_name(solver));
  }
  if (!a.quiet) {
    const std::string weights =
        a.sample_weight.empty()
            ? std::string()
            : ", sample weights from " + (weights_file ? "file " + source_name(a.sample_weight)
                                                       : "column " + a.sample_weight);
    const std::string ranks = comm != nullptr && comm->size() > 1
                                  ? " over " + std::to_string(comm->size()) + " ranks"
                                  : "";
    std::fprintf(stderr, "training on %s: %zu rows%s, %zu features%s%s, solver %s%s, l2 %g",
                 source_name(data.source).c_str(), total_rows, ranks.c_str(), data.cols(),
                 data.sparse() ? " (sparse)" : "", weights.c_str(), solver_name(solver),
                 a.options.solver == Solver::automatic ? " (auto)" : "", options.l2);
    if (options.l1 > 0.0) std::fprintf(stderr, ", l1 %g", options.l1);
    std::fputc('\n', stderr);
  }
  // SAGA and the stochastic solvers count epochs; L-BFGS and Newton-CG iterations.
  const bool by_iteration = solver == Solver::lbfgs || solver == Solver::newton_cg;
  ProgressReporter reporter(by_iteration ? "iter" : "epoch", a.quiet);
  // SIGINT / SIGTERM stop the fit after the iteration or epoch in progress; the model so far
  // then goes to the checkpoint, never over --model.
  const InterruptGuard interrupt;
  int done = 0;
  options.progress = [&](const Progress& p) {
    done = p.iteration;
    return reporter(p) && !interrupt.requested();
  };
  SoftmaxRegression model = fit_or_keep_last_good(data, options, warm.get(), a, reporter);
  reporter.finish();
  int sig = interrupt.requested();
  // A distributed fit stops on every rank when one rank is signalled.
  if (sig == 0 && comm != nullptr && model.info().message.rfind("stopped by the caller", 0) == 0) {
    sig = SIGTERM;
  }
  if (!lead) {  // the lead rank writes the model (or the checkpoint) for every rank
    if (sig != 0) {
      wait_for_lead(*comm);
      throw Interrupted(128 + sig);
    }
    return;
  }
  if (sig != 0) {
    const std::string checkpoint = a.model + ".checkpoint";
    TrainingInfo info = model.info();
    info.message = std::string("interrupted by ") + (sig == SIGINT ? "SIGINT" : "SIGTERM");
    save_model(SoftmaxRegression(model.classes(), model.n_features(), model.weights(), model.bias(),
                                 model.preprocessing(), std::move(info), model.feature_names()),
               checkpoint);
    // The solver's state (resume.lbfgs, resume.saga, ...), beside the warm-up's resume.note.
    const auto& params = model.info().parameters;
    const bool resumable = std::any_of(params.begin(), params.end(), [](const auto& p) {
      return p.first.rfind("resume.", 0) == 0 && p.first != "resume.note";
    });
    std::fprintf(stderr,
                 "softreg train: interrupted by %s after %s %d; the model so far is in %s (%s "
                 "left as it was); continue with %s %s\n",
                 sig == SIGINT ? "SIGINT" : "SIGTERM", by_iteration ? "iteration" : "epoch", done,
                 checkpoint.c_str(), a.model.c_str(),
                 resumable ? "the same command and --resume" : "--warm-start", checkpoint.c_str());
    if (comm != nullptr) wait_for_lead(*comm);
    throw Interrupted(128 + sig);
  }
  if (!a.sample_weight.empty() && !weights_file) {
    // predict and eval then know the weight column for what it is, not an unknown feature.
    TrainingInfo info = model.info();
    info.parameters["cli.weight_column"] = a.sample_weight;
    model = SoftmaxRegression(model.classes(), model.n_features(), model.weights(), model.bias(),
                              model.preprocessing(), std::move(info), model.feature_names());
  }
  save_model(model, a.model);
  print_summary(a, model, by_iteration);
}

/// softreg train --stream: fit_streamed over the file's blocks (every rank its own shard's).
template <class T>
void run_streamed(const TrainArgs& a, Communicator* comm) {
  const bool lead = comm == nullptr || comm->rank() == 0;
  const auto check = [&] {
    if (!a.warm_start.empty() || !a.resume.empty()) {
      throw InvalidArgument("--stream starts a new fit; --warm-start and --resume do not apply");
    }
    if (!a.sample_weight.empty() && weights_from_file(a)) {
      throw InvalidArgument("--sample-weight " + a.sample_weight +
                            ": with --stream the weights come from a column of the CSV data, "
                            "not a file");
    }
    if (!(a.block_mb > 0.0) || a.block_mb > 1e6) {
      throw InvalidArgument("--block-mb must be in (0, 1000000]; got " +
                            std::to_string(a.block_mb));
    }
  };
  comm != nullptr ? all_succeed(*comm, check) : check();
  DataArgs data_args = a.data;
  if (!a.sample_weight.empty()) data_args.weight_column = a.sample_weight;
  TrainOptions options = a.options;
  options.communicator = comm;
  const Solver solver = options.solver == Solver::automatic ? Solver::lbfgs : options.solver;
  warn_unused(a, solver);
  const auto block = static_cast<std::size_t>(a.block_mb * double(1 << 20));
  if (!a.quiet) {
    std::fprintf(stderr, "streaming %s in blocks of %g MiB%s, solver %s, l2 %g\n",
                 a.data.data.c_str(), a.block_mb,
                 comm != nullptr && comm->size() > 1
                     ? (" over " + std::to_string(comm->size()) + " ranks").c_str()
                     : "",
                 solver_name(solver), options.l2);
  }
  const bool by_iteration = solver == Solver::lbfgs;
  ProgressReporter reporter(by_iteration ? "iter" : "epoch", a.quiet);
  const InterruptGuard interrupt;
  options.progress = [&](const Progress& p) { return reporter(p) && !interrupt.requested(); };
  const SoftmaxRegression model =
      fit_streamed<T>(a.data.data, read_options(data_args, 0, true), options, block);
  reporter.finish();
  if (const int sig = interrupt.requested();
      sig != 0 || model.info().message.rfind("stopped by the caller", 0) == 0) {
    const int code = 128 + (sig != 0 ? sig : SIGTERM);
    if (lead) {
      std::fprintf(stderr,
                   "softreg train: interrupted; a streamed fit keeps no checkpoint, %s is left "
                   "as it was\n",
                   a.model.c_str());
    }
    if (comm != nullptr) wait_for_lead(*comm);
    throw Interrupted(code);
  }
  if (!lead) return;
  save_model(model, a.model);
  print_summary(a, model, by_iteration);
}

/// The closing lines of a fit: how it ended, and where the model went.
void print_summary(const TrainArgs& a, const SoftmaxRegression& model, bool by_iteration) {
  if (!a.quiet) {
    const TrainingInfo& info = model.info();
    // The stochastic solvers never form the full gradient: no |grad|max for them.
    char grad[48] = "";
    if (!std::isnan(info.grad_norm))
      std::snprintf(grad, sizeof grad, ", |grad|max %.2e", info.grad_norm);
    std::fprintf(stderr, "%s after %d %s (%s): loss %.6f%s\n",
                 info.converged ? "converged" : "stopped", info.iterations,
                 by_iteration ? "iterations" : "epochs", info.message.c_str(), info.final_loss,
                 grad);
    std::fprintf(stderr, "trained in %s; model written to %s\n",
                 format_seconds(info.seconds).c_str(), a.model.c_str());
  }
}

}  // namespace

void add_train(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Fit a softmax-regression classifier and save it");
  add_data_options(*cmd, args->data);
  TrainOptions& options = args->options;
  cmd->add_option("--model", args->model, "Where to write the model file")->required();
  add_choice(
      *cmd, "--solver", options.solver,
      "auto (saga for sparse data without --scale of at least 100000 weights (features x "
      "classes) whose rows x classes x 8 bytes fit in 1 GiB, else lbfgs), "
      "lbfgs (full batch, quasi-Newton), newton-cg (full batch, trust-region Newton with "
      "Hessian products), saga (variance-reduced, one row at a time, lazy updates: for large "
      "sparse data; --max-iter counts epochs), sgd (momentum) or adam");
  cmd->add_option("--l2", options.l2,
                  "L2 penalty lambda in (lambda/2)||W||^2 (scikit-learn's C = 1/(lambda n); two "
                  "classes: C = 2/(lambda n); Python's SoftmaxRegression defaults to C = 1, "
                  "lambda = 1/n)")
      ->capture_default_str();
  cmd->add_option("--l1", options.l1,
                  "L1 penalty lambda_1 in lambda_1 ||W||_1 (exact zeros; L-BFGS runs as OWL-QN, "
                  "so it needs --solver lbfgs or auto; with --l2 an elastic net: scikit-learn's "
                  "l1_ratio r and C give --l1 r/(C n) --l2 (1-r)/(C n), two classes --l2 "
                  "2(1-r)/(C n))")
      ->check(non_negative())
      ->capture_default_str();
  cmd->add_option("--max-iter", options.max_iter, "L-BFGS / Newton-CG iterations, SAGA epochs")
      ->capture_default_str();
  cmd->add_option("--tol", options.tol,
                  "L-BFGS / Newton-CG / SAGA stop when max |gradient| <= tol (Python's "
                  "SoftmaxRegression defaults to 1e-4, scikit-learn's default)")
      ->capture_default_str();
  cmd->add_option("--lbfgs-memory", options.lbfgs_memory,
                  "L-BFGS curvature pairs kept, up to 10000 (0: as many as fit in 64 MiB, at least "
                  "10 and at most 100)")
      ->capture_default_str();
  cmd->add_option("--lbfgs-warmup", options.lbfgs_warmup,
                  "L-BFGS: epochs of Adam (lr 0.02, cosine) first, kept if they lower the loss "
                  "(up to 1000; -1: 3 for 20000+ training rows of dense data without --warm-start, "
                  "else 0)")
      ->capture_default_str();
  add_choice(*cmd, "--preconditioner", options.preconditioner,
             "L-BFGS initial inverse Hessian: auto (second moments of the features for data "
             "with up to 2048 features, dense or sparse, else diagonal), diagonal or none; "
             "Newton-CG: auto and "
             "diagonal precondition its CG with the diagonal, none does not");
  cmd->add_option("--epochs", options.epochs, "SGD / Adam passes over the data")
      ->capture_default_str();
  cmd->add_option("--batch-size", options.batch_size, "SGD / Adam mini-batch rows")
      ->check(integer_in(1, static_cast<long double>(INT64_MAX)))
      ->capture_default_str();
  cmd->add_option("--lr", options.lr, "SGD / Adam learning rate (0: 0.1 for sgd, 0.001 for adam)")
      ->capture_default_str();
  add_choice(*cmd, "--schedule", options.schedule,
             "Learning-rate schedule: constant, inverse-sqrt (or inverse_sqrt) or cosine");
  cmd->add_option("--momentum", options.momentum, "SGD momentum, in [0, 1)")->capture_default_str();
  cmd->add_option("--valid-fraction", options.valid_fraction,
                  "Fraction of rows held out for early stopping, in [0, 1) (0: none)")
      ->capture_default_str();
  cmd->add_option("--patience", options.patience,
                  "Iterations / epochs without validation improvement before stopping")
      ->capture_default_str();
  add_choice(*cmd, "--scale", options.scale,
             "Feature preprocessing stored in the model: none, standard or minmax");
  add_choice(*cmd, "--dtype", options.dtype,
             "Precision of the passes over the data: float32 or float64 (Python's \"auto\" "
             "follows the array: float64 unless it is float32)");
  cmd->add_option("--target-loss", options.target_loss,
                  "Stop once the training objective is at or below this value");
  cmd->add_option("--class-weight", args->class_weight,
                  "\"balanced\" or LABEL:WEIGHT[,LABEL:WEIGHT...]");
  cmd->add_flag("--no-intercept{false}", options.fit_intercept,
                "Fix the intercept b at 0 (of the scaled features with --scale; scikit-learn's "
                "fit_intercept=False)");
  cmd->add_option("--sample-weight", args->sample_weight,
                  "Per-row weights (finite, >= 0): a file with one number per line, one line per "
                  "row, when a file of that name exists, the data is not CSV, or the value is "
                  "\"-\" (standard input); otherwise a CSV column of the data, by header name or "
                  "0-based index (never a feature). A name that is both a file and a feature "
                  "column is an error: write ./NAME for the file, or the column's index");
  cmd->add_option("--warm-start", args->warm_start,
                  "Start from this model's weights (its classes and preprocessing are kept)");
  cmd->add_option("--resume", args->resume,
                  "Continue the fit an interrupt stopped, from its MODEL.checkpoint, with the "
                  "same data and options: the model is bitwise the uninterrupted one (same "
                  "--threads). Every solver, with --l1 and --valid-fraction too (a SAGA "
                  "checkpoint holds rows x classes remembered gradients: 8 bytes each)");
  cmd->add_option("--seed", options.seed, "Seed of the validation split and the mini-batch order")
      ->check(integer_in(0, static_cast<long double>(UINT64_MAX)))
      ->capture_default_str();
  add_threads_option(*cmd, options.threads);
  cmd->add_flag("--quiet", args->quiet, "Print nothing but errors");
  cmd->add_flag("--stream", args->stream,
                "Read --data in blocks instead of whole, for data larger than memory: a plain "
                "(not gzip) file, re-read at every L-BFGS iteration; SGD / Adam read it once "
                "per epoch, shuffling within blocks. Solvers lbfgs (auto), sgd, adam; no "
                "--valid-fraction, --warm-start or --resume (docs/SCALING.md gives the memory "
                "bound)");
  cmd->add_option("--block-mb", args->block_mb,
                  "--stream: MiB of the file per block (memory holds one block's rows)")
      ->capture_default_str();
  cmd->add_flag("--distributed", args->distributed,
                "Data-parallel training as one rank of an MPI job (mpirun -np N softreg train "
                "--distributed ...): each rank reads its shard of --data, the ranks add their "
                "sums each evaluation and take the same steps, rank 0 writes the model and "
                "prints. Solvers lbfgs (auto), newton-cg, sgd, adam; no --valid-fraction; "
                "--sample-weight as a CSV column only (docs/SCALING.md)");
  cmd->callback([args, cmd]() {
    parse_class_weight(args->class_weight, args->options);
    check_options(args->options);
    check_applicable(*cmd, *args);
    if (!args->distributed) {
      with_dtype(args->options.dtype, [&](auto tag) { run_train<decltype(tag)>(*args, nullptr); });
      return;
    }
#ifdef SOFTREG_WITH_MPI
    MpiSession session(nullptr, nullptr);
    MpiCommunicator comm;
    try {
      with_dtype(args->options.dtype, [&](auto tag) { run_train<decltype(tag)>(*args, &comm); });
    } catch (const Interrupted&) {
      throw;
    } catch (const std::exception& e) {
      // An error every rank agreed on (all_succeed names the ranks) ends each rank alike: the
      // lead rank says it. Any other happened on this rank alone, perhaps while the others
      // wait for it in a collective: it ends the whole job.
      const std::string what = e.what();
      if (dynamic_cast<const OnEveryRank*>(&e) != nullptr) {
        if (comm.rank() == 0) {
          std::fprintf(stderr, "softreg: error: %s\n", what.c_str());
          std::fflush(stderr);
        }
        wait_for_lead(comm);
        throw Interrupted(1);
      }
      std::fprintf(stderr, "softreg: error: rank %d of %d: %s\n", comm.rank(), comm.size(),
                   what.c_str());
      std::fflush(stderr);
      comm.abort(1);
    }
#else
    throw InvalidArgument(
        "--distributed: this softreg was built without MPI; configure with "
        "-DSOFTREG_BUILD_MPI=ON (Open MPI: libopenmpi-dev) and run it under mpirun");
#endif
  });
}

}  // namespace softreg::cli
