// ByteSource over zlib's gz* functions, and the ParseError helpers that put positions first.
#include "io/byte_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <new>

#include "io/gzip_end.hpp"
#include "io/read_position.hpp"
#include "io/text_check.hpp"
#include "softreg/data.hpp"
#include "softreg/error.hpp"

namespace softreg {

std::string source_name(const std::string& path) {
  return path == "-" ? std::string("standard input") : path;
}

}  // namespace softreg

namespace softreg::detail {
namespace {

gzFile gz(void* f) {
  return static_cast<gzFile>(f);
}

// zlib's read buffer; 128 KiB measured about 10% faster than the 8 KiB default on the gzipped
// Fashion-MNIST images.
constexpr unsigned kGzBufferSize = 128 * 1024;
// Deflate never compresses better than 1032:1 (RFC 1951: a 258-byte match costs >= 2 bits).
constexpr std::uint64_t kMaxDeflateRatio = 1032;

}  // namespace

ByteSource::ByteSource(const std::string& path) : path_(source_name(path)) {
  ReadPosition::opened(path_);
  errno = 0;
  int fd = -1;
  if (path == "-") {
    // A duplicate, so that gzclose_r closes it and not descriptor 0 itself.
    fd = ::fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
  } else {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) {
    const int err = errno;
    throw IoError(path_ + ": cannot open: " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw IoError(path_ + ": is a directory, not a file to read");
  }
  regular_ = S_ISREG(st.st_mode);
  // A redirected regular file may be read from where its offset stands, not from byte 0.
  const off_t start = regular_ ? ::lseek(fd, 0, SEEK_CUR) : 0;
  file_size_ =
      regular_ ? static_cast<std::uint64_t>(st.st_size - std::max<off_t>(start, 0)) : UINT64_MAX;
  fd_ = fd;
  start_ = static_cast<std::uint64_t>(std::max<off_t>(start, 0));
  errno = 0;
  gzFile f = gzdopen(fd, "rb");
  if (f == nullptr) {
    ::close(fd);
    throw IoError(path_ + ": cannot open: out of memory");
  }
  file_ = f;
  gzbuffer(f, kGzBufferSize);
  // gzdirect looks at the first bytes; a read error there surfaces again in the first read.
  compressed_ = gzdirect(f) == 0;
}

ByteSource::~ByteSource() {
  gzclose_r(gz(file_));
}

std::size_t ByteSource::read(void* dst, std::size_t n) {
  auto* out = static_cast<unsigned char*>(dst);
  std::size_t got = 0;
  while (got < n) {
    // gzread counts in unsigned and returns int, so one call reads at most 1 GiB.
    const auto chunk = static_cast<unsigned>(std::min<std::size_t>(n - got, INT_MAX / 2 + 1));
    errno = 0;
    const int r = gzread(gz(file_), out + got, chunk);
    int errnum = Z_OK;
    const char* msg = r < static_cast<int>(chunk) ? gzerror(gz(file_), &errnum) : nullptr;
    if (r < 0 || (errnum != Z_OK && errnum != Z_BUF_ERROR)) {
      if (errnum == Z_ERRNO) {
        const int err = errno;
        throw IoError(path_ + ": read error: " + std::strerror(err != 0 ? err : EIO));
      }
      if (errnum == Z_MEM_ERROR) throw std::bad_alloc();
      // zlib puts the name it was given, "<fd:3>", before its message.
      std::string_view text = msg ? msg : "unknown error";
      if (text.substr(0, 4) == "<fd:" && text.find(">: ") != std::string_view::npos) {
        text.remove_prefix(text.find(">: ") + 3);
      }
      throw_at_byte(path_, offset_ + got, "corrupt gzip data (zlib: " + std::string(text) + ")");
    }
    got += static_cast<std::size_t>(r);
    if (r < static_cast<int>(chunk)) {
      truncated_ = errnum == Z_BUF_ERROR;
      offset_ += got;
      ReadPosition::at_byte(offset_);
      if (!truncated_) check_gzip_end();
      return got;
    }
  }
  offset_ += got;
  ReadPosition::at_byte(offset_);
  return got;
}

void ByteSource::check_gzip_end() {
  // Only a regular file can be read again; the check runs once, at the first end seen.
  if (!compressed_ || !regular_ || end_checked_) return;
  end_checked_ = true;
  const std::uint64_t file_end = start_ + file_size_;
  const std::uint64_t end = gzip_members_end(fd_, start_, file_end, offset_);
  if (end < file_end) {
    throw_at_byte(path_, offset_,
                  "the gzip data ends at compressed byte " + std::to_string(end - start_) +
                      ", but " + std::to_string(file_end - end) +
                      " more bytes follow it; expected the end of the file (trailing garbage "
                      "after the compressed stream)");
  }
}

void ByteSource::read_exact(void* dst, std::size_t n, std::string_view what) {
  const std::uint64_t start = offset_;
  const std::size_t got = read(dst, n);
  if (got != n) {
    throw_at_byte(path_, start,
                  "file ends after " + std::to_string(got) + " of " + std::to_string(n) + " " +
                      std::string(what) + (truncated_ ? " (the gzip stream is truncated)" : ""));
  }
}

void ByteSource::expect_end(std::string_view what) {
  const std::uint64_t at = offset_;
  unsigned char extra = 0;
  if (read(&extra, 1) != 0) {
    throw_at_byte(path_, at,
                  "expected the end of the file after " + std::string(what) + ", found more data");
  }
  if (truncated_) {
    throw_at_byte(path_, at,
                  "the gzip stream is truncated after " + std::string(what) +
                      " (its end marker and checksum are missing)");
  }
}

void ByteSource::skip(std::uint64_t n, std::string_view what) {
  const std::uint64_t start = offset_;
  if (regular_ && !compressed_ && n <= file_size_ - std::min(file_size_, offset_)) {
    if (gzseek(gz(file_), static_cast<z_off_t>(n), SEEK_CUR) < 0) {
      throw IoError(path_ + ": cannot seek forward " + std::to_string(n) + " bytes");
    }
    offset_ += n;
    return;
  }
  std::vector<unsigned char> buf(static_cast<std::size_t>(std::min<std::uint64_t>(n, 1 << 20)));
  for (std::uint64_t left = n; left > 0;) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()));
    const std::size_t got = read(buf.data(), want);
    left -= got;
    if (got < want) {
      throw_at_byte(path_, start,
                    "file ends after " + std::to_string(n - left) + " of " + std::to_string(n) +
                        " " + std::string(what) +
                        (truncated_ ? " (the gzip stream is truncated)" : ""));
    }
  }
}

