// gzip_members_end: the end of the last gzip member of a file, to find trailing garbage.
#include "io/gzip_end.hpp"

#include <unistd.h>
#include <zlib.h>

#include <vector>

namespace softreg::detail {
namespace {

/// Reads up to n bytes at `at`; fewer only at the end of the file or on an error.
std::size_t read_at(int fd, unsigned char* dst, std::size_t n, std::uint64_t at) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, dst + got, n - got, static_cast<off_t>(at + got));
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

/// Walks the members from `start`: after each, another follows only if the next two bytes are
/// the gzip magic 1f 8b (zlib's gz_look decides the same way). Returns file_end if the walk
/// fails, which zlib's own read has already ruled out.
std::uint64_t walk_members(int fd, std::uint64_t start, std::uint64_t file_end) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return file_end;
  std::vector<unsigned char> in(64 * 1024), out(64 * 1024);
  std::uint64_t base = start;  // the file offset of in[0]
  std::uint64_t next = start;  // the file offset of the next byte to read
  std::uint64_t result = file_end;
  zs.avail_in = 0;
  for (;;) {
    if (zs.avail_in == 0) {
      const std::size_t got = read_at(fd, in.data(), in.size(), next);
      if (got == 0) break;
      base = next;
      next += got;
      zs.next_in = in.data();
      zs.avail_in = static_cast<uInt>(got);
    }
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    const int r = inflate(&zs, Z_NO_FLUSH);
    if (r == Z_STREAM_END) {
      const std::uint64_t member_end = base + static_cast<std::uint64_t>(zs.next_in - in.data());
      unsigned char magic[2] = {0, 0};
      if (read_at(fd, magic, 2, member_end) < 2 || magic[0] != 0x1f || magic[1] != 0x8b) {
        result = member_end;
        break;
      }
      next = member_end;
      zs.avail_in = 0;
      inflateReset(&zs);
      continue;
    }
    if (r != Z_OK && r != Z_BUF_ERROR) break;
  }
  inflateEnd(&zs);
  return result;
}

}  // namespace

std::uint64_t gzip_members_end(int fd, std::uint64_t start, std::uint64_t file_end,
                               std::uint64_t out_size) {
  unsigned char isize[4];
  if (file_end < start + 18 || read_at(fd, isize, 4, file_end - 4) != 4) return file_end;
  const std::uint32_t stored = std::uint32_t{isize[0]} | (std::uint32_t{isize[1]} << 8) |
                               (std::uint32_t{isize[2]} << 16) | (std::uint32_t{isize[3]} << 24);
  if (stored == static_cast<std::uint32_t>(out_size)) return file_end;
  return walk_members(fd, start, file_end);
}

}  // namespace softreg::detail
