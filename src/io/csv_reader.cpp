// CSV / TSV: header detection, the label column, quoted fields, and a fast numeric row parser.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/byte_source.hpp"
#include "io/csv_fields.hpp"
#include "io/line_reader.hpp"
#include "io/readers.hpp"
#include "io/text_check.hpp"
#include "io/text_number.hpp"
#include "softreg/error.hpp"

namespace softreg::detail {
namespace {

constexpr std::size_t kNoColumn = SIZE_MAX;

/// What a column that is not a feature holds. index is a nameless first column holding the row
/// numbers 0..n-1, as pandas' DataFrame.to_csv writes its default index.
enum class Role : unsigned char { label, id, weight, index };
/// The roles as messages name them.
const char* role_name(Role r) {
  switch (r) {
    case Role::label:
      return "label";
    case Role::id:
      return "id";
    case Role::weight:
      return "weight";
    case Role::index:
      return "index";
  }
  return "";
}

struct Special {
  std::size_t col;
  Role role;
};

// Parses data rows straight into the final row-major storage: no per-field strings, no per-row
// vectors. Only the fields of the special columns (label, id, weight, index) are looked at as
// text.
template <class T>
class RowParser {
 public:
  /// specials: the non-feature columns, sorted by column.
  RowParser(const std::string& path, char delim, std::size_t n_fields,
            std::vector<Special> specials, std::size_t row_hint)
      : path_(path), delim_(delim), n_fields_(n_fields), specials_(std::move(specials)) {
    cols_ = n_fields - specials_.size();
    data_.reserve(row_hint * cols_);
    for (const Special& s : specials_) {
      if (s.role == Role::label) labels_.reserve(row_hint);
      if (s.role == Role::id) ids_.reserve(row_hint);
      if (s.role == Role::weight) weights_.reserve(row_hint);
    }
    specials_.push_back({kNoColumn, Role::label});  // the sentinel the row loops stop at
  }

