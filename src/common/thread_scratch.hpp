// ThreadScratch: the per-thread state of the kernels, in one documented place.
#pragma once

#include <cstddef>
#include <type_traits>
#include <vector>

namespace softreg::detail {

/// Scratch rows owned by one thread (a pool worker or a calling thread): the streamed softmax
/// and cross-entropy rows keep their exponentials here while the output is written with
/// non-temporal stores. Each buffer grows to the longest row the thread has served (rows of at
/// most kOnlineRowBytes, so at most 256 KiB plus padding per type) and lives as long as the
/// thread. A kernel asks for mine() and uses the row only within one call; nothing else holds
/// a pointer to it, so results never depend on which thread ran which rows.
class ThreadScratch {
 public:
  /// The calling thread's scratch.
  static ThreadScratch& mine() {
    thread_local ThreadScratch scratch;
    return scratch;
  }

  /// A row of at least n + 64 entries of T (float or double); the contents are unspecified.
  template <class T>
  T* row(std::size_t n) {
    std::vector<T>& buffer = buffer_of<T>();
    if (buffer.size() < n + 64) buffer.resize(n + 64);
    return buffer.data();
  }

 private:
  template <class T>
  std::vector<T>& buffer_of() {
    if constexpr (std::is_same_v<T, float>) {
      return f32_;
    } else {
      return f64_;
    }
  }

  std::vector<float> f32_;
  std::vector<double> f64_;
};

}  // namespace softreg::detail
