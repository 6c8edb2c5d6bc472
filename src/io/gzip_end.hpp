// Where the gzip members of a file end: zlib's gz* reader skips what follows them unread.
#pragma once

#include <cstdint>

namespace softreg::detail {

/// For a regular file holding gzip data from byte `start` to `file_end`, read completely by
/// zlib's gzread into `out_size` bytes: the offset just past the last gzip member, which is
/// `file_end` unless other bytes follow the members (zlib's gzread ignores such trailing
/// garbage). The common case costs one 4-byte read, the last member's ISIZE field; a file of
/// several members, or one with trailing bytes, is walked member by member. Reads with pread,
/// so the descriptor's offset (which zlib uses) is left alone.
std::uint64_t gzip_members_end(int fd, std::uint64_t start, std::uint64_t file_end,
                               std::uint64_t out_size);

}  // namespace softreg::detail
