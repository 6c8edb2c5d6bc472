// LibSVM / SVMlight: "label [qid:N] index:value ..." lines read into a CsrMatrix, never densified.
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
    const std::size_t line_no = lines.line_number();
    const char* const begin = line.data();
    const auto* hash = static_cast<const char*>(std::memchr(begin, '#', line.size()));
    const char* const end = hash != nullptr ? hash : begin + line.size();
    const auto col = [begin](const char* at) { return static_cast<std::size_t>(at - begin) + 1; };
    const auto token = [end](const char* at) {
      const char* e = at;
      while (e != end && !is_space(*e)) ++e;
      return std::string_view(at, static_cast<std::size_t>(e - at));
    };
    const char* p = begin;
    while (p != end && is_space(*p)) ++p;
    if (p == end) continue;  // empty or comment-only line

    std::string_view label = token(p);
    if (label.find(':') != std::string_view::npos) {
      throw_at_line(
          path, line_no, col(p),
          "expected a label before the index:value pairs, found " + quote_for_message(label));
    }
    p += label.size();
    // "+1" and "1" are the same class in every LibSVM tool; other spellings stay as written.
    if (label.size() > 1 && label[0] == '+') label.remove_prefix(1);
    labels.emplace_back(label);

    std::uint64_t prev = 0;
    bool first_pair = true;
    for (;;) {
      while (p != end && is_space(*p)) ++p;
      if (p == end) break;
      const char* const tok = p;
      if (first_pair && end - p >= 4 && std::memcmp(p, "qid:", 4) == 0) {
        std::uint64_t qid = 0;
        const auto [q, ec] = std::from_chars(p + 4, end, qid);
        if (ec != std::errc{} || (q != end && !is_space(*q))) {
          throw_at_line(path, line_no, col(tok),
                        "expected qid:<integer>, found " + quote_for_message(token(tok)));
        }
        p = q;
        first_pair = false;
        continue;
      }
      first_pair = false;
      std::uint64_t index = 0;
      const auto [ip, iec] = std::from_chars(p, end, index);
      if (iec == std::errc::invalid_argument || ip == end || *ip != ':') {
        throw_at_line(path, line_no, col(tok),
                      "expected index:value, found " + quote_for_message(token(tok)));
      }
      if (index == 0) {
        throw_at_line(path, line_no, col(tok),
                      "expected a feature index >= 1 (indices are 1-based), found 0");
      }
      if (iec == std::errc::result_out_of_range || index > limit) {
        throw_at_line(path, line_no, col(tok),
                      "feature index " + std::string(p, ip) + " exceeds " +
                          (options.n_features != 0
                               ? "n_features = " + std::to_string(options.n_features)
                               : "the largest supported index " + std::to_string(kMaxIndex)));
      }
      if (index <= prev) {
        throw_at_line(path, line_no, col(tok),
                      "expected feature indices in strictly increasing order, found " +
                          std::to_string(index) + " after " + std::to_string(prev));
      }
      p = ip + 1;
      T value{};
      const NumberResult r = parse_number(p, end, value);
      if (r.status == NumberStatus::not_a_number || (r.end != end && !is_space(*r.end))) {
        throw_at_line(path, line_no, col(p),
                      "expected a number after \"" + std::to_string(index) + ":\", found " +
                          quote_for_message(token(p)));
      }
      if (r.status == NumberStatus::out_of_range || !std::isfinite(value)) {
        throw_at_line(path, line_no, col(p),
                      "expected a finite " + std::string(sizeof(T) == 4 ? "float32" : "float64") +
                          " value, found " + quote_for_message(token(p)));
      }
      p = r.end;
      m.indices.push_back(static_cast<std::int32_t>(index - 1));
      m.values.push_back(value);
      prev = index;
    }
    m.indptr.push_back(static_cast<std::int64_t>(m.values.size()));
    if (prev > max_index) max_index = prev;
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