  void parse(std::string_view line, std::size_t line_no) {
    const char* const begin = line.data();
    const char* const end = begin + line.size();
    const std::size_t base = data_.size();
    data_.resize(base + cols_);
    T* const out = data_.data() + base;
    std::string_view texts[kMaxSpecial];
    if (first_blank_ == 0 && parse_plain_row(begin, end, out, texts)) {
      for (std::size_t i = 0; i + 1 < specials_.size(); ++i) {
        take(specials_[i].role, texts[i], column(begin, texts[i].data()), line_no);
      }
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
  std::vector<std::string>& ids() { return ids_; }
  std::vector<double>& weights() { return weights_; }

  /// Line 1's column of the nameless index column, for the message when a row breaks it.
  std::size_t index_header_column = 1;
  /// Reading a shard: the index column's row numbers start at the shard's first row's.
  bool sharded = false;
  mutable double first_row_number = 0.0;
  std::size_t row_step = 1;  // a round-robin shard of N holds every N-th row

 private:
  static constexpr std::size_t kMaxSpecial = 4;

  static std::size_t column(const char* begin, const char* p) {
    return static_cast<std::size_t>(p - begin) + 1;
  }

  std::string_view field_text(const char* p, const char* end) const {
    const void* d = std::memchr(p, delim_, static_cast<std::size_t>(end - p));
    return {p, static_cast<std::size_t>((d ? static_cast<const char*>(d) : end) - p)};
  }

  bool is_special(std::size_t f) const {
    for (const Special& s : specials_) {
      if (s.col == f) return true;
    }
    return false;
  }

  // The common row: unpadded, unquoted short decimals and plain special fields. Kept small so
  // its loop stays in registers; measured 30% faster than the general loop on MNIST-like CSV.
  // Returns false for anything else, and the general loop parses the row again from the start.
  // The special fields' texts go to `texts`, in column order, to be taken once the row is
  // known to be plain.
  bool parse_plain_row(const char* p, const char* end, T* out, std::string_view* texts) const {
    const char delim = delim_;
    const Special* next = specials_.data();
    for (std::size_t f = 0; f < n_fields_; ++f) {
      if (f == next->col) {
        const auto* d =
            static_cast<const char*>(std::memchr(p, delim, static_cast<std::size_t>(end - p)));
        if (d == nullptr) d = end;
        if (d == p || *p == '"' || *p == ' ' || *p == '\t' || d[-1] == ' ' || d[-1] == '\t') {
          return false;
        }
        *texts++ = std::string_view(p, static_cast<std::size_t>(d - p));
        ++next;
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
    const Special* next = specials_.data();
    for (std::size_t f = 0; f < n_fields_; ++f) {
      while (p != end && pad(*p)) ++p;
      const char* const field = p;
      if (f == next->col) {
        p = parse_text(p, end, begin, line_no);
        take(next->role, scratch_, column(begin, field), line_no);
        ++next;
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
    check_field_count(begin, end, line_no);
    throw_at_line(path_, line_no, column(begin, field),
                  std::string(is_special(f) ? "expected a field" : "expected a number") +
                      ", found " + quote_for_message(field_text(field, end)));
  }

  // A field that is not a number in a row of the wrong length: the length is what is wrong (a
  // short row puts its label where a number belongs), and a line that is no record at all
  // ("<!DOCTYPE html>") is named for what it is.
  [[gnu::noinline, gnu::cold]] void check_field_count(const char* begin, const char* end,
                                                      std::size_t line_no) const {
    const std::vector<CsvField> fields =
        split_csv_fields(path_, line_no, {begin, static_cast<std::size_t>(end - begin)}, delim_);
    if (fields.size() < n_fields_) fail_field_count(begin, end, line_no, fields.size());
    if (fields.size() > n_fields_) {
      throw_at_line(path_, line_no, fields[n_fields_].column,
                    "expected " + std::to_string(n_fields_) + " fields, found " +
                        std::to_string(fields.size()));
    }
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
      check_field_count(begin, end, line_no);
      throw_at_line(path_, line_no, column(begin, p), "expected a number, found an empty field");
    }
    const NumberResult r = parse_number(num, num_end, out);
    if (r.status == NumberStatus::not_a_number || (after != nullptr && r.end != num_end)) {
      check_field_count(begin, end, line_no);
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

  // A special column's field into scratch_: without padding, quotes and "" escapes.
  const char* parse_text(const char* p, const char* end, const char* begin, std::size_t line_no) {
    scratch_.clear();
    if (p != end && *p == '"') {
      const char* after = scan_quoted(path_, line_no, begin, p, end, &scratch_);
      scratch_ = std::string(trim_pad(scratch_, delim_));
      return after;
    }
    const std::string_view text = field_text(p, end);
    scratch_.assign(trim_pad(text, delim_));
    return p + text.size();
  }

  // A special field's text, at `col` of line `line_no`, to where its role keeps it.
  void take(Role role, std::string_view text, std::size_t col, std::size_t line_no) {
    switch (role) {
      case Role::label:
        if (text.empty()) {
          throw_at_line(path_, line_no, col, "expected a label, found an empty field");
        }
        check_text(path_, line_no, col, text, "a label");
        labels_.emplace_back(text);
        break;
      case Role::id:
        check_text(path_, line_no, col, text, "an id");
        ids_.emplace_back(text);
        break;
      case Role::weight:
        weights_.push_back(weight(text, col, line_no));
        break;
      case Role::index:
        check_row_number(text, line_no);
        break;
    }
  }

  double weight(std::string_view text, std::size_t col, std::size_t line_no) const {
    double w = 0.0;
    const char* const b = text.data();
    const char* const e = b + text.size();
    const NumberResult r =
        text.empty() ? NumberResult{b, NumberStatus::not_a_number} : parse_number(b, e, w);
    if (r.status != NumberStatus::ok || r.end != e || !std::isfinite(w) || !(w >= 0.0)) {
      throw_at_line(path_, line_no, col,
                    "expected a sample weight (a finite number >= 0), found " +
                        (text.empty() ? std::string("an empty field") : quote_for_message(text)));
    }
    return w;
  }

  // The nameless first column is skipped only while it holds the row numbers.
  void check_row_number(std::string_view text, std::size_t line_no) const {
    double v = -1.0;
    const char* const b = text.data();
    const char* const e = b + text.size();
    const bool number = !text.empty() && parse_number(b, e, v).end == e;
    // A shard's rows start where the shard does: its first row number is taken as given.
    if (number && rows_ == 0 && sharded && v >= 0.0 && v == std::floor(v)) first_row_number = v;
    const double expected = first_row_number + static_cast<double>(rows_ * row_step);
    if (!number || v != expected) {
      throw_at_line(path_, 1, index_header_column,
                    "the first column has no name; expected a header name (a nameless first "
                    "column is skipped only when it holds the row numbers 0, 1, 2, ... as "
                    "pandas writes its index), but line " +
                        std::to_string(line_no) + " holds " + quote_for_message(text) +
                        " where row number " + std::to_string(static_cast<std::size_t>(expected)) +
                        " was expected");
    }
  }

  const std::string& path_;
  char delim_;
  std::size_t n_fields_;
  std::vector<Special> specials_;
  std::size_t cols_ = 0;
  std::size_t rows_ = 0;
  std::size_t first_blank_ = 0;  // line of the first empty line seen, 0 if none
  std::vector<T> data_;
  std::vector<std::string> labels_;
  std::vector<std::string> ids_;
  std::vector<double> weights_;
  std::string scratch_;
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

// The column `want` names (ReadOptions::label_column, id_column or weight_column), or
// kNoColumn. An empty `want` finds the label column by its default name "label", any case.
std::size_t find_column(const std::string& path, const std::string& want, Role role, bool header,
                        const std::vector<CsvField>& first) {
  const std::string what = role_name(role);
  std::vector<std::size_t> hits;
  for (std::size_t i = 0; header && i < first.size(); ++i) {
    if (want.empty() ? iequals(first[i].text, "label") : first[i].text == want) hits.push_back(i);
  }
  if (hits.size() > 1) {
    throw_at_line(path, 1, first[hits[1]].column,
                  "the header names " + quote_for_message(first[hits[1]].text) + " twice (fields " +
                      std::to_string(hits[0]) + " and " + std::to_string(hits[1]) +
                      "); expected one " + what + " column");
  }
  if (hits.size() == 1) return hits[0];
  if (want.empty()) return kNoColumn;
  if (all_digits(want)) {
    const std::size_t index = want.size() > 9 ? SIZE_MAX : std::stoul(want);
    if (index >= first.size()) {
      throw_at_line(path, 1, 1,
                    what + " column " + want + " does not exist; expected an index below " +
                        std::to_string(first.size()) + ", the number of fields in the first line");
    }
    return index;
  }
  throw_at_line(path, 1, 1,
                header ? "no header field is named " + quote_for_message(want) + "; expected the " +
                             what + " column's name or 0-based index"
                       : what + " column " + quote_for_message(want) +
                             " is a name but the file has no header; expected a 0-based index");
}

// The header's names of the feature columns (every column not in `specials`), checked: each
// must be non-empty and distinct, since a model matches columns by these names.
std::vector<std::string> feature_names(const std::string& path, const std::vector<CsvField>& first,
                                       const std::vector<Special>& specials) {
  std::vector<std::string> names;
  std::unordered_map<std::string_view, std::size_t> field_of;  // a name's field, for repeats
  for (std::size_t i = 0; i < first.size(); ++i) {
    bool special = false;
    for (const Special& s : specials) special = special || s.col == i;
    if (special) continue;
    if (first[i].text.empty()) {
      throw_at_line(path, 1, first[i].column,
                    "header field " + std::to_string(i) +
                        " is empty (\"\"); expected a name for every feature column");
    }
    const auto [seen, fresh] = field_of.emplace(first[i].text, i);
    if (!fresh) {
      throw_at_line(path, 1, first[i].column,
                    "the header names " + quote_for_message(first[i].text) + " twice (fields " +
                        std::to_string(seen->second) + " and " + std::to_string(i) +
                        "); expected distinct feature names, so that columns can be matched "
                        "by name");
    }
    names.push_back(first[i].text);
  }
  return names;
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
void read_csv(const std::string& file, const ReadOptions& options, bool labels_elsewhere,
              Dataset<T>& ds) {
  const std::string path = source_name(file);
  const char delim = options.delimiter != 0                      ? options.delimiter
                     : has_suffix(plain_file_name(file), ".tsv") ? '\t'
                                                                 : ',';
  if (delim == '"' || delim == '\n' || delim == '\r') {
    throw InvalidArgument(path + ": the CSV delimiter cannot be a quote or a line break");
  }
  if (options.shard_count > 1 && file == "-") {
    throw InvalidArgument(path + ": a shard is read from a file; expected a file name, not -");
  }
  const bool sharded = options.shard_count > 1;
  ByteSource src(file);
  // Counting first needs a second pass: only for plain regular files, not gzip or pipes.
  const std::size_t row_hint =
      sharded || src.compressed() || !src.seekable() ? 0 : count_lines(src);
  LineReader lines(src);
  std::string_view view;
  if (!lines.next(view)) {
    throw_at_line(path, 1, 1, "file is empty; expected a header or rows of numbers");
  }
  view = first_line_text(path, view);  // without a UTF-8 byte-order mark
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
    // Naming a column asserts a header, whatever the values look like.
    for (const std::string* want :
         {&options.label_column, &options.id_column, &options.weight_column}) {
      if (header || want->empty() || all_digits(*want)) continue;
      for (const CsvField& f : first_fields) header = header || f.text == *want;
    }
  }
  if (header) {
    for (const CsvField& f : first_fields) check_text(path, 1, f.column, f.text, "a header name");
  }
  std::vector<Special> specials;
  if (!options.id_column.empty()) {
    specials.push_back(
        {find_column(path, options.id_column, Role::id, header, first_fields), Role::id});
  }
  if (!options.weight_column.empty()) {
    specials.push_back(
        {find_column(path, options.weight_column, Role::weight, header, first_fields),
         Role::weight});
  }
  if (labels_elsewhere && header) {
    for (std::size_t i = 0; i < first_fields.size(); ++i) {
      const CsvField& f = first_fields[i];
      bool taken = false;
      for (const Special& s : specials) taken = taken || s.col == i;
      if (!taken && iequals(f.text, "label")) {
        throw_at_line(path, 1, f.column,
                      "the header has a \"label\" column but labels come from " +
                          options.labels_path + "; expected one source of labels");
      }
    }
  }
  const std::size_t label_col =
      labels_elsewhere ? kNoColumn
                       : find_column(path, options.label_column, Role::label, header, first_fields);
  if (options.require_labels && label_col == kNoColumn && !labels_elsewhere) {
    throw_at_line(path, 1, 1,
                  "no label column; expected a header field named \"label\" or a label "
                  "column given by name or 0-based index (--label-column)");
  }
  if (label_col != kNoColumn) specials.push_back({label_col, Role::label});
  for (std::size_t i = 0; i < specials.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (specials[i].col != specials[j].col) continue;
      const std::size_t c = specials[i].col;
      throw InvalidArgument(path + ": column " + std::to_string(c) +
                            (header ? " (" + quote_for_message(first_fields[c].text) + ")" : "") +
                            " is given as both the " + role_name(specials[j].role) +
                            " column and the " + role_name(specials[i].role) +
                            " column; expected different columns");
    }
  }
  // pandas' DataFrame.to_csv writes its index as a first column without a name.
  bool index_col = false;
  if (header && first_fields[0].text.empty()) {
    bool taken = false;
    for (const Special& s : specials) taken = taken || s.col == 0;
    if (!taken) {
      specials.push_back({0, Role::index});
      index_col = true;
    }
  }
  std::sort(specials.begin(), specials.end(),
            [](const Special& x, const Special& y) { return x.col < y.col; });
  if (header) ds.feature_names = feature_names(path, first_fields, specials);
  if (!options.id_column.empty() && header) {
    for (const Special& s : specials) {
      if (s.role == Role::id) ds.id_name = first_fields[s.col].text;
    }
  }
  const std::size_t cols = first_fields.size() - specials.size();
  if (cols == 0) throw_at_line(path, 1, 1, "expected at least one feature column, found none");
  if (options.n_features != 0 && cols != options.n_features) {
    throw_at_line(path, 1, 1,
                  "expected " + std::to_string(options.n_features) +
                      " feature columns (n_features), found " + std::to_string(cols));
  }

  RowParser<T> rows(path, delim, first_fields.size(), specials, row_hint);
  rows.index_header_column = first_fields[0].column;
  rows.sharded = sharded;
  if (sharded && (src.compressed() || !src.seekable())) rows.row_step = options.shard_count;
  if (sharded) {
    // This shard's lines, the header and the first two lines already looked at: line 1 is
    // the shard's that starts at offset 0.
    ByteSource shard_src(file);
    LineReader shard(shard_src, options.shard_index, options.shard_count);
    try {
      while (shard.next(view)) {
        if (shard.line_offset() == 0) {
          if (header) continue;
          view = first_line_text(path, view);
        }
        rows.parse(view, shard.line_number());
      }
    } catch (const ParseError& e) {
      throw shard.with_file_line(e);
    }
  } else {
    if (!header) rows.parse(first, 1);
    if (second) rows.parse(*second, 2);
    while (lines.next(view)) rows.parse(view, lines.line_number());
  }
  if (rows.rows() == 0 && !sharded) {
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
  ds.ids = std::move(rows.ids());
  ds.sample_weight = std::move(rows.weights());
  if (index_col && rows.rows() > 0) {
    const auto first_row = static_cast<std::size_t>(rows.first_row_number);
    ds.notices.push_back(
        "the first column has no name and holds the row numbers " + std::to_string(first_row) +
        ".." + std::to_string(first_row + (rows.rows() - 1) * rows.row_step) +
        (rows.row_step > 1 ? " in steps of " + std::to_string(rows.row_step) : std::string()) +
        " (a pandas index); skipped");
  }
}

template void read_csv<float>(const std::string&, const ReadOptions&, bool, Dataset<float>&);
template void read_csv<double>(const std::string&, const ReadOptions&, bool, Dataset<double>&);

}  // namespace softreg::detail
