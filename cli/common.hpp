// Pieces every softreg subcommand shares: data options, loading, atomic output, formatting.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "softreg/data.hpp"
#include "softreg/model.hpp"

namespace softreg::cli {

/// The options that say where data comes from; train, predict and eval take the same ones.
struct DataArgs {
  std::string data;
  std::string labels;
  std::string label_column;
  std::string format = "auto";
  std::string delimiter;
  std::string header = "auto";
};

/// Registers --data (required), --labels, --label-column, --format, --delimiter and --header.
void add_data_options(CLI::App& app, DataArgs& args);

/// Reads the data as the options say. n_features = 0 accepts any width; require_labels makes
/// a file without labels an error.
template <class T>
Dataset<T> load_data(const DataArgs& args, std::size_t n_features, bool require_labels);

/// Writes a file through a temporary name in the same directory and a rename, so a failure
/// never leaves a partial file at `path`. write() produces the content.
void write_atomically(const std::string& path, const std::function<void(std::FILE*)>& write);

/// Class labels of y as indices into model.classes(); a label the model does not know is an
/// error naming the row and the file.
std::vector<std::int64_t> label_indices(const SoftmaxRegression& model,
                                        const std::vector<std::string>& labels,
                                        const std::string& source);

/// A number that must be finite and >= 0 (or > 0): one short message instead of CLI11's range
/// text.
CLI::Validator non_negative();
CLI::Validator positive();

/// An option taking one of `choices` by name, stored as the matching enum value.
template <class E>
CLI::Option* add_choice(CLI::App& app, const std::string& name, E& target,
                        std::vector<std::pair<std::string, E>> choices, const std::string& help,
                        const std::string& default_name) {
  std::vector<std::string> names;
  for (const auto& c : choices) names.push_back(c.first);
  return app
      .add_option_function<std::string>(
          name,
          [&target, choices](const std::string& value) {
            for (const auto& c : choices) {
              if (c.first == value) target = c.second;
            }
          },
          help)
      ->check(CLI::IsMember(names))
      ->default_str(default_name);
}

/// "12.3 s", "850 ms".
std::string format_seconds(double s);

}  // namespace softreg::cli
