// The process-wide worker count (include/softreg/threads.hpp).
#include "softreg/threads.hpp"

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

#include "softreg/error.hpp"

namespace softreg {
namespace {

int default_threads() {
  if (const char* env = std::getenv("SOFTREG_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n > 0 && n <= 4096) return static_cast<int>(n);
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

std::atomic<int>& current() {
  static std::atomic<int> count{default_threads()};
  return count;
}

}  // namespace

void set_num_threads(int n) {
  if (n < 0) {
    throw InvalidArgument("set_num_threads: expected a thread count >= 0 (0 = default), got " +
                          std::to_string(n));
  }
  current().store(n == 0 ? default_threads() : n, std::memory_order_relaxed);
}

int get_num_threads() {
  return current().load(std::memory_order_relaxed);
}

}  // namespace softreg
