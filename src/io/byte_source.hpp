// A file read as a byte stream, plain or gzip-compressed, and the position-naming error helpers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace softreg::detail {

/// Reads a file through zlib, which passes uncompressed files through unchanged, so every
/// reader accepts .gz input without knowing about it. Offsets count decompressed bytes. The
/// path "-" reads standard input (a pipe, a terminal or a redirected file, plain or gzip).
class ByteSource {
 public:
  /// Opens `path`; throws IoError naming the file and the OS reason when it cannot be opened.
  explicit ByteSource(const std::string& path);
  ~ByteSource();
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  /// Reads up to `n` bytes into `dst`, fewer only at the end of the data. Throws ParseError for
  /// corrupt gzip data, for bytes after the end of the gzip data in a regular file (zlib would
  /// skip them unread; a pipe cannot be checked), and IoError for an OS-level read failure.
  std::size_t read(void* dst, std::size_t n);
  /// Reads exactly `n` bytes or throws ParseError "<file>: byte <start>: file ends after k of n
  /// <what>", where <start> is the offset before the read.
  void read_exact(void* dst, std::size_t n, std::string_view what);
  /// Throws ParseError unless the data ends here; `what` names what was read completely.
  void expect_end(std::string_view what);
  /// Moves `n` bytes forward without handing them out: a seek in a plain regular file, reading
  /// and discarding them otherwise. Throws ParseError "<file>: byte <offset>: file ends after k
  /// of n <what>" when the data ends first.
  void skip(std::uint64_t n, std::string_view what = "bytes");
  /// Back to the first byte, for readers that count before they parse; only for a seekable()
  /// source.
  void rewind();

  /// The name for messages: the path, or "standard input" for "-".
  const std::string& path() const { return path_; }
  /// True for a regular file, which has a size and can be rewound; false for a pipe, a FIFO,
  /// a terminal or a device, which are read once, front to back.
  bool seekable() const { return regular_; }
  std::uint64_t offset() const { return offset_; }
  bool compressed() const { return compressed_; }
  /// True once the data has ended inside a gzip stream (a truncated .gz file).
  bool truncated() const { return truncated_; }
  /// An upper bound on the decompressed size, so a corrupt header that claims terabytes is
  /// rejected before anything is allocated: the file size for plain files, and 1032 times it
  /// for gzip, deflate's maximum compression ratio. Unbounded (UINT64_MAX) for a source that is
  /// not a regular file: a pipe has no size to check against.
  std::uint64_t max_data_size() const;
  /// Whether `bytes` of data may be believed before they are read, so that a reader can
  /// allocate their decoded form at once: a plain regular file that is large enough (its size
  /// is exact), or a gzip file that would inflate at most 16 times (real data does; deflate's
  /// limit, 1032, is reached only by runs of one byte). A header claiming more, or any size
  /// from a pipe, is believed only as its bytes arrive (read_growing).
  bool holds(std::uint64_t bytes) const;
  /// Reads exactly n bytes into a buffer that grows as they arrive, so memory follows what
  /// the data really holds rather than what a header claims; a short source throws ParseError
  /// "<file>: byte <at>: file ends after k of n <what>" (with the gzip truncation note).
  std::vector<unsigned char> read_growing(std::uint64_t n, std::uint64_t at,
                                          const std::string& what);

 private:
  void check_gzip_end();

  std::string path_;
  void* file_ = nullptr;     // gzFile, kept opaque so zlib.h stays out of the readers
  int fd_ = -1;              // the descriptor zlib reads, for the check of what follows the data
  std::uint64_t start_ = 0;  // where the data starts in a regular file (a redirect's offset)
  std::uint64_t offset_ = 0;
  std::uint64_t file_size_ = 0;
  bool compressed_ = false;
  bool truncated_ = false;
  bool regular_ = false;
  bool end_checked_ = false;
};

/// Throws ParseError "<path>: byte <offset>: <what>".
[[noreturn]] void throw_at_byte(const std::string& path, std::uint64_t offset,
                                const std::string& what);
/// Throws ParseError "<path>:<line>:<column>: <what>" (both 1-based).
[[noreturn]] void throw_at_line(const std::string& path, std::size_t line, std::size_t column,
                                const std::string& what);
/// A value for a message: "%.9g", so 1e300 does not print as 301 digits.
std::string number_for_message(double v);
/// `text` in double quotes for a message, shortened to 40 bytes; control bytes and bytes that
/// are not UTF-8 as \xNN, a byte-order mark (U+FEFF, invisible) as \ufeff.
std::string quote_for_message(std::string_view text);

}  // namespace softreg::detail
