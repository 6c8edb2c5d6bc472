// CSV / TSV: header detection, the label column, quoted fields, and a fast numeric row parser.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/byte_source.hpp"
#include "io/csv_fields.hpp"
#include "io/line_reader.hpp"
#include "io/readers.hpp"
#include "io/text_number.hpp"
#include "softreg/error.hpp"

namespace softreg::detail {
namespace {

constexpr std::size_t kNoColumn = SIZE_MAX;

// Parses data rows straight into the final row-major storage: no per-field strings, no per-row
// vectors. Only label fields become strings.
template <class T>
class RowParser {
 public:
  RowParser(const std::string& path, char delim, std::size_t n_fields, std::size_t label_col,
            std::size_t row_hint)
      : path_(path), delim_(delim), n_fields_(n_fields), label_col_(label_col) {
    cols_ = n_fields - (label_col == kNoColumn ? 0 : 1);
    data_.reserve(row_hint * cols_);
    if (label_col != kNoColumn) labels_.reserve(row_hint);
  }

  void parse(std::string_view line, std::size_t line_no) {
    const char* const begin = line.data();
    const char* const end = begin + line.size();
    const std::size_t base = data_.size();
    data_.resize(base + cols_);
    T* const out = data_.data() + base;
    std::string_view label;
    if (first_blank_ == 0 && parse_plain_row(begin, end, out, label)) {
      if (label_col_ != kNoColumn) labels_.emplace_back(label);
    } else if (!parse_any_row(begin, end, line_no, out)) {
      data_.resize(base);
      return;
    }
    ++rows_;
  }

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  std::vector<T>& data() { return data_; }
  std::vector<std::string>& labels() { return labels_; }

 private:
  static std::size_t column(const char* begin, const char* p) {
    return static_cast<std::size_t>(p - begin) + 1;
  }

  std::string_view field_text(const char* p, const char* end) const {
    const void* d = std::memchr(p, delim_, static_cast<std::size_t>(end - p));
    return {p, static_cast<std::size_t>((d ? static_cast<const char*>(d) : end) - p)};
  }

  // The common row: unpadded, unquoted short decimals and a plain label. Kept small so its
  // loop stays in registers; measured 30% faster than the general loop on MNIST-like CSV.
  // Returns false for anything else, and the general loop parses the row again from the start.
  bool parse_plain_row(const char* p, const char* end, T* out, std::string_view& label) const {
    const char delim = delim_;
    for (std::size_t f = 0; f < n_fields_; ++f) {
      if (f == label_col_) {
        const auto* d =
            static_cast<const char*>(std::memchr(p, delim, static_cast<std::size_t>(end - p)));
        if (d == nullptr) d = end;
        if (d == p || *p == '"' || *p == ' ' || *p == '\t' || d[-1] == ' ' || d[-1] == '\t') {
          return false;
        }
        label = std::string_view(p, static_cast<std::size_t>(d - p));
        p = d;
      } else {
        p = parse_short_decimal(p, end, *out++);
        if (p == nullptr) return false;
      }
      if (f + 1 < n_fields_) {
        if (p == end || *p != delim) return false;
        ++p;
      }
    }
    return p == end;
  }

  // Any row: padding, quotes, every number from_chars reads, and the errors with positions.
  // Returns false for an empty line, which is allowed only at the end of the file.
  [[gnu::noinline]] bool parse_any_row(const char* const begin, const char* const end,
                                       std::size_t line_no, T* out) {
    const char* p = begin;
    const char delim = delim_;
    const CsvPad pad{delim};
    while (p != end && pad(*p)) ++p;
    if (p == end) {
      if (first_blank_ == 0) first_blank_ = line_no;
      return false;
    }
    if (first_blank_ != 0) {
      throw_at_line(path_, first_blank_, 1,
                    "expected a row of " + std::to_string(n_fields_) +
                        " fields, found an empty line (only trailing empty lines are allowed)");
    }
    p = begin;
    for (std::size_t f = 0; f < n_fields_; ++f) {
      while (p != end && pad(*p)) ++p;
      const char* const field = p;
      if (f == label_col_) {
        p = parse_label(p, end, begin, line_no);
      } else {
        p = parse_value(p, end, begin, line_no, *out++);
      }
      while (p != end && pad(*p)) ++p;
      if (p != end && *p != delim) fail_after_field(begin, field, p, end, line_no, f);
      if (f + 1 < n_fields_) {
        if (p == end) fail_field_count(begin, p, line_no, f + 1);
        ++p;
      }
    }
    if (p != end) fail_field_count(begin, p, line_no, n_fields_ + 1);
    return true;
  }

