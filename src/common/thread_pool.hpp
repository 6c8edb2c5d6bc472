// Persistent worker threads shared by the kernels, the objective and prediction.
//
// parallel_run(workers, work) calls work(t) for t in [0, workers), the calling thread taking
// t = 0, and returns when all have finished; the first exception any call throws is rethrown.
// The threads are created on first use and kept. A call made while the pool is busy (from
// another user thread, or nested inside a job) runs its parts one after another on the calling
// thread, so the results are the same and nothing deadlocks.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <utility>

#include "softreg/threads.hpp"

namespace softreg::detail {

void parallel_run(int workers, const std::function<void(int)>& work);

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

/// Splits [0, n) into at most `workers` contiguous ranges of at least `grain` items and calls
/// body(begin, end) for each, in parallel. The split only decides who computes what: callers
/// whose output depends on the split must not use it (see fixed_chunks).
template <class Body>
void parallel_for(int workers, std::size_t n, std::size_t grain, Body&& body) {
  if (n == 0) return;
  const std::size_t most = std::max<std::size_t>(1, n / std::max<std::size_t>(grain, 1));
  const int used = static_cast<int>(std::min<std::size_t>(std::size_t(std::max(workers, 1)), most));
  if (used <= 1) {
    body(std::size_t{0}, n);
    return;
  }
  parallel_run(used, [&](int t) {
    const std::size_t begin = n * std::size_t(t) / std::size_t(used);
    const std::size_t end = n * std::size_t(t + 1) / std::size_t(used);
    if (begin < end) body(begin, end);
  });
}

/// The deterministic split: [0, n) in `chunks` contiguous parts, chunk c = [n c / chunks,
/// n (c + 1) / chunks), with `chunks` chosen by the caller from the problem alone (never from
/// the thread count). body(c, begin, end) runs for every chunk, in parallel, grain chunks at
/// least to a worker; the caller keeps one partial result per chunk and combines them in chunk
/// order, so its result is bitwise the same for any number of threads.
template <class Body>
void fixed_chunks(int workers, std::size_t n, std::size_t chunks, std::size_t grain, Body&& body) {
  parallel_for(workers, chunks, grain, [&](std::size_t cb, std::size_t ce) {
    for (std::size_t c = cb; c < ce; ++c) body(c, n * c / chunks, n * (c + 1) / chunks);
  });
}

}  // namespace softreg::detail
