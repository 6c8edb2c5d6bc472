// Parsing the .npy header: a fixed preamble, then a Python dict literal with three keys.
#include "io/npy_header.hpp"

#include <array>
#include <bit>
#include <cstring>
#include <string_view>

#include "softreg/error.hpp"

namespace softreg::detail {
namespace {

// numpy writes headers of a few hundred bytes; a larger length is a corrupt file, and refusing
// it avoids allocating whatever the corrupt length says.
constexpr std::uint64_t kMaxHeaderLength = 1 << 20;

// A cursor over the header dict that reports errors at file offsets.
class DictParser {
 public:
  DictParser(const ByteSource& src, std::string_view text, std::uint64_t base)
      : path_(src.path()), text_(text), base_(base) {}

  std::uint64_t offset() const { return base_ + pos_; }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c, const char* what) {
    if (!consume(c)) fail(std::string("expected ") + what);
  }
  bool at(char c) {
    skip_space();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  std::string string_literal() {
    skip_space();
    const char q = pos_ < text_.size() ? text_[pos_] : '\0';
    if (q != '\'' && q != '"') fail("expected a quoted string");
    const auto close = text_.find(q, pos_ + 1);
    if (close == std::string_view::npos) fail("unterminated string");
    std::string s(text_.substr(pos_ + 1, close - pos_ - 1));
    pos_ = close + 1;
    return s;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      const std::size_t n = std::strlen(word);
      if (text_.substr(pos_, n) == word) {
        pos_ += n;
        return value;
      }
    }
    fail("expected True or False");
  }
  std::uint64_t integer() {
    skip_space();
    std::uint64_t v = 0;
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const auto digit = static_cast<std::uint64_t>(text_[pos_] - '0');
      if (v > (UINT64_MAX - digit) / 10) fail("dimension too large");
      v = v * 10 + digit;
      ++pos_;
    }
    if (pos_ == start) fail("expected a non-negative integer");
    if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;  // Python 2 long literals
    return v;
  }
  std::vector<std::uint64_t> tuple() {
    expect('(', "a tuple such as (3, 4)");
    std::vector<std::uint64_t> v;
    while (!consume(')')) {
      v.push_back(integer());
      if (!consume(',')) {
        expect(')', "',' or ')' in the shape tuple");
        break;
      }
    }
    return v;
  }
  [[noreturn]] void fail(const std::string& what) {
    const std::string_view rest = text_.substr(std::min(pos_, text_.size()));
    throw_at_byte(
        path_, offset(),
        "malformed .npy header: " + what + ", found " +
            (rest.empty() ? std::string("the end of the header") : quote_for_message(rest)));
  }

 private:
  const std::string& path_;
  std::string_view text_;
  std::uint64_t base_;
  std::size_t pos_ = 0;
};

void parse_descr(NpyHeader& h, const std::string& path) {
  const std::string& d = h.descr;
  const bool ok_order = !d.empty() && (d[0] == '<' || d[0] == '>' || d[0] == '|' || d[0] == '=');
  if (ok_order && d.size() >= 3) {
    h.kind = d[1];
    h.item_size = 0;
    for (std::size_t i = 2; i < d.size() && h.item_size < 100; ++i) {
      if (d[i] < '0' || d[i] > '9') {
        h.item_size = 0;
        break;
      }
      h.item_size = h.item_size * 10 + static_cast<std::size_t>(d[i] - '0');
    }
    const std::size_t n = h.item_size;
    const bool int_ok = (h.kind == 'i' || h.kind == 'u') && (n == 1 || n == 2 || n == 4 || n == 8);
    const bool float_ok = h.kind == 'f' && (n == 4 || n == 8);
    if (int_ok || float_ok) {
      const bool file_little =
          d[0] == '<' || (d[0] != '>' && std::endian::native == std::endian::little);
      h.swap_bytes = n > 1 && file_little != (std::endian::native == std::endian::little);
      return;
    }
  }
  throw_at_byte(path, h.descr_offset,
                "unsupported dtype " + quote_for_message(d) +
                    "; expected float32 (<f4), float64 (<f8) or an integer type (<i1..<i8, "
                    "|u1..<u8)");
}

}  // namespace

std::string NpyHeader::shape_text() const {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + (shape.size() == 1 ? ",)" : ")");
}

