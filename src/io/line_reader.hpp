// Lines of a text file (plain or gzip) handed out as views into one large reusable buffer.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "io/byte_source.hpp"

namespace softreg::detail {

/// Splits a ByteSource into lines without copying them: each line is a view into a buffer of a
/// few MiB that is refilled as parsing advances, so text readers parse from memory at full
/// speed while holding only the buffer, never the whole file.
class LineReader {
 public:
  /// The longest line accepted: a longer one is a ParseError at its line, so a binary file or
  /// a gzip of zeros read as text costs this much memory at most, not its inflated size.
  static constexpr std::size_t kMaxLineBytes = std::size_t{64} << 20;
  explicit LineReader(ByteSource& src);

  /// The next line without its "\n" or "\r\n"; false at the end of the file. A last line
  /// without a newline counts. The view is valid until the next call.
  bool next(std::string_view& line);
  /// 1-based number of the line last returned by next().
  std::size_t line_number() const { return line_; }

 private:
  void fill();

  ByteSource& src_;
  std::vector<char> buf_;
  std::size_t begin_ = 0;  // first unconsumed byte
  std::size_t end_ = 0;    // one past the last byte read
  bool eof_ = false;
  bool truncated_ = false;  // the source ended inside a gzip stream
  std::size_t line_ = 0;
};

/// The number of lines next() would return, then rewinds `src`: lets readers of plain files
/// size their output exactly once instead of growing it.
std::size_t count_lines(ByteSource& src);

}  // namespace softreg::detail
