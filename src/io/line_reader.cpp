// LineReader: memchr over a large buffer, growing it only for lines longer than the buffer.
#include "io/line_reader.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "io/read_position.hpp"
#include "io/readers.hpp"

namespace softreg::detail {
namespace {

// Large enough that refills (a memmove of one partial line) are rare; small enough to stay
// out of the way of the dataset itself. The fuzz build sets a few bytes (fuzz/CMakeLists.txt),
// so that its inputs of a few hundred bytes reach the refills and the growth for long lines.
#ifdef SOFTREG_LINE_BUFFER_BYTES
constexpr std::size_t kBufferSize = SOFTREG_LINE_BUFFER_BYTES;
#else
constexpr std::size_t kBufferSize = std::size_t{4} << 20;
#endif

}  // namespace

LineReader::LineReader(ByteSource& src) : src_(src), buf_(kBufferSize) {}

LineReader::LineReader(ByteSource& src, std::size_t index, std::size_t count)
    : src_(src), buf_(kBufferSize) {
  if (count <= 1) return;
  if (!src.seekable() || src.compressed()) {
    stride_ = count;
    stride_index_ = index;
    return;
  }
  const RecordRange bytes = shard_records(src.max_data_size(), index, count);
  const std::uint64_t lo = bytes.begin;
  range_end_ = bytes.end;
  in_range_ = true;
  if (lo > 0) {
    // The line holding byte lo - 1 belongs to the shard before (it starts before lo); the
    // first line of this one starts after its newline.
    src.skip(lo - 1);
    base_ = lo - 1;
    std::string_view partial;
    next_line(partial);
    line_ = 0;
  }
  range_start_ = base_ + begin_;
}

bool LineReader::next(std::string_view& line) {
  for (;;) {
    if (!next_line(line)) return false;
    if (in_range_ && line_offset_ >= range_end_) {
      --line_;
      return false;
    }
    if (stride_ == 1) return true;
    if (physical_++ % stride_ == stride_index_) return true;
  }
}

ParseError LineReader::with_file_line(const ParseError& e) const {
  const std::string what = e.what();
  const std::string prefix = src_.path() + ":";
  if (!in_range_ || range_start_ == 0 || what.compare(0, prefix.size(), prefix) != 0) return e;
  std::size_t end = prefix.size();
  while (end < what.size() && what[end] >= '0' && what[end] <= '9') ++end;
  if (end == prefix.size() || end == what.size() || what[end] != ':') return e;
  std::size_t before = 0;
  ByteSource again(src_.path());
  std::vector<char> buf(kBufferSize);
  for (std::uint64_t left = range_start_; left > 0;) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf.size()));
    const std::size_t got = again.read(buf.data(), want);
    before += static_cast<std::size_t>(std::count(buf.data(), buf.data() + got, '\n'));
    if (got < want) break;
    left -= got;
  }
  const std::size_t line = std::stoull(what.substr(prefix.size(), end - prefix.size())) + before;
  return ParseError(prefix + std::to_string(line) + what.substr(end));
}

bool LineReader::next_line(std::string_view& line) {
  std::size_t scanned = 0;  // bytes of the pending line already known to hold no '\n'
  for (;;) {
    const char* start = buf_.data() + begin_;
    const std::size_t avail = end_ - begin_;
    const auto* nl = static_cast<const char*>(std::memchr(start + scanned, '\n', avail - scanned));
    std::size_t len = 0;
    if (nl != nullptr) {
      len = static_cast<std::size_t>(nl - start);
      begin_ += len + 1;
    } else if (eof_) {
      // Every complete line before a truncation has been handed out; the error names the
      // line the data stops in.
      if (truncated_) {
        throw_at_line(src_.path(), line_ + 1, avail + 1,
                      "file ends inside a truncated gzip stream; expected the rest of the file");
      }
      if (avail == 0) return false;
      len = avail;
      begin_ = end_;
    } else {
      scanned = avail;
      fill();
      continue;
    }
    line_offset_ = base_ + static_cast<std::uint64_t>(start - buf_.data());
    if (len > 0 && start[len - 1] == '\r') --len;
    line = std::string_view(start, len);
    ++line_;
    // A byte range past the file's start counts its lines from the range: the byte names the
    // place (the lines before it are counted only on a parse error's path).
    ReadPosition::at_line(in_range_ && range_start_ > 0 ? 0 : line_, line_offset_);
    return true;
  }
}

void LineReader::fill() {
  const std::size_t pending = end_ - begin_;
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, pending);
    base_ += begin_;
    begin_ = 0;
    end_ = pending;
  }
  if (end_ == buf_.size()) {
    // The whole buffer is one unfinished line: grow it, up to the cap (a gzip of zeros or a
    // binary file must not take the memory of its inflated size).
    if (buf_.size() >= kMaxLineBytes) {
      throw_at_line(src_.path(), line_ + 1, 1,
                    "line is longer than " + std::to_string(kMaxLineBytes >> 20) +
                        " MiB without a line break; expected a text file of lines (is it a "
                        "binary file?)");
    }
    buf_.resize(std::min(buf_.size() * 2, kMaxLineBytes));
  }
  const std::size_t want = buf_.size() - end_;
  const std::size_t got = src_.read(buf_.data() + end_, want);
  end_ += got;
  if (got < want) {
    eof_ = true;
    truncated_ = src_.truncated();
  }
}

std::size_t count_lines(ByteSource& src) {
  std::vector<char> buf(kBufferSize);
  std::size_t lines = 0;
  char last = '\n';
  for (;;) {
    const std::size_t got = src.read(buf.data(), buf.size());
    const char* p = buf.data();
    const char* end = p + got;
    while ((p = static_cast<const char*>(
                std::memchr(p, '\n', static_cast<std::size_t>(end - p)))) != nullptr) {
      ++lines;
      ++p;
    }
    if (got > 0) last = buf[got - 1];
    if (got < buf.size()) break;
  }
  if (last != '\n') ++lines;
  src.rewind();
  return lines;
}

}  // namespace softreg::detail
