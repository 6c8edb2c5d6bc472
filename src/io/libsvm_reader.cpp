// LibSVM / SVMlight: "label [qid:N] index:value ..." lines read into a CsrMatrix, never densified.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "io/byte_source.hpp"
#include "io/line_reader.hpp"
#include "io/readers.hpp"
#include "io/text_check.hpp"
#include "io/text_number.hpp"
#include "softreg/error.hpp"

namespace softreg::detail {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

// Columns are int32: 1-based indices go up to 2^31, 0-based ones to 2^31 - 1.
constexpr std::uint64_t kMaxIndex = std::uint64_t{1} << 31;

template <class V>
void shrink_if_slack(std::vector<V>& v) {
  if (v.capacity() > v.size() + v.size() / 8) v.shrink_to_fit();
}

/// One data line being parsed: its text up to a '#', and where its errors point.
struct SvmLine {
  const std::string& path;
  std::size_t line_no;
  const char* begin;
  const char* end;

  std::size_t col(const char* at) const { return static_cast<std::size_t>(at - begin) + 1; }
  std::string_view token(const char* at) const {
    const char* e = at;
    while (e != end && !is_space(*e)) ++e;
    return std::string_view(at, static_cast<std::size_t>(e - at));
  }
  const char* skip_spaces(const char* p) const {
    while (p != end && is_space(*p)) ++p;
    return p;
  }
  [[noreturn]] void fail(const char* at, const std::string& what) const {
    throw_at_line(path, line_no, col(at), what);
  }
};

/// The label at p ("+1" read as "1", as every LibSVM tool does); p moves past it.
std::string_view read_label(const SvmLine& l, const char*& p) {
  std::string_view label = l.token(p);
  if (label.find(':') != std::string_view::npos) {
    l.fail(p, "expected a label before the index:value pairs, found " + quote_for_message(label));
  }
  // A comma is how a CSV row, or a multilabel line ("1,3 2:0.5"), starts: neither is one class.
  if (label.find(',') != std::string_view::npos) {
    l.fail(p, "expected a label, found " + quote_for_message(label) +
                  " (a comma: is this a CSV file? multilabel LibSVM lines are not supported)");
  }
  check_text(l.path, l.line_no, l.col(p), label, "a label");
  p += label.size();
  if (label.size() > 1 && label[0] == '+') label.remove_prefix(1);
  return label;
}

/// "qid:<integer>" at p, skipped; returns the position after it.
const char* skip_qid(const SvmLine& l, const char* p) {
  std::uint64_t qid = 0;
  const auto [q, ec] = std::from_chars(p + 4, l.end, qid);
  if (ec != std::errc{} || (q != l.end && !is_space(*q))) {
    l.fail(p, "expected qid:<integer>, found " + quote_for_message(l.token(p)));
  }
  return q;
}

/// What the index checks need across lines. Indices are stored as index - 1 whatever the
/// numbering, so that an automatic file is read in one pass: once the whole file has shown
/// whether an index 0 occurs, a 0-based file shifts every stored index up by one (an index 0
/// is stored as -1 until then).
struct IndexRules {
  IndexBase base;       // as asked: automatic, zero or one
  std::uint64_t limit;  // the largest index a 1-based file may use
  std::uint64_t n_features;
  bool saw_zero = false;
  // The first index equal to `limit`: beyond the width if the file turns out 0-based.
  std::size_t at_limit_line = 0;
  std::size_t at_limit_col = 0;
};

/// The feature index of "index:value" at p as written, above prev (-1 before the first) and
/// within the limits; p moves to the value.
std::uint64_t read_index(const SvmLine& l, const char*& p, std::int64_t prev, IndexRules& r) {
  const char* const tok = p;
  std::uint64_t index = 0;
  const auto [ip, iec] = std::from_chars(p, l.end, index);
  if (iec == std::errc::invalid_argument || ip == l.end || *ip != ':') {
    l.fail(tok, "expected index:value, found " + quote_for_message(l.token(tok)));
  }
  if (index == 0) {
    if (r.base == IndexBase::one) {
      l.fail(tok, "expected a feature index >= 1 (indices are 1-based), found 0");
    }
    r.saw_zero = true;
  }
  // A 0-based file's width ends one index earlier: limit - 1 is its largest index.
  const std::uint64_t limit = r.base == IndexBase::zero ? r.limit - 1 : r.limit;
  if (iec == std::errc::result_out_of_range || index > limit) {
    const bool zero = r.base == IndexBase::zero;
    l.fail(
        tok,
        "feature index " + std::string(p, ip) + " exceeds " +
            (r.n_features != 0
                 ? "n_features = " + std::to_string(r.n_features) +
                       (zero ? " (indices are 0-based: at most " + std::to_string(limit) + ")" : "")
                 : "the largest supported index " + std::to_string(limit)));
  }
  if (static_cast<std::int64_t>(index) <= prev) {
    l.fail(tok, "expected feature indices in strictly increasing order, found " +
                    std::to_string(index) + " after " + std::to_string(prev));
  }
  if (index == r.limit && r.base == IndexBase::automatic && r.at_limit_line == 0) {
    r.at_limit_line = l.line_no;
    r.at_limit_col = l.col(tok);
  }
  p = ip + 1;
  return index;
}

/// The finite value at p after "index:"; p moves past it.
template <class T>
T read_value(const SvmLine& l, const char*& p, std::uint64_t index) {
  T value{};
  const NumberResult r = parse_number(p, l.end, value);
  if (r.status == NumberStatus::not_a_number || (r.end != l.end && !is_space(*r.end))) {
    l.fail(p, "expected a number after \"" + std::to_string(index) + ":\", found " +
                  quote_for_message(l.token(p)));
  }
  if (r.status == NumberStatus::out_of_range || !std::isfinite(value)) {
    l.fail(p, "expected a finite " + std::string(sizeof(T) == 4 ? "float32" : "float64") +
                  " value, found " + quote_for_message(l.token(p)));
  }
  p = r.end;
  return value;
}

/// The pairs of one line after its label into m (an optional qid first); returns the line's
/// largest index as written (-1 for none).
template <class T>
std::int64_t read_pairs(const SvmLine& l, const char* p, IndexRules& rules, CsrMatrix<T>& m) {
  std::int64_t prev = -1;
  for (bool first = true;; first = false) {
    p = l.skip_spaces(p);
    if (p == l.end) break;
    if (first && l.end - p >= 4 && std::memcmp(p, "qid:", 4) == 0) {
      p = skip_qid(l, p);
      continue;
    }
    const std::uint64_t index = read_index(l, p, prev, rules);
    m.values.push_back(read_value<T>(l, p, index));
    m.indices.push_back(static_cast<std::int32_t>(static_cast<std::int64_t>(index) - 1));
    prev = static_cast<std::int64_t>(index);
  }
  m.indptr.push_back(static_cast<std::int64_t>(m.values.size()));
  return prev;
}

}  // namespace

