// The text readers' checks that a file is UTF-8 text at all: byte-order marks, NUL bytes, line
// ends, and the labels and names that a model keeps.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace softreg::detail {

/// The length of the UTF-8 sequence at the start of [p, p + n): 1 to 4, or 0 when it is not
/// well-formed (a stray continuation byte, a truncated sequence, an overlong form, an encoded
/// surrogate, a code point above U+10FFFF).
std::size_t utf8_sequence_length(const unsigned char* p, std::size_t n);

/// Line 1 of a text file (as LineReader gives it) without its UTF-8 byte-order mark, if it has
/// one. Throws ParseError at line 1 for what shows the file is not UTF-8 text in lines: a UTF-16
/// or UTF-32 byte-order mark, a second UTF-8 mark, a NUL byte (UTF-16 without a mark, or a
/// binary file), a carriage return inside the line (a file with classic Mac line ends, which
/// would read as one line). Columns of line 1 count from after a skipped mark.
std::string_view first_line_text(const std::string& path, std::string_view line);

/// Throws ParseError "<path>:<line>:<column>: expected <what> in UTF-8, found ..." unless `text`
/// is well-formed UTF-8 without NUL bytes. `what` names the field ("a label", "a header name").
/// Labels and names end up in model files and output, so a Latin-1 or UTF-16 byte is refused
/// here rather than passed on.
void check_text(const std::string& path, std::size_t line, std::size_t column,
                std::string_view text, const char* what);

}  // namespace softreg::detail