  // The error paths live out of line so the per-field loop keeps a small frame.
  [[noreturn, gnu::noinline, gnu::cold]] void fail_after_field(const char* begin, const char* field,
                                                               const char* p, const char* end,
                                                               std::size_t line_no,
                                                               std::size_t f) const {
    if (*field == '"') {
      throw_at_line(path_, line_no, column(begin, p),
                    "expected " + delim_name(delim_) + " after the closing quote, found " +
                        quote_for_message(std::string_view(p, 1)));
    }
    throw_at_line(path_, line_no, column(begin, field),
                  std::string(f == label_col_ ? "expected a label" : "expected a number") +
                      ", found " + quote_for_message(field_text(field, end)));
  }

  // `found` past n_fields_ means "more".
  [[noreturn, gnu::noinline, gnu::cold]] void fail_field_count(const char* begin, const char* p,
                                                               std::size_t line_no,
                                                               std::size_t found) const {
    throw_at_line(path_, line_no, column(begin, p),
                  "expected " + std::to_string(n_fields_) + " fields, found " +
                      (found > n_fields_ ? std::string("more") : std::to_string(found)));
  }

  // Everything the short-decimal fast path leaves: quotes, '+', long mantissas, large
  // exponents, and every error.
  const char* parse_value(const char* p, const char* end, const char* begin, std::size_t line_no,
                          T& out) const {
    const char* num = p;
    const char* num_end = end;
    const char* after = nullptr;
    if (p != end && *p == '"') {
      after = scan_quoted(path_, line_no, begin, p, end, nullptr);
      num = p + 1;
      num_end = after - 1;
      const CsvPad pad{delim_};
      while (num != num_end && pad(*num)) ++num;
      while (num_end != num && pad(num_end[-1])) --num_end;
    }
    if (num == num_end || (after == nullptr && *num == delim_)) {
      throw_at_line(path_, line_no, column(begin, p), "expected a number, found an empty field");
    }
    const NumberResult r = parse_number(num, num_end, out);
    if (r.status == NumberStatus::not_a_number || (after != nullptr && r.end != num_end)) {
      throw_at_line(path_, line_no, column(begin, p),
                    "expected a number, found " + quote_for_message(field_text(p, end)));
    }
    if (r.status == NumberStatus::out_of_range) {
      throw_at_line(path_, line_no, column(begin, p),
                    "number " + quote_for_message({num, static_cast<std::size_t>(r.end - num)}) +
                        " is out of range for " + (sizeof(T) == 4 ? "float32" : "float64"));
    }
    if (!std::isfinite(out)) {
      throw_at_line(path_, line_no, column(begin, p),
                    "expected a finite number, found " +
                        quote_for_message({num, static_cast<std::size_t>(r.end - num)}));
    }
    return after != nullptr ? after : r.end;
  }

  const char* parse_label(const char* p, const char* end, const char* begin, std::size_t line_no) {
    std::string& label = labels_.emplace_back();
    const char* after = nullptr;
    if (p != end && *p == '"') {
      after = scan_quoted(path_, line_no, begin, p, end, &label);
      label = std::string(trim_pad(label, delim_));
    } else {
      const std::string_view text = field_text(p, end);
      after = p + text.size();
      label = std::string(trim_pad(text, delim_));
    }
    if (label.empty()) {
      throw_at_line(path_, line_no, column(begin, p), "expected a label, found an empty field");
    }
    return after;
  }

