// Pieces every softreg subcommand shares: data options, loading, enum choices, formatting.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "softreg/data.hpp"
#include "softreg/model.hpp"
#include "softreg/names.hpp"

namespace softreg::cli {

/// Thrown by a command that has reported an interruption (SIGINT, SIGTERM) itself: main exits
/// with `code` (128 + the signal) and prints nothing more.
struct Interrupted {
  int code;
};

/// The options that say where data comes from; train, predict and eval take the same ones.
struct DataArgs {
  std::string data;
  std::string labels;
  std::string label_column;
  std::string id_column;
  std::string format = "auto";
  std::string delimiter;
  std::string header = "auto";
  bool zero_based = false;
  bool one_based = false;
  /// ReadOptions::weight_column: not an option of its own (train's --sample-weight sets it).
  std::string weight_column;
};

/// Registers --data (required; "-" is standard input), --labels, --label-column, --id-column,
/// --format, --delimiter, --header, --zero-based and --one-based.
void add_data_options(CLI::App& app, DataArgs& args);

/// The format the data will be read as: --format, else the one the file name implies (throws
/// InvalidArgument as read_dataset would when there is none; "-" needs --format).
DataFormat data_format(const DataArgs& args);

/// Reads the data as the options say. n_features = 0 accepts any width; require_labels makes
/// a file without labels an error. LibSVM numbering: --zero-based or --one-based when given,
/// else model_base (the numbering a model was trained with), else automatic.
template <class T>
Dataset<T> load_data(const DataArgs& args, std::size_t n_features, bool require_labels,
                     IndexBase model_base = IndexBase::automatic);
/// The ReadOptions load_data reads with.
ReadOptions read_options(const DataArgs& args, std::size_t n_features, bool require_labels,
                         IndexBase model_base = IndexBase::automatic);
/// The LibSVM numbering a model was trained with: zero for a 0-based training file, else
/// automatic (a file with an index 0 is 0-based, which a 1-based file cannot have).
IndexBase model_index_base(const SoftmaxRegression& model);

/// Prints the reader's notices (Dataset::notices) on stderr, one line each:
/// "softreg <command>: notice: <source>: <notice>".
template <class T>
void print_notices(const char* command, const Dataset<T>& data);

/// Reads the data a model predicts on or continues from: when the model names its features and
/// the data is CSV, the file is read at its own width and its columns matched to the model's by
/// name (align_features); otherwise at the model's width. Warnings (columns taken by position)
/// go to standard error as "softreg <command>: warning: ...", and the reader's notices as
/// print_notices words them, unless quiet.
template <class T>
Dataset<T> load_data_for(const DataArgs& args, const SoftmaxRegression& model, bool require_labels,
                         const char* command, bool quiet = false);

/// Throws softreg::Error naming the model file, the data and the row (1-based) when a row of
/// probabilities (or log-probabilities), n rows of k, holds NaN: finite weights can still
/// overflow on large features, and a NaN row has no class to predict.
template <class T>
void check_rows_finite(std::span<const T> values, std::size_t k, const std::string& model_path,
                       const std::string& source);

/// Class labels of y as indices into model.classes(); a label the model does not know is an
/// error naming the row and the file.
std::vector<std::int64_t> label_indices(const SoftmaxRegression& model,
                                        const std::vector<std::string>& labels,
                                        const std::string& source);

/// A number that must be finite and >= 0 (or > 0): one short message instead of CLI11's range
/// text.
CLI::Validator non_negative();
CLI::Validator positive();
/// A whole number in [lo, hi], digits only (and a leading '-' when lo < 0): CLI11 would
/// otherwise saturate 18446744073709551615 to the largest int64 or wrap -1 into a uint64.
CLI::Validator integer_in(long double lo, long double hi);

/// Every spelling E's values accept (softreg/names.hpp: canonical names and aliases).
template <class E>
std::vector<std::string> spellings() {
  std::vector<std::string> names;
  for (const auto& entry : enum_names<E>()) names.emplace_back(entry.name);
  return names;
}

/// An option taking one of E's names, stored as the matching value; its default is target's
/// current value.
template <class E>
CLI::Option* add_choice(CLI::App& app, const std::string& name, E& target,
                        const std::string& help) {
  return app
      .add_option_function<std::string>(
          name, [&target](const std::string& value) { target = *parse_name<E>(value); }, help)
      ->check(CLI::IsMember(spellings<E>()))
      ->default_str(std::string(name_of(target)));
}

/// Registers --threads (0: SOFTREG_NUM_THREADS if set, else all cores).
CLI::Option* add_threads_option(CLI::App& app, int& threads);

/// Calls run(T{}) with T = double for DType::float64, else float: the subcommands' one dispatch
/// from a dtype to their templated bodies.
template <class Run>
void with_dtype(DType dtype, Run&& run) {
  if (dtype == DType::float64) {
    run(double{});
  } else {
    run(float{});
  }
}

/// "12.3 s", "850 ms".
std::string format_seconds(double s);

/// A JSON string (quotes, backslashes and control characters escaped) on standard output.
void json_string(const std::string& s);
/// A JSON number on standard output, all 17 digits; NaN and infinities (which JSON lacks) as
/// null.
void json_number(double v);

}  // namespace softreg::cli
