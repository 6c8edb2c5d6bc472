// Static fork-join over a fixed number of workers, with exceptions carried back to the caller.
#pragma once

#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "softreg/threads.hpp"

namespace softreg::detail {

/// 0 means the library's worker count (softreg::get_num_threads()); anything else is taken as
/// given.
inline int resolve_threads(int threads) { return threads > 0 ? threads : get_num_threads(); }

/// Calls work(t) for t in [0, workers) on that many threads (the caller runs t = 0) and waits.
/// The first exception thrown by any worker is rethrown here after all have finished.
template <class Work>
void fork_join(int workers, Work&& work) {
  if (workers <= 1) {
    work(0);
    return;
  }
  std::exception_ptr error;
  std::mutex error_mutex;
  auto guarded = [&](int t) {
    try {
      work(t);
    } catch (...) {
      const std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(workers - 1));
  for (int t = 1; t < workers; ++t) pool.emplace_back(guarded, t);
  guarded(0);
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace softreg::detail