  const std::string& path_;
  char delim_;
  std::size_t n_fields_;
  std::size_t label_col_;
  std::size_t cols_ = 0;
  std::size_t rows_ = 0;
  std::size_t first_blank_ = 0;  // line of the first empty line seen, 0 if none
  std::vector<T> data_;
  std::vector<std::string> labels_;
};

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The label column as ReadOptions::label_column describes it, or kNoColumn.
std::size_t find_label_column(const std::string& path, const ReadOptions& options, bool header,
                              const std::vector<CsvField>& first) {
  const std::string& want = options.label_column;
  std::vector<std::size_t> hits;
  for (std::size_t i = 0; header && i < first.size(); ++i) {
    if (want.empty() ? iequals(first[i].text, "label") : first[i].text == want) hits.push_back(i);
  }
  if (hits.size() > 1) {
    throw_at_line(path, 1, first[hits[1]].column,
                  "the header names " + quote_for_message(first[hits[1]].text) + " twice (fields " +
                      std::to_string(hits[0]) + " and " + std::to_string(hits[1]) +
                      "); expected one label column");
  }
  if (hits.size() == 1) return hits[0];
  if (want.empty()) return kNoColumn;
  if (all_digits(want)) {
    const std::size_t index = want.size() > 9 ? SIZE_MAX : std::stoul(want);
    if (index >= first.size()) {
      throw_at_line(path, 1, 1,
                    "label column " + want + " does not exist; expected an index below " +
                        std::to_string(first.size()) + ", the number of fields in the first line");
    }
    return index;
  }
  throw_at_line(path, 1, 1,
                header ? "no header field is named " + quote_for_message(want) +
                             "; expected the label column's name or 0-based index"
                       : "label column " + quote_for_message(want) +
                             " is a name but the file has no header; expected a 0-based index");
}

// The rule of ReadOptions::header: the first line is a header when none of its fields is a
// number and the second line, if there is one, has a number in a column where the first line
// has text. A data line with a typo ("1,2.5x") is therefore a parse error, never a header, and
// string labels in every row ("cat,1,2") do not make the first row a header. Empty fields
// decide nothing: they are missing values, not names.
bool detect_header(const std::vector<CsvField>& first, const std::vector<CsvField>* second) {
  bool has_text = false;
  bool number_below_text = second == nullptr;
  for (std::size_t i = 0; i < first.size(); ++i) {
    if (first[i].text.empty()) continue;
    if (is_csv_number(first[i])) return false;
    has_text = true;
    if (second != nullptr && i < second->size() && !(*second)[i].text.empty() &&
        is_csv_number((*second)[i])) {
      number_below_text = true;
    }
  }
  return has_text && number_below_text;
}

}  // namespace

template <class T>
void read_csv(const std::string& path, const ReadOptions& options, bool labels_elsewhere,
              Dataset<T>& ds) {
  const char delim = options.delimiter != 0                      ? options.delimiter
                     : has_suffix(plain_file_name(path), ".tsv") ? '\t'
                                                                 : ',';
  if (delim == '"' || delim == '\n' || delim == '\r') {
    throw InvalidArgument(path + ": the CSV delimiter cannot be a quote or a line break");
  }
  ByteSource src(path);
  const std::size_t row_hint = src.compressed() ? 0 : count_lines(src);
  LineReader lines(src);
  std::string_view view;
  if (!lines.next(view)) {
    throw_at_line(path, 1, 1, "file is empty; expected a header or rows of numbers");
  }
  if (view.substr(0, 3) == "\xEF\xBB\xBF") view.remove_prefix(3);  // UTF-8 byte order mark
  const std::string first(view);
  const std::vector<CsvField> first_fields = split_csv_fields(path, 1, first, delim);
  if (trim_pad(first, delim).empty()) {
    throw_at_line(path, 1, 1, "expected a header or a row of numbers, found an empty line");
  }
  std::optional<std::string> second;
  std::vector<CsvField> second_fields;
  if (lines.next(view)) {
    second.emplace(view);
    if (!trim_pad(*second, delim).empty()) {
      second_fields = split_csv_fields(path, 2, *second, delim);
    }
  }
  bool header = options.header.value_or(false);
  if (!options.header.has_value()) {
    header = detect_header(first_fields, second_fields.empty() ? nullptr : &second_fields);
    // Naming the label column asserts a header, whatever the values look like.
    if (!header && !options.label_column.empty() && !all_digits(options.label_column)) {
      for (const CsvField& f : first_fields) header = header || f.text == options.label_column;
    }
  }
  if (labels_elsewhere && header) {
    for (const CsvField& f : first_fields) {
      if (iequals(f.text, "label")) {
        throw_at_line(path, 1, f.column,
                      "the header has a \"label\" column but labels come from " +
                          options.labels_path + "; expected one source of labels");
      }
    }
  }
  const std::size_t label_col =
      labels_elsewhere ? kNoColumn : find_label_column(path, options, header, first_fields);
  if (options.require_labels && label_col == kNoColumn && !labels_elsewhere) {
    throw_at_line(path, 1, 1,
                  "no label column; expected a header field named \"label\" or a label "
                  "column given by name or 0-based index (--label-column)");
  }
  const std::size_t cols = first_fields.size() - (label_col == kNoColumn ? 0 : 1);
  if (cols == 0) throw_at_line(path, 1, 1, "expected at least one feature column, found none");
  if (options.n_features != 0 && cols != options.n_features) {
    throw_at_line(path, 1, 1,
                  "expected " + std::to_string(options.n_features) +
                      " feature columns (n_features), found " + std::to_string(cols));
  }

  RowParser<T> rows(path, delim, first_fields.size(), label_col, row_hint);
  if (!header) rows.parse(first, 1);
  if (second) rows.parse(*second, 2);
  while (lines.next(view)) rows.parse(view, lines.line_number());
  if (rows.rows() == 0) {
    throw_at_line(path, lines.line_number() + 1, 1,
                  "expected at least one data row after the header, found the end of the file");
  }
  DenseMatrix<T> m;
  m.rows = rows.rows();
  m.cols = cols;
  m.data = std::move(rows.data());
  // Growth by doubling can leave up to half the capacity unused when the size was unknown.
  if (m.data.capacity() > m.data.size() + m.data.size() / 8) m.data.shrink_to_fit();
  ds.features = std::move(m);
  ds.labels = std::move(rows.labels());
}

template void read_csv<float>(const std::string&, const ReadOptions&, bool, Dataset<float>&);
template void read_csv<double>(const std::string&, const ReadOptions&, bool, Dataset<double>&);

}  // namespace softreg::detail