namespace {

/// Where the header dict lies: its length and the offset of its first byte.
struct Preamble {
  std::uint64_t header_len = 0;
  std::uint64_t base = 0;
};

// The magic, the version and the header length.
Preamble read_preamble(ByteSource& src) {
  const std::string& path = src.path();
  static constexpr std::array<unsigned char, 6> kMagic = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  std::array<unsigned char, 8> pre{};
  const std::size_t got = src.read(pre.data(), pre.size());
  if (got == 0) throw_at_byte(path, 0, "file is empty; expected the .npy magic \"\\x93NUMPY\"");
  if (got < kMagic.size() || std::memcmp(pre.data(), kMagic.data(), kMagic.size()) != 0) {
    throw_at_byte(path, 0,
                  "expected the .npy magic \"\\x93NUMPY\", found " +
                      quote_for_message({reinterpret_cast<const char*>(pre.data()),
                                         std::min<std::size_t>(got, kMagic.size())}));
  }
  if (got < pre.size()) throw_at_byte(path, 6, "file ends inside the .npy version bytes");
  const unsigned major = pre[6];
  const unsigned minor = pre[7];
  if (major < 1 || major > 3 || minor != 0) {
    throw_at_byte(path, 6,
                  "unsupported .npy format version " + std::to_string(major) + "." +
                      std::to_string(minor) + "; expected 1.0, 2.0 or 3.0");
  }
  std::array<unsigned char, 4> len{};
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  src.read_exact(len.data(), len_bytes, "header length bytes");
  Preamble out;
  for (std::size_t i = len_bytes; i-- > 0;) out.header_len = (out.header_len << 8) | len[i];
  out.base = 8 + len_bytes;
  if (out.header_len > kMaxHeaderLength) {
    throw_at_byte(path, 8,
                  "header length " + std::to_string(out.header_len) +
                      " is implausible for an array header (at most 1 MiB)");
  }
  return out;
}

// The dict's three keys, each exactly once, into h.
void parse_dict(NpyHeader& h, ByteSource& src, const std::string& text, std::uint64_t base) {
  const std::string& path = src.path();
  DictParser p(src, text, base);
  bool seen_descr = false, seen_fortran = false, seen_shape = false;
  p.expect('{', "'{' opening the header dict");
  while (!p.consume('}')) {
    p.skip_space();
    const std::uint64_t key_at = p.offset();
    const std::string key = p.string_literal();
    p.expect(':', "':' after the key");
    p.skip_space();
    bool* seen = nullptr;
    if (key == "descr") {
      seen = &seen_descr;
      h.descr_offset = p.offset();
      if (p.at('[')) p.fail("expected a simple dtype string (structured arrays are unsupported)");
      h.descr = p.string_literal();
    } else if (key == "fortran_order") {
      seen = &seen_fortran;
      h.fortran_order = p.boolean();
    } else if (key == "shape") {
      seen = &seen_shape;
      h.shape_offset = p.offset();
      h.shape = p.tuple();
    } else {
      throw_at_byte(path, key_at,
                    "unexpected key " + quote_for_message(key) +
                        " in the .npy header; expected descr, fortran_order, shape");
    }
    if (*seen) throw_at_byte(path, key_at, "duplicate key " + quote_for_message(key));
    *seen = true;
    if (!p.consume(',')) {
      p.expect('}', "',' or '}' after a value");
      break;
    }
  }
  // numpy pads the dict with spaces and ends the header with '\n'; anything else after the
  // dict is not a header numpy wrote (numpy's own reader refuses it too).
  p.skip_space();
  if (p.offset() != base + text.size())
    p.fail("expected only spaces and a line feed after the dict");
  if (!seen_descr || !seen_fortran || !seen_shape) {
    throw_at_byte(path, base,
                  "the .npy header lacks " + std::string(!seen_descr     ? "'descr'"
                                                         : !seen_fortran ? "'fortran_order'"
                                                                         : "'shape'"));
  }
}

// The element count, and the data's size against what the file can hold.
void check_data_size(NpyHeader& h, ByteSource& src) {
  for (const std::uint64_t d : h.shape) {
    h.count = (d != 0 && h.count > UINT64_MAX / d) ? UINT64_MAX : h.count * d;
  }
  const std::uint64_t bytes =
      h.count > UINT64_MAX / h.item_size ? UINT64_MAX : h.count * h.item_size;
  const std::uint64_t limit = src.max_data_size();
  if (bytes <= limit && bytes <= SIZE_MAX) return;
  if (!src.compressed()) {
    const std::uint64_t have = limit > h.data_offset ? limit - h.data_offset : 0;
    throw_at_byte(src.path(), h.data_offset,
                  "file ends after " + std::to_string(have) + " of " + std::to_string(bytes) +
                      " data bytes for shape " + h.shape_text());
  }
  throw_at_byte(src.path(), h.shape_offset,
                "shape " + h.shape_text() + " needs " + std::to_string(bytes) +
                    " data bytes, more than this gzip file can hold");
}

}  // namespace

NpyHeader read_npy_header(ByteSource& src) {
  const Preamble pre = read_preamble(src);
  std::string text(static_cast<std::size_t>(pre.header_len), '\0');
  src.read_exact(text.data(), text.size(), "header bytes");
  NpyHeader h;
  parse_dict(h, src, text, pre.base);
  parse_descr(h, src.path());
  h.data_offset = pre.base + pre.header_len;
  check_data_size(h, src);
  return h;
}

}  // namespace softreg::detail
