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
#include "io/text_number.hpp"
#include "softreg/error.hpp"

namespace softreg::detail {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

// indices are int32, so 1-based indices go up to 2^31.
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

/// The feature index of "index:value" at p, 1-based, above prev and within limit; p moves to
/// the value.
std::uint64_t read_index(const SvmLine& l, const char*& p, std::uint64_t prev, std::uint64_t limit,
                         std::uint64_t n_features) {
  const char* const tok = p;
  std::uint64_t index = 0;
  const auto [ip, iec] = std::from_chars(p, l.end, index);
  if (iec == std::errc::invalid_argument || ip == l.end || *ip != ':') {
    l.fail(tok, "expected index:value, found " + quote_for_message(l.token(tok)));
  }
  if (index == 0) l.fail(tok, "expected a feature index >= 1 (indices are 1-based), found 0");
  if (iec == std::errc::result_out_of_range || index > limit) {
    l.fail(tok, "feature index " + std::string(p, ip) + " exceeds " +
                    (n_features != 0 ? "n_features = " + std::to_string(n_features)
                                     : "the largest supported index " + std::to_string(kMaxIndex)));
  }
  if (index <= prev) {
    l.fail(tok, "expected feature indices in strictly increasing order, found " +
                    std::to_string(index) + " after " + std::to_string(prev));
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
/// largest index (0 for none).
template <class T>
std::uint64_t read_pairs(const SvmLine& l, const char* p, std::uint64_t limit,
                         std::uint64_t n_features, CsrMatrix<T>& m) {
  std::uint64_t prev = 0;
  for (bool first = true;; first = false) {
    p = l.skip_spaces(p);
    if (p == l.end) break;
    if (first && l.end - p >= 4 && std::memcmp(p, "qid:", 4) == 0) {
      p = skip_qid(l, p);
      continue;
    }
    const std::uint64_t index = read_index(l, p, prev, limit, n_features);
    m.values.push_back(read_value<T>(l, p, index));
    m.indices.push_back(static_cast<std::int32_t>(index - 1));
    prev = index;
  }
  m.indptr.push_back(static_cast<std::int64_t>(m.values.size()));
  return prev;
}

}  // namespace

template <class T>
void read_libsvm(const std::string& path, const ReadOptions& options, Dataset<T>& ds) {
  ByteSource src(path);
  LineReader lines(src);
  CsrMatrix<T> m;
  std::vector<std::string> labels;
  const std::uint64_t limit = options.n_features != 0 ? options.n_features : kMaxIndex;
  std::uint64_t max_index = 0;
  std::string_view line;
  while (lines.next(line)) {
    const auto* hash = static_cast<const char*>(std::memchr(line.data(), '#', line.size()));
    const SvmLine l{path, lines.line_number(), line.data(),
                    hash != nullptr ? hash : line.data() + line.size()};
    const char* p = l.skip_spaces(l.begin);
    if (p == l.end) continue;  // empty or comment-only line
    labels.emplace_back(read_label(l, p));
    max_index = std::max(max_index, read_pairs(l, p, limit, options.n_features, m));
  }
  if (src.offset() == 0) {
    throw_at_line(path, 1, 1, "file is empty; expected lines of \"label index:value ...\"");
  }
  if (labels.empty()) {
    throw_at_line(path, lines.line_number() + 1, 1,
                  "expected at least one data line, found only comments and empty lines");
  }
  shrink_if_slack(m.indptr);
  shrink_if_slack(m.indices);
  shrink_if_slack(m.values);
  m.rows = labels.size();
  m.cols = static_cast<std::size_t>(options.n_features != 0 ? options.n_features : max_index);
  ds.features = std::move(m);
  ds.labels = std::move(labels);
}

template void read_libsvm<float>(const std::string&, const ReadOptions&, Dataset<float>&);
template void read_libsvm<double>(const std::string&, const ReadOptions&, Dataset<double>&);

}  // namespace softreg::detail
