// AtomicFile: an exclusive temporary file in the target's directory, flushed, closed and renamed.
#include "softreg/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "io/binary_out.hpp"
#include "softreg/error.hpp"

namespace softreg {
namespace {
constexpr std::size_t kBufferSize = 1 << 16;
}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
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

AtomicFile::~AtomicFile() {
  discard();
}

void AtomicFile::write(const void* data, std::size_t n) {
  crc_ = detail::crc32_update(crc_, data, n);
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

void AtomicFile::commit() {
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

void AtomicFile::flush_buffer() {
  write_all(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void AtomicFile::write_all(const unsigned char* p, std::size_t n) {
  while (n > 0) {
    const ::ssize_t w = ::write(fd_, p, std::min<std::size_t>(n, std::size_t{1} << 30));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("cannot write temporary file " + tmp_);
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void AtomicFile::fail(const std::string& what) {
  const int err = errno != 0 ? errno : EIO;
  discard();
  throw IoError(path_ + ": " + what + ": " + std::strerror(err));
}

void AtomicFile::discard() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

// The rename is only durable once the directory entry is on disk too; a failure here leaves a
// complete file either way, so it is not reported.
void AtomicFile::sync_directory() const {
  const std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  const std::string dir = parent.empty() ? std::string(".") : parent.string();
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace softreg
