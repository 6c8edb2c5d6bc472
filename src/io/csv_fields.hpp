// CSV field helpers shared by the header logic and the row parser: padding, quotes, splitting.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace softreg::detail {

/// Spaces and tabs around a field are padding, unless the delimiter is that character.
struct CsvPad {
  char delim;
  bool operator()(char c) const { return (c == ' ' || c == '\t') && c != delim; }
};

/// `text` without the padding at either end.
std::string_view trim_pad(std::string_view text, char delim);

/// "','" or "a tab": how messages name the delimiter.
std::string delim_name(char delim);

/// Scans the quoted field whose opening quote is at `p` (within the line [begin, end)) and
/// returns the position after its closing quote; "" inside stands for one quote. Appends the
/// unescaped content to `out` when it is not null. Throws ParseError at the opening quote when
/// the line ends first: quoted fields cannot span lines.
const char* scan_quoted(const std::string& path, std::size_t line_no, const char* begin,
                        const char* p, const char* end, std::string* out);

struct CsvField {
  std::string text;  // unescaped, without quotes and padding
  bool quoted = false;
  std::size_t column = 1;  // 1-based byte column where the field starts
};

/// The fields of one line, for the header and the detection rule; data rows use the faster
/// in-place parser instead.
std::vector<CsvField> split_csv_fields(const std::string& path, std::size_t line_no,
                                       std::string_view line, char delim);

/// True when the whole field text is one decimal number (nan and inf included).
bool is_csv_number(const CsvField& field);

}  // namespace softreg::detail
