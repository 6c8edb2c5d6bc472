// Shared CLI pieces: data options, loading with the model's width, label lookup, formatting.
#include "common.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "softreg/error.hpp"

namespace softreg::cli {

void add_data_options(CLI::App& app, DataArgs& args) {
  app.add_option("--data", args.data,
                 "Data file: .csv, .tsv, .svm/.libsvm/.txt (LibSVM), .npy, or MNIST-style "
                 "*-idx*-ubyte[.gz]; .gz is read for every format. \"-\" reads standard input "
                 "(plain or gzip; needs --format; messages call it \"standard input\")")
      ->required();
  app.add_option("--labels", args.labels,
                 "Separate labels file (IDX labels, .npy of integers, or one label per line). "
                 "IDX images default to the sibling *-labels-idx1-ubyte[.gz] file");
  app.add_option("--label-column", args.label_column,
                 "CSV label column, by header name or 0-based index (default: the column named "
                 "\"label\", if any)");
  app.add_option("--id-column", args.id_column,
                 "CSV column of row ids, by header name or 0-based index: never a feature "
                 "(predict writes it as the first output column)");
  app.add_option("--format", args.format,
                 "Force the data format instead of inferring it from "
                 "the file name (needed with --data -)")
      ->check(CLI::IsMember(spellings<DataFormat>()))
      ->capture_default_str();
  app.add_option("--delimiter", args.delimiter,
                 "CSV field delimiter, one character or \"tab\" (default: ',' or tab for .tsv)");
  app.add_option("--header", args.header, "CSV header line: auto, yes or no")
      ->check(CLI::IsMember({"auto", "yes", "no"}))
      ->capture_default_str();
  CLI::Option* zero = app.add_flag("--zero-based", args.zero_based,
                                   "LibSVM: feature indices start at 0 (index j is column j)");
  CLI::Option* one = app.add_flag("--one-based", args.one_based,
                                  "LibSVM: feature indices start at 1, and 0 is an error. "
                                  "Default: 0-based if any index is 0, else 1-based "
                                  "(scikit-learn's zero_based=\"auto\")");
  zero->excludes(one);
  one->excludes(zero);
}

DataFormat data_format(const DataArgs& args) {
  const DataFormat given = parse_format(args.format);
  if (given != DataFormat::automatic || args.data == "-") return given;
  return infer_format(args.data);
}

ReadOptions read_options(const DataArgs& args, std::size_t n_features, bool require_labels,
                         IndexBase model_base) {
  ReadOptions read;
  read.format = parse_format(args.format);
  if (args.zero_based || args.one_based) {
    const DataFormat format = data_format(args);
    if (format != DataFormat::libsvm && format != DataFormat::automatic) {
      throw InvalidArgument(std::string(args.zero_based ? "--zero-based" : "--one-based") +
                            " applies to LibSVM data only; " + source_name(args.data) + " is " +
                            format_name(format) + " data");
    }
  }
  read.index_base = args.zero_based  ? IndexBase::zero
                    : args.one_based ? IndexBase::one
                                     : model_base;
  read.labels_path = args.labels;
  read.label_column = args.label_column;
  read.id_column = args.id_column;
  read.weight_column = args.weight_column;
  if (args.delimiter == "tab" || args.delimiter == "\\t") {
    read.delimiter = '\t';
  } else if (args.delimiter.size() == 1) {
    read.delimiter = args.delimiter[0];
  } else if (!args.delimiter.empty()) {
    throw InvalidArgument("--delimiter must be one character or \"tab\", got \"" + args.delimiter +
                          "\"");
  }
  if (args.header != "auto") read.header = args.header == "yes";
  read.n_features = n_features;
  read.require_labels = require_labels;
  return read;
}

template <class T>
Dataset<T> load_data(const DataArgs& args, std::size_t n_features, bool require_labels,
                     IndexBase model_base) {
  return read_dataset<T>(args.data, read_options(args, n_features, require_labels, model_base));
}

IndexBase model_index_base(const SoftmaxRegression& model) {
  const auto& params = model.info().parameters;
  const auto base = params.find("index_base");
  return base != params.end() && base->second == "0" ? IndexBase::zero : IndexBase::automatic;
}

template Dataset<float> load_data<float>(const DataArgs&, std::size_t, bool, IndexBase);
template Dataset<double> load_data<double>(const DataArgs&, std::size_t, bool, IndexBase);

template <class T>
void print_notices(const char* command, const Dataset<T>& data) {
  for (const std::string& notice : data.notices) {
    std::fprintf(stderr, "softreg %s: notice: %s: %s\n", command, source_name(data.source).c_str(),
                 notice.c_str());
  }
}

template void print_notices<float>(const char*, const Dataset<float>&);
template void print_notices<double>(const char*, const Dataset<double>&);

namespace {

/// Removes data's column `name` (dense data with names) unless the model has a feature so named.
template <class T>
void drop_named_column(Dataset<T>& data, const std::string& name, const SoftmaxRegression& model) {
  const auto& names = data.feature_names;
  const auto it = std::find(names.begin(), names.end(), name);
  auto* x = std::get_if<DenseMatrix<T>>(&data.features);
  const auto& known = model.feature_names();
  if (it == names.end() || x == nullptr ||
      std::find(known.begin(), known.end(), name) != known.end()) {
    return;
  }
  const auto drop = static_cast<std::size_t>(it - names.begin());
  DenseMatrix<T> out(x->rows, x->cols - 1);
  for (std::size_t i = 0; i < x->rows; ++i) {
    const auto src = x->row(i);
    auto dst = out.row(i);
    std::copy(src.begin(), src.begin() + std::ptrdiff_t(drop), dst.begin());
    std::copy(src.begin() + std::ptrdiff_t(drop) + 1, src.end(),
              dst.begin() + std::ptrdiff_t(drop));
  }
  *x = std::move(out);
  data.feature_names.erase(it);
}

}  // namespace

template <class T>
Dataset<T> load_data_for(const DataArgs& args, const SoftmaxRegression& model, bool require_labels,
                         const char* command, bool quiet) {
  const bool by_name = !model.feature_names().empty() && data_format(args) == DataFormat::csv;
  // LibSVM numbering (unless --zero-based / --one-based): a model trained on a 0-based file
  // reads every file 0-based, so a file that happens to use no index 0 is not shifted by one;
  // otherwise automatic, where only a file with an index 0 is 0-based (which a 1-based file
  // cannot have).
  const auto& params = model.info().parameters;
  Dataset<T> data =
      load_data<T>(args, by_name ? 0 : model.n_features(), require_labels, model_index_base(model));
  if (!quiet) print_notices(command, data);
  // The training file's weight column is no feature: a file that still has it predicts.
  const auto weights = params.find("cli.weight_column");
  if (by_name && weights != params.end()) drop_named_column(data, weights->second, model);
  for (const std::string& warning : align_features(data, model)) {
    if (!quiet) std::fprintf(stderr, "softreg %s: warning: %s\n", command, warning.c_str());
  }
  return data;
}

template Dataset<float> load_data_for<float>(const DataArgs&, const SoftmaxRegression&, bool,
                                             const char*, bool);
template Dataset<double> load_data_for<double>(const DataArgs&, const SoftmaxRegression&, bool,
                                               const char*, bool);

template <class T>
void check_rows_finite(std::span<const T> values, std::size_t k, const std::string& model_path,
                       const std::string& source) {
  for (std::size_t i = 0; k > 0 && i < values.size() / k; ++i) {
    for (std::size_t c = 0; c < k; ++c) {
      if (std::isnan(values[i * k + c])) {
        throw Error(model_path + ": the model's weights make the logits of row " +
                    std::to_string(i + 1) + " of " + source_name(source) +
                    " NaN (they overflow on its features); no class can be predicted");
      }
    }
  }
}

template void check_rows_finite<float>(std::span<const float>, std::size_t, const std::string&,
                                       const std::string&);
template void check_rows_finite<double>(std::span<const double>, std::size_t, const std::string&,
                                        const std::string&);

CLI::Option* add_threads_option(CLI::App& app, int& threads) {
  return app
      .add_option("--threads", threads,
                  "Worker threads (0: SOFTREG_NUM_THREADS if set, else all cores)")
      ->check(non_negative())
      ->capture_default_str();
}

std::vector<std::int64_t> label_indices(const SoftmaxRegression& model,
                                        const std::vector<std::string>& labels,
                                        const std::string& source) {
  std::vector<std::int64_t> y = model.class_indices(labels);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (y[i] < 0) {
      throw InvalidArgument(source_name(source) + ": row " + std::to_string(i + 1) + ": label \"" +
                            labels[i] + "\" is not one of the model's " +
                            std::to_string(model.classes().size()) + " classes");
    }
  }
  return y;
}

