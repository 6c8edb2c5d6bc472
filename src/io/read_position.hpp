// Where this thread's reading of a data file is, so that memory running out mid-read is an
// error naming the file and the position rather than a bare "out of memory".
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string>

#include "softreg/error.hpp"

namespace softreg::detail {

/// The file being read and how far: the byte offset and, for text, the line. One on the stack
/// of a reading function is its thread's current position while it lives (they nest: the
/// outer one is current again after the inner ends); ByteSource reports the file it opens and
/// the bytes it reads, LineReader each line it hands out. Without one, reports go nowhere.
class ReadPosition {
 public:
  ReadPosition();
  ~ReadPosition();
  ReadPosition(const ReadPosition&) = delete;
  ReadPosition& operator=(const ReadPosition&) = delete;

  /// A source named `path` (for messages) starts being read.
  static void opened(const std::string& path);
  /// Bytes up to `byte` have been read (a binary reader's position).
  static void at_byte(std::uint64_t byte);
  /// Line `line` (1-based; 0 when the reader cannot number it in the file, as in a byte-range
  /// shard), starting at `byte`, is being parsed.
  static void at_line(std::size_t line, std::uint64_t byte);

  /// "<path>: out of memory at line L (byte B) while reading it", or "at byte B" before any
  /// line; empty when no source was opened.
  std::string out_of_memory() const;

 private:
  ReadPosition* previous_;
  std::string path_;
  std::uint64_t byte_ = 0;
  std::size_t line_ = 0;
};

/// read() with a ReadPosition: std::bad_alloc while a source is open becomes an Error naming
/// it and the position.
template <class Read>
auto with_read_position(Read&& read) {
  ReadPosition position;
  try {
    return read();
  } catch (const std::bad_alloc&) {
    std::string what = position.out_of_memory();
    if (what.empty()) throw;
    throw Error(what);
  }
}

}  // namespace softreg::detail
