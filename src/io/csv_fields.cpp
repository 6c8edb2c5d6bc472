// CSV field splitting, quote handling and the is-it-a-number test behind header detection.
#include "io/csv_fields.hpp"

#include <cstring>

#include "io/byte_source.hpp"
#include "io/text_number.hpp"

namespace softreg::detail {

std::string_view trim_pad(std::string_view text, char delim) {
  const CsvPad pad{delim};
  while (!text.empty() && pad(text.front())) text.remove_prefix(1);
  while (!text.empty() && pad(text.back())) text.remove_suffix(1);
  return text;
}

std::string delim_name(char delim) {
  if (delim == '\t') return "a tab";
  return std::string("'") + delim + "'";
}

const char* scan_quoted(const std::string& path, std::size_t line_no, const char* begin,
                        const char* p, const char* end, std::string* out) {
  const char* const open = p++;
  for (;;) {
    const auto* q =
        static_cast<const char*>(std::memchr(p, '"', static_cast<std::size_t>(end - p)));
    if (q == nullptr) {
      throw_at_line(path, line_no, static_cast<std::size_t>(open - begin) + 1,
                    "unterminated quoted field; expected a closing '\"' on the same line "
                    "(quoted fields cannot span lines)");
    }
    if (out != nullptr) out->append(p, q);
    if (q + 1 != end && q[1] == '"') {
      if (out != nullptr) out->push_back('"');
      p = q + 2;
      continue;
    }
    return q + 1;
  }
}

std::vector<CsvField> split_csv_fields(const std::string& path, std::size_t line_no,
                                       std::string_view line, char delim) {
  const CsvPad pad{delim};
  const char* const begin = line.data();
  const char* const end = begin + line.size();
  const char* p = begin;
  std::vector<CsvField> fields;
  for (;;) {
    while (p != end && pad(*p)) ++p;
    CsvField f;
    f.column = static_cast<std::size_t>(p - begin) + 1;
    if (p != end && *p == '"') {
      f.quoted = true;
      p = scan_quoted(path, line_no, begin, p, end, &f.text);
      while (p != end && pad(*p)) ++p;
      if (p != end && *p != delim) {
        throw_at_line(path, line_no, static_cast<std::size_t>(p - begin) + 1,
                      "expected " + delim_name(delim) + " after the closing quote, found " +
                          quote_for_message(std::string_view(p, 1)));
      }
    } else {
      const auto* d =
          static_cast<const char*>(std::memchr(p, delim, static_cast<std::size_t>(end - p)));
      const char* field_end = d != nullptr ? d : end;
      f.text = std::string(trim_pad({p, static_cast<std::size_t>(field_end - p)}, delim));
      p = field_end;
    }
    fields.push_back(std::move(f));
    if (p == end) return fields;
    ++p;  // the delimiter; a line ending in one has an empty last field
  }
}

bool is_csv_number(const CsvField& field) {
  const std::string& t = field.text;
  if (t.empty()) return false;
  double v = 0;
  const NumberResult r = parse_number(t.data(), t.data() + t.size(), v);
  return r.status != NumberStatus::not_a_number && r.end == t.data() + t.size();
}

}  // namespace softreg::detail
