// Output helpers for model files and .npz: a temp-file-and-rename writer and little-endian codes.
#pragma once

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "softreg/error.hpp"

namespace softreg::detail {

/// zlib's CRC-32 (the one zip, PNG and gzip use) over any length; zlib takes 32-bit lengths.
inline std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t n) {
  const auto* p = static_cast<const Bytef*>(data);
  uLong c = crc;
  while (n > 0) {
    const std::size_t chunk = std::min<std::size_t>(n, std::size_t{1} << 30);
    c = crc32(c, p, static_cast<uInt>(chunk));
    p += chunk;
    n -= chunk;
  }
  return static_cast<std::uint32_t>(c);
}

/// Appends the low `bytes` bytes of v, least significant first.
inline void append_le(std::string& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}

inline void append_f64(std::string& out, double v) {
  append_le(out, std::bit_cast<std::uint64_t>(v), 8);
}

/// The little-endian bytes of a float64 array. On a big-endian machine the values are swapped
/// in place first, which is why the vector is taken by non-const reference.
inline std::span<const unsigned char> little_endian_bytes(std::vector<double>& v) {
  if constexpr (std::endian::native == std::endian::big) {
    for (auto& x : v) {
      const auto u = std::bit_cast<std::uint64_t>(x);
      std::uint64_t swapped = 0;
      for (int i = 0; i < 8; ++i) swapped |= ((u >> (8 * i)) & 0xffu) << (56 - 8 * i);
      x = std::bit_cast<double>(swapped);
    }
  }
  return {reinterpret_cast<const unsigned char*>(v.data()), v.size() * sizeof(double)};
}

/// Writes to "<path>.tmp.<pid>" in the target's directory and, on commit(), flushes it to disk
/// and renames it over the target, so readers see either the old file or the complete new one.
/// Destroyed without commit() (an exception on the way), it removes the temporary file. Every
/// failure throws IoError naming the target, the step and the OS reason. Keeps a running
/// CRC-32 of the bytes written, for formats that end with one.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path) : path_(std::move(path)) {
    const std::string base = path_ + ".tmp." + std::to_string(::getpid());
    // A name taken by another thread of this process (or left by a crashed process that had our
    // pid) is never reused: O_EXCL, then a numbered suffix.
    for (int attempt = 0; fd_ < 0; ++attempt) {
      tmp_ = attempt == 0 ? base : base + "." + std::to_string(attempt);
      fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
      if (fd_ < 0 && (errno != EEXIST || attempt == 100)) {
        const int err = errno;
        throw IoError(path_ + ": cannot create temporary file " + tmp_ + ": " + std::strerror(err));
      }
    }
    buffer_.reserve(kBufferSize);
  }
  ~AtomicFile() { discard(); }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, std::size_t n) {
    crc_ = crc32_update(crc_, data, n);
    size_ += n;
    const auto* p = static_cast<const unsigned char*>(data);
    if (buffer_.size() + n <= kBufferSize) {
      buffer_.insert(buffer_.end(), p, p + n);
      return;
    }
    flush_buffer();
    if (n < kBufferSize) {
      buffer_.insert(buffer_.end(), p, p + n);
    } else {
      write_all(p, n);
    }
  }
  void write(std::string_view s) { write(s.data(), s.size()); }
  void write(std::span<const unsigned char> s) { write(s.data(), s.size()); }

  /// Bytes written so far, and their CRC-32.
  std::uint64_t size() const { return size_; }
  std::uint32_t crc() const { return crc_; }

  void commit() {
    flush_buffer();
    if (::fsync(fd_) != 0) fail("cannot flush temporary file " + tmp_ + " to disk");
    const int fd = fd_;
    fd_ = -1;
    // close() is where some file systems (NFS) report a failed write.
    if (::close(fd) != 0) fail("cannot close temporary file " + tmp_);
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      fail("cannot rename temporary file " + tmp_ + " to the target");
    }
    committed_ = true;
    sync_directory();
  }

 private:
  static constexpr std::size_t kBufferSize = 1 << 16;

  void flush_buffer() {
    write_all(buffer_.data(), buffer_.size());
    buffer_.clear();
  }

  void write_all(const unsigned char* p, std::size_t n) {
    while (n > 0) {
      const ::ssize_t w = ::write(fd_, p, std::min<std::size_t>(n, std::size_t{1} << 30));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) fail("cannot write temporary file " + tmp_);
      p += w;
      n -= static_cast<std::size_t>(w);
    }
  }

  [[noreturn]] void fail(const std::string& what) {
    const int err = errno != 0 ? errno : EIO;
    discard();
    throw IoError(path_ + ": " + what + ": " + std::strerror(err));
  }

  void discard() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!committed_) ::unlink(tmp_.c_str());
  }

  // The rename is only durable once the directory entry is on disk too; a failure here leaves
  // a complete file either way, so it is not reported.
  void sync_directory() const {
    const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
    const std::string dir = parent.empty() ? std::string(".") : parent.string();
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }

  std::string path_;
  std::string tmp_;
  int fd_ = -1;
  bool committed_ = false;
  std::vector<unsigned char> buffer_;
  std::uint64_t size_ = 0;
  std::uint32_t crc_ = 0;
};

}  // namespace softreg::detail