void ByteSource::rewind() {
  if (!regular_ || gzrewind(gz(file_)) != 0) {
    throw IoError(path_ + ": cannot seek back to the start of the file");
  }
  offset_ = 0;
  truncated_ = false;
  end_checked_ = false;
}

std::uint64_t ByteSource::max_data_size() const {
  if (!compressed_ || !regular_) return file_size_;
  return file_size_ > UINT64_MAX / kMaxDeflateRatio ? UINT64_MAX : file_size_ * kMaxDeflateRatio;
}

bool ByteSource::holds(std::uint64_t bytes) const {
  if (!regular_) return false;
  if (!compressed_) return bytes <= file_size_;
  constexpr std::uint64_t kTrustedRatio = 16;
  return file_size_ <= UINT64_MAX / kTrustedRatio && bytes <= file_size_ * kTrustedRatio;
}

std::vector<unsigned char> ByteSource::read_growing(std::uint64_t n, std::uint64_t at,
                                                    const std::string& what) {
  constexpr std::size_t kStep = std::size_t{1} << 24;
  std::vector<unsigned char> out;
  while (out.size() < n) {
    const std::size_t want =
        static_cast<std::size_t>(std::min<std::uint64_t>(kStep, n - out.size()));
    const std::size_t had = out.size();
    out.resize(had + want);  // geometric growth: amortized, at most twice the bytes seen
    const std::size_t got = read(out.data() + had, want);
    if (got < want) {
      throw_at_byte(path_, at,
                    "file ends after " + std::to_string(had + got) + " of " + std::to_string(n) +
                        " " + what + (truncated_ ? " (the gzip stream is truncated)" : ""));
    }
  }
  return out;
}

void throw_at_byte(const std::string& path, std::uint64_t offset, const std::string& what) {
  throw ParseError(path + ": byte " + std::to_string(offset) + ": " + what);
}

void throw_at_line(const std::string& path, std::size_t line, std::size_t column,
                   const std::string& what) {
  throw ParseError(path + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + what);
}

std::string number_for_message(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

std::string quote_for_message(std::string_view text) {
  constexpr std::size_t kMax = 40;
  std::size_t n = std::min(text.size(), kMax);
  // Cut at a UTF-8 character boundary so the message stays valid text (at most 3 bytes back:
  // a longer run of continuation bytes is not UTF-8, and is escaped byte by byte).
  for (int back = 0;
       back < 3 && n < text.size() && n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80;
       ++back) {
    --n;
  }
  std::string out = "\"";
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = bytes[i];
    // Bytes that are not UTF-8, and the invisible byte-order mark, are spelled out: the message
    // must show what the file holds.
    const std::size_t len = c < 0x80 ? 1 : utf8_sequence_length(bytes + i, n - i);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7F || len == 0) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else if (len == 3 && text.substr(i, 3) == "\xEF\xBB\xBF") {
      out += "\\ufeff";
      i += 2;
    } else {
      out.append(text.substr(i, len));
      i += len - 1;
    }
  }
  out += '"';
  if (n < text.size()) out += "...";
  return out;
}

}  // namespace softreg::detail
