// AtomicFile: the one way softreg writes a file (model files, .npz, the CLI's outputs), so that
// a reader sees either the old file or the complete new one, never a partial write.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace softreg {

/// Writes to a temporary file created exclusively (O_EXCL, which also refuses a symlink planted
/// at that name) in the target's directory, "<path>.tmp.<pid>[.<n>]", and on commit() flushes
/// it to disk, closes it and renames it over the target, then syncs the directory. Destroyed
/// without commit() (an exception on the way), it removes the temporary file and leaves the
/// target as it was. Special targets are never replaced:
///   - a symbolic link (or a path through one) is followed: the file it names is written
///     atomically as above and the link stays a link (a dangling link creates its target);
///   - a character device (/dev/null, /dev/full, a terminal), a FIFO or a socket is opened and
///     written directly (nothing to rename; every write and the final close are checked, so a
///     full device is an error);
///   - a directory or a block device is refused.
/// Every failure throws IoError naming the target, the step and the OS reason. Keeps a running
/// CRC-32 of the bytes written, for formats that end with one. Not copyable; one thread at a
/// time.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  void write(std::span<const unsigned char> s) { write(s.data(), s.size()); }

  /// Bytes written so far, and their CRC-32 (zlib's, as zip and gzip use).
  std::uint64_t size() const { return size_; }
  std::uint32_t crc() const { return crc_; }

  /// Makes the file the target's content; throws IoError (and removes the temporary file) if
  /// any step fails.
  void commit();

 private:
  void flush_buffer();
  void write_all(const unsigned char* p, std::size_t n);
  [[noreturn]] void fail(const std::string& what);
  void discard();
  void sync_directory() const;

  std::string path_;    // as given, for messages
  std::string target_;  // what is written: path_ with symbolic links followed
  std::string tmp_;     // empty when writing a device or FIFO directly
  int fd_ = -1;
  bool committed_ = false;
  std::vector<unsigned char> buffer_;
  std::uint64_t size_ = 0;
  std::uint32_t crc_ = 0;
};

/// Throws the IoError AtomicFile(path) would throw (a missing or unwritable directory, a
/// directory or a block device as the target, a device or FIFO that cannot be opened for
/// writing), so that a command fails before a long computation rather than after it. It
/// creates and removes a temporary file in the target's directory, as AtomicFile would; the
/// target itself is never created, opened or changed (for a device or FIFO, only its write
/// permission is checked).
void check_writable(const std::string& path);

}  // namespace softreg
