// Tests that change the library's worker count put it back, whatever happens in between.
#pragma once

#include "softreg/threads.hpp"

namespace softreg_test {

/// Restores the worker count it found when it goes out of scope.
class ThreadCountGuard {
 public:
  ThreadCountGuard() : saved_(softreg::get_num_threads()) {}
  ~ThreadCountGuard() { softreg::set_num_threads(saved_); }
  ThreadCountGuard(const ThreadCountGuard&) = delete;
  ThreadCountGuard& operator=(const ThreadCountGuard&) = delete;

 private:
  int saved_;
};

}  // namespace softreg_test