namespace {

CLI::Validator number_at_least(bool strict) {
  return CLI::Validator(
      [strict](std::string& text) -> std::string {
        double v = 0.0;
        std::size_t used = 0;
        try {
          v = std::stod(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        const bool ok = used == text.size() && std::isfinite(v) && (strict ? v > 0.0 : v >= 0.0);
        return ok ? std::string()
                  : "expected a number " + std::string(strict ? "> 0" : ">= 0") + ", got \"" +
                        text + "\"";
      },
      strict ? "NUMBER > 0" : "NUMBER >= 0");
}

}  // namespace

CLI::Validator integer_in(long double lo, long double hi) {
  return CLI::Validator(
      [lo, hi](std::string& text) -> std::string {
        const bool digits = !text.empty() &&
                            std::all_of(text.begin() + (text[0] == '-' ? 1 : 0), text.end(),
                                        [](char c) { return c >= '0' && c <= '9'; }) &&
                            text != "-";
        long double v = 0;
        if (digits) v = std::strtold(text.c_str(), nullptr);
        if (digits && v >= lo && v <= hi) return {};
        char range[96];
        std::snprintf(range, sizeof range, "a whole number in [%.0Lf, %.0Lf]", lo, hi);
        return "expected " + std::string(range) + ", got \"" + text + "\"";
      },
      "INTEGER");
}

CLI::Validator non_negative() {
  return number_at_least(false);
}
CLI::Validator positive() {
  return number_at_least(true);
}

void json_string(const std::string& s) {
  std::putchar('"');
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      std::printf("\\%c", c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      std::printf("\\u%04x", c);
    } else {
      std::putchar(c);
    }
  }
  std::putchar('"');
}

void json_number(double v) {
  if (std::isfinite(v)) {
    std::printf("%.17g", v);
  } else {
    std::fputs("null", stdout);
  }
}

std::string format_seconds(double s) {
  char buf[32];
  if (s < 1.0) {
    std::snprintf(buf, sizeof buf, "%.0f ms", s * 1000.0);
  } else if (s < 120.0) {
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  } else {
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  }
  return buf;
}

}  // namespace softreg::cli
