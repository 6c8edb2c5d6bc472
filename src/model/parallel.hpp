// Fork-join over a fixed number of workers (on the shared pool), with exceptions carried back.
#pragma once

#include <functional>
#include <utility>

#include "common/thread_pool.hpp"
#include "softreg/threads.hpp"

namespace softreg::detail {

/// 0 means the library's worker count (softreg::get_num_threads()); anything else is taken as
/// given.
inline int resolve_threads(int threads) {
  return threads > 0 ? threads : get_num_threads();
}

/// Calls work(t) for t in [0, workers) on that many threads (the caller runs t = 0) and waits.
/// The first exception thrown by any worker is rethrown here after all have finished.
template <class Work>
void fork_join(int workers, Work&& work) {
  parallel_run(workers, std::function<void(int)>(std::forward<Work>(work)));
}

}  // namespace softreg::detail
