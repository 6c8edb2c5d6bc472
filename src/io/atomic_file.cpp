// AtomicFile: an exclusive temporary file in the target's directory, flushed, closed and renamed.
#include "softreg/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
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

namespace {

/// path with every symbolic link followed: the last component's chain of links (a dangling
/// link gives the path it names, so the file is created there), then the directory's links.
/// Throws IoError for a link that cannot be read or a chain of more than 40 links.
std::string follow_links(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p = path;
  for (int hops = 0; hops <= 40; ++hops) {
    std::error_code ec;
    if (!fs::is_symlink(fs::symlink_status(p, ec))) {
      const fs::path parent = p.parent_path();
      if (parent.empty()) return p.string();
      const fs::path dir = fs::weakly_canonical(parent, ec);
      return ec ? p.string() : (dir / p.filename()).string();
    }
    const fs::path next = fs::read_symlink(p, ec);
    if (ec)
      throw IoError(path + ": cannot read the symbolic link " + p.string() + ": " + ec.message());
    p = next.is_absolute() ? next : p.parent_path() / next;
  }
  throw IoError(path + ": too many levels of symbolic links");
}

/// Creates the temporary file next to `target` exclusively and returns its descriptor, its name
/// in `tmp`. A name taken by another thread of this process (or left by a crashed process that
/// had our pid) is never reused: O_EXCL, then a numbered suffix.
int create_temporary(const std::string& path, const std::string& target, std::string& tmp) {
  const std::string base = target + ".tmp." + std::to_string(::getpid());
  for (int attempt = 0;; ++attempt) {
    tmp = attempt == 0 ? base : base + "." + std::to_string(attempt);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd >= 0) return fd;
    if (errno != EEXIST || attempt == 100) {
      const int err = errno;
      throw IoError(path + ": cannot create temporary file " + tmp + ": " + std::strerror(err));
    }
  }
}

/// Throws IoError for the special targets AtomicFile refuses (a directory, a block device).
void refuse_special(const std::string& path, const struct stat& st) {
  if (S_ISDIR(st.st_mode)) throw IoError(path + ": is a directory, not a file to write");
  if (S_ISBLK(st.st_mode)) throw IoError(path + ": is a block device; refusing to write it");
}

}  // namespace

void check_writable(const std::string& path) {
  const std::string target = follow_links(path);
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0) {
    refuse_special(path, st);
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
      // Written in place. Opening a FIFO for writing would wait for a reader, so ask only.
      if (::access(target.c_str(), W_OK) != 0) {
        const int err = errno;
        throw IoError(path + ": cannot open for writing: " + std::strerror(err));
      }
      return;
    }
  }
  std::string tmp;
  const int fd = create_temporary(path, target, tmp);
  ::close(fd);
  ::unlink(tmp.c_str());
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  target_ = follow_links(path_);
  struct stat st {};
  if (::stat(target_.c_str(), &st) == 0) {
    refuse_special(path_, st);
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) {
      // Written in place: replacing a device node or a FIFO with a regular file would lose it.
      fd_ = ::open(target_.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
      if (fd_ < 0) {
        const int err = errno;
        throw IoError(path_ + ": cannot open for writing: " + std::strerror(err));
      }
      buffer_.reserve(kBufferSize);
      return;
    }
  }
  fd_ = create_temporary(path_, target_, tmp_);
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
  if (tmp_.empty()) {  // a device or FIFO written in place: the close reports late errors
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail("cannot close");
    committed_ = true;
    return;
  }
  if (::fsync(fd_) != 0) fail("cannot flush temporary file " + tmp_ + " to disk");
  const int fd = fd_;
  fd_ = -1;
  // close() is where some file systems (NFS) report a failed write.
  if (::close(fd) != 0) fail("cannot close temporary file " + tmp_);
  if (std::rename(tmp_.c_str(), target_.c_str()) != 0) {
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
    if (w <= 0)
      fail(tmp_.empty() ? std::string("cannot write") : "cannot write temporary file " + tmp_);
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
  const std::filesystem::path parent = std::filesystem::path(target_).parent_path();
  const std::string dir = parent.empty() ? std::string(".") : parent.string();
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace softreg