template <class T>
void read_libsvm_lines(ByteSource& src, LineReader& lines, const ReadOptions& options,
                       Dataset<T>& ds);

template <class T>
void read_libsvm(const std::string& file, const ReadOptions& options, Dataset<T>& ds) {
  if (options.shard_count > 1 && file == "-") {
    throw InvalidArgument(
        "standard input: a shard is read from a file; expected a file name, "
        "not -");
  }
  ByteSource src(file);
  LineReader lines(src, options.shard_index, options.shard_count);
  try {
    read_libsvm_lines(src, lines, options, ds);
  } catch (const ParseError& e) {
    throw lines.with_file_line(e);
  }
}

template <class T>
void read_libsvm_lines(ByteSource& src, LineReader& lines, const ReadOptions& options,
                       Dataset<T>& ds) {
  const bool sharded = options.shard_count > 1;
  const std::string& path = src.path();
  CsrMatrix<T> m;
  std::vector<std::string> labels;
  IndexRules rules{options.index_base,
                   options.n_features != 0 ? std::uint64_t{options.n_features} : kMaxIndex,
                   std::uint64_t{options.n_features}};
  std::int64_t max_index = -1;
  std::string_view line;
  while (lines.next(line)) {
    if (lines.line_offset() == 0) line = first_line_text(path, line);
    const auto* hash = static_cast<const char*>(std::memchr(line.data(), '#', line.size()));
    const SvmLine l{path, lines.line_number(), line.data(),
                    hash != nullptr ? hash : line.data() + line.size()};
    const char* p = l.skip_spaces(l.begin);
    if (p == l.end) continue;  // empty or comment-only line
    labels.emplace_back(read_label(l, p));
    max_index = std::max(max_index, read_pairs(l, p, rules, m));
  }
  if (src.offset() == 0 && !sharded) {
    throw_at_line(path, 1, 1, "file is empty; expected lines of \"label index:value ...\"");
  }
  if (labels.empty() && !sharded) {
    throw_at_line(path, lines.line_number() + 1, 1,
                  "expected at least one data line, found only comments and empty lines");
  }
  // scikit-learn's zero_based="auto": an index 0 anywhere makes the whole file 0-based.
  const bool zero = options.index_base == IndexBase::zero ||
                    (options.index_base == IndexBase::automatic && rules.saw_zero);
  if (zero && rules.at_limit_line != 0) {
    throw_at_line(path, rules.at_limit_line, rules.at_limit_col,
                  "feature index " + std::to_string(rules.limit) + " exceeds " +
                      (options.n_features != 0
                           ? "n_features = " + std::to_string(options.n_features)
                           : "the largest supported index " + std::to_string(rules.limit - 1)) +
                      " (the file has an index 0, so its indices are 0-based: at most " +
                      std::to_string(rules.limit - 1) + ")");
  }
  if (zero) {
    for (std::int32_t& j : m.indices) ++j;
  }
  shrink_if_slack(m.indptr);
  shrink_if_slack(m.indices);
  shrink_if_slack(m.values);
  m.rows = labels.size();
  // The width: the largest index + 1 for a 0-based file, the largest index for a 1-based one.
  const std::size_t width =
      max_index < 0 ? 0 : static_cast<std::size_t>(max_index) + (zero ? 1 : 0);
  m.cols = options.n_features != 0 ? options.n_features : width;
  ds.features = std::move(m);
  ds.index_base = zero ? IndexBase::zero : IndexBase::one;
  ds.labels = std::move(labels);
}

template void read_libsvm<float>(const std::string&, const ReadOptions&, Dataset<float>&);
template void read_libsvm<double>(const std::string&, const ReadOptions&, Dataset<double>&);

}  // namespace softreg::detail
