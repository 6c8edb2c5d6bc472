// UTF-8 checks for the text readers: the first line of a file, and the labels and names kept.
#include "io/text_check.hpp"

#include <cstring>

#include "io/byte_source.hpp"

namespace softreg::detail {
namespace {

std::string hex_byte(unsigned char b) {
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("0x") + kHex[b >> 4] + kHex[b & 15];
}

}  // namespace

std::size_t utf8_sequence_length(const unsigned char* p, std::size_t n) {
  if (n == 0) return 0;
  const unsigned char b = p[0];
  if (b < 0x80) return 1;
  // RFC 3629's table: the second byte's range depends on the first, which rules out overlong
  // forms, surrogates and code points above U+10FFFF.
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    len = 2;
  } else if (b >= 0xE0 && b <= 0xEF) {
    len = 3;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < len || p[1] < lo || p[1] > hi) return 0;
  for (std::size_t i = 2; i < len; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
  }
  return len;
}

std::string_view first_line_text(const std::string& path, std::string_view line) {
  constexpr std::string_view kUtf8Bom("\xEF\xBB\xBF", 3);
  if (line.size() >= 2 &&
      ((line[0] == '\xFF' && line[1] == '\xFE') || (line[0] == '\xFE' && line[1] == '\xFF'))) {
    throw_at_line(path, 1, 1,
                  std::string("the file starts with a UTF-16 byte-order mark (") +
                      (line[0] == '\xFF' ? "ff fe" : "fe ff") +
                      "); expected UTF-8 text (convert it, e.g. iconv -f UTF-16 -t UTF-8)");
  }
  if (line.substr(0, 3) == kUtf8Bom) {
    line.remove_prefix(3);
    if (line.substr(0, 3) == kUtf8Bom) {
      throw_at_line(path, 1, 1,
                    "a second UTF-8 byte-order mark follows the first; expected at most one, "
                    "at the start of the file");
    }
  }
  if (const void* nul = std::memchr(line.data(), '\0', line.size())) {
    const auto col = static_cast<std::size_t>(static_cast<const char*>(nul) - line.data()) + 1;
    throw_at_line(path, 1, col,
                  "found a NUL byte; expected UTF-8 text (is the file UTF-16 without a "
                  "byte-order mark, or binary?)");
  }
  if (const void* cr = std::memchr(line.data(), '\r', line.size())) {
    const auto col = static_cast<std::size_t>(static_cast<const char*>(cr) - line.data()) + 1;
    throw_at_line(path, 1, col,
                  "found a carriage return (\\r) inside the line; expected lines that end in "
                  "\\n or \\r\\n (classic Mac line ends are not supported)");
  }
  return line;
}

void check_text(const std::string& path, std::size_t line, std::size_t column,
                std::string_view text, const char* what) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  std::size_t i = 0;
  // Labels are short and nearly always ASCII: one pass decides.
  while (i < n && p[i] != 0 && p[i] < 0x80) ++i;
  while (i < n) {
    if (p[i] == 0) {
      throw_at_line(path, line, column,
                    std::string("expected ") + what + " in UTF-8, found " +
                        quote_for_message(text) + " (a NUL byte: is the file UTF-16, or binary?)");
    }
    const std::size_t len = utf8_sequence_length(p + i, n - i);
    if (len == 0) {
      throw_at_line(path, line, column,
                    std::string("expected ") + what + " in UTF-8, found " +
                        quote_for_message(text) + " (byte " + hex_byte(p[i]) +
                        " is not UTF-8: Latin-1 or another encoding? convert the file to UTF-8)");
    }
    i += len;
  }
}

}  // namespace softreg::detail
