// Lines of a text file (plain or gzip) handed out as views into one large reusable buffer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "io/byte_source.hpp"
#include "softreg/error.hpp"

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
  /// Only the lines of shard `index` of `count` (ReadOptions::shard_index / shard_count): on a
  /// plain regular file the lines that start in the shard's byte range, read from there
  /// (line_number() then counts from the shard's first line: see with_file_line); otherwise
  /// every count-th line from line index + 1, every line still read.
  LineReader(ByteSource& src, std::size_t index, std::size_t count);

  /// The next line without its "\n" or "\r\n"; false at the end of the file. A last line
  /// without a newline counts. The view is valid until the next call.
  bool next(std::string_view& line);
  /// 1-based number of the line last returned by next(): in the file, or in the shard's byte
  /// range when reading one.
  std::size_t line_number() const { return line_; }
  /// The offset in the data of the first byte of the line last returned by next().
  std::uint64_t line_offset() const { return line_offset_; }
  /// A ParseError "<file>:<line>:<column>: ..." raised while reading a byte range's lines,
  /// with the line renumbered from the start of the file (the lines before the range are
  /// counted only now, on the error path); any other error unchanged.
  ParseError with_file_line(const ParseError& e) const;

 private:
  void fill();
  bool next_line(std::string_view& line);

  ByteSource& src_;
  std::vector<char> buf_;
  std::size_t begin_ = 0;  // first unconsumed byte
  std::size_t end_ = 0;    // one past the last byte read
  bool eof_ = false;
  bool truncated_ = false;  // the source ended inside a gzip stream
  std::size_t line_ = 0;
  std::uint64_t base_ = 0;  // the data offset of buf_[0]
  std::uint64_t line_offset_ = 0;
  // Sharded reading: the byte range's end (lines starting there or later are another
  // shard's) and its first line's offset; or the stride of round-robin lines.
  std::uint64_t range_end_ = UINT64_MAX, range_start_ = 0;
  bool in_range_ = false;
  std::size_t stride_ = 1, stride_index_ = 0, physical_ = 0;
};

/// The number of lines next() would return, then rewinds `src`: lets readers of plain files
/// size their output exactly once instead of growing it.
std::size_t count_lines(ByteSource& src);

}  // namespace softreg::detail
