// Sample weights from a text file: one finite number >= 0 per line, one line per data row.
#include <cmath>
#include <string>
#include <string_view>
#include <vector>

#include "io/byte_source.hpp"
#include "io/line_reader.hpp"
#include "io/read_position.hpp"
#include "io/text_check.hpp"
#include "io/text_number.hpp"
#include "softreg/data.hpp"

namespace softreg {
namespace {

std::vector<double> read_weights(const std::string& path, std::size_t expected,
                                 const std::string& data_source) {
  using detail::throw_at_line;
  detail::ByteSource src(path);
  const std::string& name = src.path();
  const std::string data = source_name(data_source);
  detail::LineReader lines(src);
  std::vector<double> weights;
  weights.reserve(expected);
  const std::string count_text =
      std::to_string(expected) + " sample weights, one per row of " + data;
  std::size_t first_blank = 0;
  std::string_view line;
  while (lines.next(line)) {
    if (lines.line_number() == 1) line = detail::first_line_text(name, line);
    std::size_t col = 1;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      line.remove_prefix(1);
      ++col;
    }
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
    if (line.empty()) {
      if (first_blank == 0) first_blank = lines.line_number();
      continue;
    }
    if (first_blank != 0) {
      throw_at_line(name, first_blank, 1,
                    "expected a sample weight, found an empty line (only trailing empty lines "
                    "are allowed)");
    }
    if (weights.size() == expected) {
      throw_at_line(name, lines.line_number(), col, "expected " + count_text + ", found more");
    }
    double w = 0.0;
    const char* const end = line.data() + line.size();
    const detail::NumberResult r = detail::parse_number(line.data(), end, w);
    if (r.status != detail::NumberStatus::ok || r.end != end || !std::isfinite(w) || !(w >= 0.0)) {
      throw_at_line(name, lines.line_number(), col,
                    "expected a sample weight (a finite number >= 0), found " +
                        detail::quote_for_message(line));
    }
    weights.push_back(w);
  }
  if (src.offset() == 0) {
    throw_at_line(name, 1, 1, "file is empty; expected " + count_text + ", one per line");
  }
  if (weights.size() != expected) {
    throw_at_line(name, weights.size() + 1, 1,
                  "file ends after " + std::to_string(weights.size()) +
                      " sample weights; expected " + count_text);
  }
  return weights;
}

}  // namespace

std::vector<double> read_sample_weights(const std::string& path, std::size_t expected,
                                        const std::string& data_source) {
  return detail::with_read_position([&] { return read_weights(path, expected, data_source); });
}

}  // namespace softreg
