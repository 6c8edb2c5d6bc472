// softreg predict: class predictions (and optionally probabilities, top-k) as CSV.
#include <algorithm>
#include <cerrno>
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

/// "%.6g" of v, appended.
void put_number(std::string& line, double v) {
  char text[32];
  const int len = std::snprintf(text, sizeof text, "%.6g", v);
  line.append(text, std::size_t(len));
}

template <class T>
void run_predict(const PredictArgs& a, const SoftmaxRegression& model) {
  const Dataset<T> data = load_data_for<T>(a.data, model, false, "predict");
  const std::size_t n = data.rows();
  const std::size_t k = model.n_classes();
  std::vector<T> proba(n * k);
  model.predict_proba(data.features, std::span<T>(proba), a.threads);
  const std::vector<std::int64_t> pred = model.predict(data.features, a.threads);
  const std::size_t top = std::min(a.top_k, k);
  // The CSV goes out a line at a time to `out`: standard output or the atomic output file.
  auto write = [&](const std::function<void(std::string_view)>& out) {
    std::string line = "prediction";
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
      put_label(line, model.classes()[std::size_t(pred[i])]);
      if (a.proba) {
        for (std::size_t c = 0; c < k; ++c) {
          line += ',';
          put_number(line, double(p[c]));
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
          put_number(line, double(p[order[r]]));
        }
      }
      line += '\n';
      out(line);
    }
  };
  if (a.output.empty() || a.output == "-") {
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
  cmd->add_option("--output", args->output, "CSV file to write (default: standard output)");
  add_threads_option(*cmd, args->threads);
  cmd->callback([args]() {
    const SoftmaxRegression model = load_model(args->model);
    with_dtype(model.info().dtype, [&](auto tag) { run_predict<decltype(tag)>(*args, model); });
  });
}

}  // namespace softreg::cli
