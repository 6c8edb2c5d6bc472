// softreg predict: class predictions (and optionally probabilities, top-k) as CSV.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <numeric>
#include <string>
#include <string_view>

#include "commands.hpp"
#include "common.hpp"
#include "softreg/atomic_file.hpp"
#include "softreg/error.hpp"
#include "softreg/model_io.hpp"

namespace softreg::cli {
namespace {

struct PredictArgs {
  DataArgs data;
  std::string model;
  std::string output;
  bool proba = false;
  std::size_t top_k = 0;
  int precision = 6;  // significant digits; 0: as many as the value needs to read back exactly
  int threads = 0;
};

/// Labels go out quoted when they contain a comma, a quote or a line break (RFC 4180).
void put_label(std::string& line, const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) {
    line += s;
    return;
  }
  line += '"';
  for (const char c : s) {
    if (c == '"') line += '"';
    line += c;
  }
  line += '"';
}

/// v with `precision` significant digits ("%.<precision>g"), appended; precision 0 gives the
/// shortest text that reads back as exactly v in T (std::to_chars): 9 digits at most for
/// float32, 17 for float64.
template <class T>
void put_number(std::string& line, T v, int precision) {
  char text[64];
  if (precision == 0) {
    const auto r = std::to_chars(text, text + sizeof text, v);
    line.append(text, r.ptr);
    return;
  }
  const int len = std::snprintf(text, sizeof text, "%.*g", precision, double(v));
  line.append(text, std::size_t(len));
}

/// --precision: 1 to 17 significant digits, or "max".
int parse_precision(const std::string& text) {
  if (text == "max") return 0;
  int digits = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), digits);
  if (r.ec != std::errc{} || r.ptr != text.data() + text.size() || digits < 1 || digits > 17) {
    throw CLI::ValidationError(
        "--precision", "expected 1 to 17 significant digits or \"max\", got \"" + text + "\"");
  }
  return digits;
}

template <class T>
void run_predict(const PredictArgs& a, const SoftmaxRegression& model) {
  const bool to_file = !a.output.empty() && a.output != "-";
  // Before the data is read and predicted: an output that cannot be written fails at once.
  if (to_file) check_writable(a.output);
  const Dataset<T> data = load_data_for<T>(a.data, model, false, "predict");
  const bool ids = !data.ids.empty();
  const std::size_t n = data.rows();
  const std::size_t k = model.n_classes();
  std::vector<T> proba(n * k);
  model.predict_proba(data.features, std::span<T>(proba), a.threads);
  check_rows_finite(std::span<const T>(proba), k, a.model, data.source);
  const std::vector<std::int64_t> pred = model.predict(data.features, a.threads);
  const std::size_t top = std::min(a.top_k, k);
  // The CSV goes out a line at a time to `out`: standard output or the atomic output file.
  auto write = [&](const std::function<void(std::string_view)>& out) {
    std::string line;
    if (ids) {
      put_label(line, data.id_name.empty() ? std::string("id") : data.id_name);
      line += ',';
    }
    line += "prediction";
    if (a.proba) {
      for (const auto& c : model.classes()) {
        line += ',';
        put_label(line, "proba_" + c);
      }
    }
    for (std::size_t r = 1; r <= top; ++r) {
      line += ",top" + std::to_string(r) + ",top" + std::to_string(r) + "_proba";
    }
    line += '\n';
    out(line);
    std::vector<std::size_t> order(k);
    for (std::size_t i = 0; i < n; ++i) {
      const T* p = proba.data() + i * k;
      line.clear();
      if (ids) {
        put_label(line, data.ids[i]);
        line += ',';
      }
      put_label(line, model.classes()[std::size_t(pred[i])]);
      if (a.proba) {
        for (std::size_t c = 0; c < k; ++c) {
          line += ',';
          put_number(line, p[c], a.precision);
        }
      }
      if (top > 0) {
        std::iota(order.begin(), order.end(), std::size_t{0});
        std::partial_sort(
            order.begin(), order.begin() + std::ptrdiff_t(top), order.end(),
            [&](std::size_t x, std::size_t y) { return p[x] > p[y] || (p[x] == p[y] && x < y); });
        for (std::size_t r = 0; r < top; ++r) {
          line += ',';
          put_label(line, model.classes()[order[r]]);
          line += ',';
          put_number(line, p[order[r]], a.precision);
        }
      }
      line += '\n';
      out(line);
    }
  };
  if (!to_file) {
    write([](std::string_view text) { std::fwrite(text.data(), 1, text.size(), stdout); });
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
      throw IoError(std::string("standard output: writing the predictions failed: ") +
                    std::strerror(errno));
    }
  } else {
    AtomicFile file(a.output);
    write([&file](std::string_view text) { file.write(text); });
    file.commit();
  }
}

}  // namespace

void add_predict(CLI::App& app) {
  auto args = std::make_shared<PredictArgs>();
  CLI::App* cmd = app.add_subcommand("predict", "Predict classes of a data file with a model");
  cmd->add_option("--model", args->model, "Model file written by softreg train")->required();
  add_data_options(*cmd, args->data);
  cmd->add_flag("--proba", args->proba, "Add one probability column per class");
  cmd->add_option("--top-k", args->top_k, "Add the K most probable classes and their probabilities")
      ->check(positive());
  cmd->add_option_function<std::string>(
         "--precision", [args](const std::string& v) { args->precision = parse_precision(v); },
         "Significant digits of the probabilities, 1 to 17, or \"max\": the shortest text "
         "that reads back as exactly the probability computed (in the model's dtype: up to 9 "
         "digits for float32, 17 for float64)")
      ->default_str("6");
  cmd->add_option("--output", args->output,
                  "CSV file to write (default: standard output). Columns: the id column "
                  "(--id-column; named by its header, else \"id\"), prediction, proba_<class> "
                  "(--proba), topR and topR_proba (--top-k)");
  add_threads_option(*cmd, args->threads);
  cmd->callback([args]() {
    const SoftmaxRegression model = load_model(args->model);
    with_dtype(model.info().dtype, [&](auto tag) { run_predict<decltype(tag)>(*args, model); });
  });
}

}  // namespace softreg::cli
