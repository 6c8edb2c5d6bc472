// Separate labels files: IDX idx1, .npy integers, or plain text with one label per line.
#include <string>
#include <string_view>
#include <vector>

#include "io/byte_source.hpp"
#include "io/line_reader.hpp"
#include "io/readers.hpp"
#include "io/text_check.hpp"
#include "softreg/error.hpp"

namespace softreg::detail {

RecordRange shard_records(std::size_t n, std::size_t index, std::size_t count) {
  // floor(n i / count) without the product overflowing: n = q count + r.
  const auto at = [&](std::size_t i) { return (n / count) * i + (n % count) * i / count; };
  return {at(index), at(index + 1)};
}

std::vector<std::string> read_labels_file(const std::string& path, std::size_t expected,
                                          const std::string& data_path, std::size_t shard_index,
                                          std::size_t shard_count) {
  const std::string name = plain_file_name(path);
  const RecordRange range = shard_records(expected, shard_index, shard_count);
  if (has_suffix(name, ".npy")) return read_npy_labels(path, expected, data_path, range);
  if (is_idx_name(name)) return read_idx_labels(path, expected, data_path, range);
  if (shard_count > 1) {
    throw InvalidArgument(source_name(path) +
                          ": a text labels file cannot be read by shards (its lines cannot be "
                          "matched to a shard's rows); expected an IDX or .npy labels file, or "
                          "the labels inside the data file");
  }
  return read_text_labels(path, expected, data_path);
}

std::vector<std::string> read_text_labels(const std::string& file, std::size_t expected,
                                          const std::string& data_path) {
  ByteSource src(file);
  const std::string& path = src.path();
  LineReader lines(src);
  std::vector<std::string> labels;
  labels.reserve(expected);
  const std::string count_text = std::to_string(expected) + " labels, one per row of " + data_path;
  std::size_t first_blank = 0;
  std::string_view line;
  while (lines.next(line)) {
    if (lines.line_number() == 1) line = first_line_text(path, line);
    const std::string_view label = trim_label(line);
    if (label.empty()) {
      if (first_blank == 0) first_blank = lines.line_number();
      continue;
    }
    if (first_blank != 0) {
      throw_at_line(path, first_blank, 1,
                    "expected a label, found an empty line (only trailing empty lines are "
                    "allowed)");
    }
    if (labels.size() == expected) {
      throw_at_line(path, lines.line_number(), 1, "expected " + count_text + ", found more");
    }
    check_text(path, lines.line_number(), 1, label, "a label");
    labels.emplace_back(label);
  }
  if (src.offset() == 0) {
    throw_at_line(path, 1, 1, "file is empty; expected " + count_text + ", one per line");
  }
  if (labels.size() != expected) {
    throw_at_line(
        path, labels.size() + 1, 1,
        "file ends after " + std::to_string(labels.size()) + " labels; expected " + count_text);
  }
  return labels;
}

std::string_view trim_label(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    text = text.substr(1, text.size() - 2);
  }
  return text;
}

}  // namespace softreg::detail
