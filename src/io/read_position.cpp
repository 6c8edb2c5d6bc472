// ReadPosition: a thread's current position, kept where ByteSource and LineReader report it.
#include "io/read_position.hpp"

namespace softreg::detail {
namespace {

thread_local ReadPosition* t_current = nullptr;

}  // namespace

ReadPosition::ReadPosition() : previous_(t_current) {
  t_current = this;
}

ReadPosition::~ReadPosition() {
  t_current = previous_;
}

void ReadPosition::opened(const std::string& path) {
  if (ReadPosition* p = t_current) {
    p->path_ = path;
    p->byte_ = 0;
    p->line_ = 0;
  }
}

void ReadPosition::at_byte(std::uint64_t byte) {
  if (ReadPosition* p = t_current) p->byte_ = byte;
}

void ReadPosition::at_line(std::size_t line, std::uint64_t byte) {
  if (ReadPosition* p = t_current) {
    p->line_ = line;
    p->byte_ = byte;
  }
}

std::string ReadPosition::out_of_memory() const {
  if (path_.empty()) return {};
  const std::string where =
      line_ > 0 ? "line " + std::to_string(line_) + " (byte " + std::to_string(byte_) + ")"
                : "byte " + std::to_string(byte_);
  return path_ + ": out of memory at " + where + " while reading it";
}

}  // namespace softreg::detail
